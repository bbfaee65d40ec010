//! Inviting (several addresses at once), the Invitations tab (resend, revoke, copy link),
//! and the invitee's side: the page behind the link, accept, decline, sign up.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::model::{self as invitations, Invitation, NewInvitation, Status};
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::audit::{Actor, Event};
use crate::authz::account::may_assign;
use crate::authz::{AccountPerm, PermSet};
use crate::db::{DbConn, write_tx};
use crate::mail::{self, Delivery, OutgoingMail};
use crate::members::pages::invite_roles;
use crate::settings::AppConfig;
use crate::users::domain::Email;
use crate::users::model::User;
use crate::users::pages::{
    SignupForm, SignupKind, SignupPage, create_user, start_session, validate_signup,
};
use crate::web::ctx::AccountCtx;
use crate::web::ctx::{Auth, MaybeUser};
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, page, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/invitations", web::post().to(invite))
        .route(
            "/account/{account_id}/members/invitations",
            web::get().to(list),
        )
        .route(
            "/account/{account_id}/invitations/{invitation_id}/resend",
            web::post().to(resend),
        )
        .route(
            "/account/{account_id}/invitations/{invitation_id}/revoke",
            web::post().to(revoke),
        )
        .route("/invitations/{invitation_id}", web::get().to(open))
        .route(
            "/invitations/{invitation_id}/accept",
            web::post().to(accept),
        )
        .route(
            "/invitations/{invitation_id}/decline",
            web::post().to(decline),
        )
        .route(
            "/invitations/{invitation_id}/signup",
            web::get().to(signup_page),
        )
        .route(
            "/invitations/{invitation_id}/signup",
            web::post().to(signup),
        );
}

pub const MAX_ADDRESSES: usize = 50;
pub const NO_ADDRESS: &str = "Enter at least one e-mail address.";
pub const ROLE_CHOICE: &str =
    "Choose a role you may give: Member or Admin (Owner only for Owners).";

// ---------- e-mail ----------

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    inviter: &'a str,
    account: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    inviter: &'a str,
    account: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Renders and queues the invitation e-mail (inside the caller's transaction).
/// What the invitation is to ("Acme", or "workspace Production of Acme") and the role's name.
fn target_of(
    c: &mut DbConn,
    inv: &Invitation,
    account: &Account,
) -> Result<(String, String), AppError> {
    match (&inv.workspace_id, &inv.workspace_role_id) {
        (Some(wid), Some(rid)) => {
            let ws = crate::workspaces::model::find(c, &inv.account_id, wid)?
                .ok_or(AppError::NotFound)?;
            let role = crate::workspaces::model::role(c, rid)?
                .map(|r| r.name)
                .unwrap_or_else(|| "a role".into());
            Ok((format!("workspace {} of {}", ws.name, account.name), role))
        }
        _ => Ok((account.name.clone(), inv.role().label().to_string())),
    }
}

fn queue_mail(
    c: &mut DbConn,
    cfg: &AppConfig,
    inv: &Invitation,
    code: &str,
    account: &Account,
) -> Result<(), AppError> {
    let link = invitation_link(cfg, &inv.id, code);
    let expires = inv.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let inviter = one_line(&inv.invited_by_name);
    let (target, role_name) = target_of(c, inv, account)?;
    let account_name = one_line(&target);
    let role = role_name.as_str();
    let text = InvitationText {
        inviter: &inviter,
        account: &account_name,
        role,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(|e| AppError::Internal(anyhow::anyhow!("mail template: {e}")))?;
    let html = InvitationHtml {
        inviter: &inviter,
        account: &account_name,
        role,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(|e| AppError::Internal(anyhow::anyhow!("mail template: {e}")))?;
    mail::enqueue(
        c,
        OutgoingMail {
            kind: "invitation",
            ref_id: Some(inv.id.clone()),
            account_id: Some(account.id.clone()),
            to: inv.email.clone(),
            subject: format!("{inviter} invited you to {account_name} on Atrium"),
            text,
            html,
        },
    )?;
    Ok(())
}

pub fn invitation_link(cfg: &AppConfig, id: &str, code: &str) -> String {
    format!("{}/invitations/{}?code={}", cfg.base(), id, code)
}

fn invitation_event(
    action: &'static str,
    actor: Actor,
    inv: &Invitation,
    ip: &str,
    payload: serde_json::Value,
) -> Event {
    Event::new(
        action,
        actor,
        "invitation",
        Some(inv.id.clone()),
        inv.email.clone(),
    )
    .account(inv.account_id.clone())
    // A workspace invitation's events belong to that workspace too, like its creation.
    .workspace_opt(inv.workspace_id.clone())
    .ip(ip.to_string())
    .payload(payload)
}

// ---------- inviting ----------

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    emails: String,
    #[serde(default)]
    role: String,
}

/// What happened to one address of an invite list.
#[derive(Clone, Debug)]
pub struct AddressResult {
    pub address: String,
    pub ok: bool,
    pub message: String,
}

fn split_addresses(raw: &str) -> Vec<String> {
    let mut seen = Vec::<String>::new();
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .for_each(|s| {
            if !seen.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                seen.push(s.to_string());
            }
        });
    seen
}

async fn invite(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::CreateInvitation)?;
    let addresses = split_addresses(&form.emails);
    let role = AccountRole::parse(&form.role).filter(|r| invite_roles(ctx.role).contains(r));
    let mut form_error = None;
    if addresses.is_empty() {
        form_error = Some(NO_ADDRESS.to_string());
    } else if addresses.len() > MAX_ADDRESSES {
        form_error = Some(format!(
            "Invite at most {MAX_ADDRESSES} addresses at once (you entered {}).",
            addresses.len()
        ));
    } else if role.is_none() {
        form_error = Some(ROLE_CHOICE.to_string());
    }
    let Some(role) = role.filter(|_| form_error.is_none()) else {
        return render_list(
            ctx,
            &cfg,
            Vec::new(),
            form_error,
            Some(form.emails.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (account, inviter, ip, cfg2) = (
        ctx.account.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
        cfg.clone(),
    );
    let results = db(&ctx.auth.pool, move |c| {
        write_tx(c, |c| {
            accounts::lock(c, &account.id)?;
            let mut results = Vec::new();
            for raw in &addresses {
                let email = match Email::parse(raw) {
                    Ok(e) => e,
                    Err(msg) => {
                        results.push(AddressResult {
                            address: raw.clone(),
                            ok: false,
                            message: msg.to_string(),
                        });
                        continue;
                    }
                };
                let message = match invite_address(c, &cfg2, &account, &email, role, &inviter, &ip)?
                {
                    Invited::AlreadyMember => {
                        results.push(AddressResult {
                            address: raw.clone(),
                            ok: false,
                            message: ALREADY_MEMBER.into(),
                        });
                        continue;
                    }
                    Invited::Sent { replaced: true, .. } => {
                        "Invitation sent; it replaces the earlier pending one.".to_string()
                    }
                    Invited::Sent {
                        replaced: false, ..
                    } => "Invitation sent.".to_string(),
                };
                results.push(AddressResult {
                    address: raw.clone(),
                    ok: true,
                    message,
                });
            }
            Ok::<_, AppError>(results)
        })
    })
    .await?;
    let any_failed = results.iter().any(|r| !r.ok);
    let leftover = if any_failed {
        Some(
            results
                .iter()
                .filter(|r| !r.ok)
                .map(|r| r.address.clone())
                .collect::<Vec<_>>()
                .join(", "),
        )
    } else {
        None
    };
    // Nothing sent at all (every address refused): the form was refused, 422.
    let status = if results.iter().any(|r| r.ok) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_list(ctx, &cfg, results, None, leftover, status).await
}

pub const ALREADY_MEMBER: &str = "Already a member of this account.";

/// What inviting one address did.
pub enum Invited {
    AlreadyMember,
    Sent {
        inv: Box<Invitation>,
        replaced: bool,
    },
}

/// Invites one address to the account with `role` (inside the caller's transaction, with
/// the account locked): a pending invitation for the same address is revoked and replaced,
/// the e-mail is queued in the outbox, `atrium.invitation.created` is recorded.
pub fn invite_address(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    email: &Email,
    role: AccountRole,
    inviter: &User,
    ip: &str,
) -> Result<Invited, AppError> {
    if invitations::is_member_email(c, &account.id, email.normalized())? {
        return Ok(Invited::AlreadyMember);
    }
    let mut replaced = false;
    if let Some(old) = invitations::pending_for(c, &account.id, email.normalized(), None)? {
        invitations::respond(c, &old.id, "revoked", None)?;
        mail::cancel_pending(c, &old.id)?;
        replaced = true;
    }
    let (inv, code) = invitations::create(
        c,
        &cfg.link_key,
        &NewInvitation {
            account_id: &account.id,
            email: email.as_str(),
            email_normalized: email.normalized(),
            role,
            invited_by: &inviter.id,
            invited_by_name: &inviter.display_name(),
            ttl: cfg.settings.invitation_ttl,
            workspace: None,
        },
    )?;
    crate::faults::point("invite_after_row");
    queue_mail(c, cfg, &inv, &code, account)?;
    invitation_event(
        "atrium.invitation.created",
        Actor::user(inviter),
        &inv,
        ip,
        json!({ "email": inv.email, "role": role.as_str() }),
    )
    .record(c)?;
    crate::faults::point("invite_before_commit");
    Ok(Invited::Sent {
        inv: Box::new(inv),
        replaced,
    })
}

// ---------- the Invitations tab ----------

pub struct InvitationRow {
    pub inv: Invitation,
    pub status: Status,
    pub delivery: String,
    pub delivery_badge: &'static str,
    pub link: Option<String>,
}

#[derive(Template)]
#[template(path = "invitations/index.html")]
struct InvitationsPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    csrf: String,
    can_invite: bool,
    can_update: bool,
    invite_roles: Vec<AccountRole>,
    rows: Vec<InvitationRow>,
    results: Vec<AddressResult>,
    form_error: Option<String>,
    emails: String,
}

fn delivery_text(d: Option<&Delivery>, status: Status) -> (String, &'static str) {
    if status != Status::Pending && status != Status::Expired {
        return match d {
            Some(Delivery::Sent) => ("Delivered".into(), "badge-success"),
            _ => ("—".into(), "badge-muted"),
        };
    }
    match d {
        None | Some(Delivery::Queued) => ("Sending".into(), "badge-info"),
        Some(Delivery::Sent) => ("Delivered".into(), "badge-success"),
        Some(Delivery::Failing { attempts, .. }) => (
            format!("Failing (attempt {attempts}), retrying"),
            "badge-warning",
        ),
        Some(Delivery::Failed { .. }) => ("Failed".into(), "badge-danger"),
        Some(Delivery::Cancelled) => ("Cancelled".into(), "badge-muted"),
    }
}

async fn render_list(
    ctx: AccountCtx,
    cfg: &AppConfig,
    results: Vec<AddressResult>,
    form_error: Option<String>,
    emails: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    let id = ctx.account.id.clone();
    let (invs, states) = db(&ctx.auth.pool, move |c| {
        let invs = invitations::list(c, &id, 500)?;
        let ids: Vec<String> = invs.iter().map(|i| i.id.clone()).collect();
        let states = mail::delivery_states(c, &ids)?;
        Ok((invs, states))
    })
    .await?;
    let can_update = ctx.can(AccountPerm::UpdateInvitation);
    let rows = invs
        .into_iter()
        .map(|inv| {
            let status = inv.status();
            let (delivery, delivery_badge) = delivery_text(states.get(&inv.id), status);
            let link = (can_update && status == Status::Pending).then(|| {
                invitation_link(
                    cfg,
                    &inv.id,
                    &invitations::code_for(&cfg.link_key, &inv.code_salt),
                )
            });
            InvitationRow {
                inv,
                status,
                delivery,
                delivery_badge,
                link,
            }
        })
        .collect();
    render(
        status,
        &InvitationsPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_invite: ctx.can(AccountPerm::CreateInvitation),
            can_update,
            invite_roles: invite_roles(ctx.role),
            rows,
            results,
            form_error,
            emails: emails.unwrap_or_default(),
            shell: ctx.auth.shell.at("members"),
        },
    )
}

async fn list(ctx: AccountCtx, cfg: web::Data<AppConfig>) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    render_list(ctx, &cfg, Vec::new(), None, None, StatusCode::OK).await
}

async fn resend(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    ctx.require(AccountPerm::UpdateInvitation)?;
    let (_, iid) = path.into_inner();
    let (account, actor, ip, cfg2) = (
        ctx.account.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
        cfg.clone(),
    );
    db(&ctx.auth.pool, move |c| {
        write_tx(c, |c| {
            let inv = invitations::find(c, &iid)?
                .filter(|i| i.account_id == account.id)
                .ok_or(AppError::NotFound)?;
            if inv.status != "pending" {
                return Err(AppError::NotFound);
            }
            let code =
                invitations::renew(c, &cfg2.link_key, &inv.id, cfg2.settings.invitation_ttl)?;
            mail::cancel_pending(c, &inv.id)?;
            let inv = invitations::find(c, &inv.id)?.ok_or(AppError::NotFound)?;
            queue_mail(c, &cfg2, &inv, &code, &account)?;
            invitation_event(
                "atrium.invitation.resent",
                Actor::user(&actor),
                &inv,
                &ip,
                json!({}),
            )
            .record(c)?;
            Ok(())
        })
    })
    .await?;
    Ok(redirect(
        &req,
        &format!("/account/{}/members/invitations", ctx.account.id),
    ))
}

async fn revoke(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    ctx.require(AccountPerm::UpdateInvitation)?;
    let (_, iid) = path.into_inner();
    let (account_id, actor, ip) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    db(&ctx.auth.pool, move |c| {
        revoke_tx(c, &account_id, &iid, Actor::user(&actor), &ip)
    })
    .await?;
    Ok(redirect(
        &req,
        &format!("/account/{}/members/invitations", ctx.account.id),
    ))
}

/// Revokes the account's invitation `iid` in one transaction (its queued e-mail is
/// cancelled, `atrium.invitation.revoked` recorded). Not pending any more: nothing to do.
pub fn revoke_tx(
    c: &mut DbConn,
    account_id: &str,
    iid: &str,
    actor: Actor,
    ip: &str,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        // Under the account lock, like acceptance: an invitee accepting at the same moment
        // then sees either the invitation revoked or themselves already joined.
        accounts::lock(c, account_id)?;
        let inv = invitations::find(c, iid)?
            .filter(|i| i.account_id == account_id)
            .ok_or(AppError::NotFound)?;
        if invitations::respond(c, &inv.id, "revoked", None)? {
            mail::cancel_pending(c, &inv.id)?;
            invitation_event("atrium.invitation.revoked", actor, &inv, ip, json!({})).record(c)?;
        }
        Ok(())
    })
}

// ---------- the invitee's side ----------

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// Why an invitation cannot be used, in words for the invitee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    Invalid,
    Expired,
    Revoked,
    Declined,
    Used,
    InviterLostRight,
}

impl Unusable {
    pub fn title(self) -> &'static str {
        match self {
            Unusable::Invalid => "This invitation link is not valid",
            Unusable::Expired => "This invitation has expired",
            Unusable::Revoked => "This invitation was withdrawn",
            Unusable::Declined => "This invitation was declined",
            Unusable::Used => "This invitation has already been used",
            Unusable::InviterLostRight => "This invitation is no longer valid",
        }
    }
}

/// An invitation checked against its code, with the account and what keeps it from use.
struct Checked {
    inv: Invitation,
    account: Account,
    problem: Option<Unusable>,
}

fn check(c: &mut DbConn, id: &str, code: &str) -> Result<Option<Checked>, AppError> {
    let Some(inv) = invitations::find(c, id)? else {
        return Ok(None);
    };
    if !inv.code_matches(code) {
        return Ok(None);
    }
    let Some(account) = accounts::find(c, &inv.account_id)? else {
        return Ok(None);
    };
    let problem = match inv.status() {
        Status::Accepted => Some(Unusable::Used),
        Status::Declined => Some(Unusable::Declined),
        Status::Revoked => Some(Unusable::Revoked),
        Status::Expired => Some(Unusable::Expired),
        Status::Pending => {
            // The sender must still be allowed to invite with this role: for a workspace
            // invitation, still manage its members and hold every scope of the role
            // (`workspaces::grants`, read in this transaction).
            let ok = match (&inv.invited_by, &inv.workspace_id) {
                (None, _) => false,
                (Some(uid), Some(wid)) => {
                    match crate::workspaces::grants::Granter::load(
                        c,
                        &inv.account_id,
                        wid,
                        crate::workspaces::access::ActorRef::User(uid),
                    )? {
                        Some(g) if g.has("manage_workspace_users") => {
                            match inv.workspace_role_id.as_deref() {
                                Some(rid) => crate::workspaces::model::role(c, rid)?
                                    .is_some_and(|r| g.may_give(&r)),
                                None => false,
                            }
                        }
                        _ => false,
                    }
                }
                (Some(uid), None) => accounts::role_of(c, &inv.account_id, uid)?.is_some_and(|r| {
                    PermSet::of_role(r).has(AccountPerm::CreateInvitation)
                        && may_assign(r, inv.role())
                }),
            };
            if ok {
                None
            } else {
                Some(Unusable::InviterLostRight)
            }
        }
    };
    Ok(Some(Checked {
        inv,
        account,
        problem,
    }))
}

#[derive(Template)]
#[template(path = "invitations/open.html")]
struct OpenPage {
    csrf: String,
    id: String,
    code: String,
    account_name: String,
    inviter: String,
    role: String,
    email: String,
    expires: String,
    problem: Option<Unusable>,
    /// The logged-in user's e-mail, when someone is logged in.
    current: Option<String>,
    matches: bool,
    next: String,
}

async fn open(
    mu: MaybeUser,
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code) = (id.clone(), q.code.clone());
    let checked = db(&mu.pool, move |c| check(c, &id2, &code)).await?;
    let next = format!("/invitations/{}?code={}", id, url_encode(&q.code));
    let Some(ch) = checked else {
        return render(
            StatusCode::NOT_FOUND,
            &problem_page(mu.csrf, &id, Unusable::Invalid),
        );
    };
    let current = mu.user.as_ref().map(|u| u.email.clone());
    let matches = mu
        .user
        .as_ref()
        .is_some_and(|u| u.email_normalized == ch.inv.email_normalized);
    let status = if ch.problem.is_some() {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    render(
        status,
        &OpenPage {
            csrf: mu.csrf,
            id,
            code: q.code.clone(),
            account_name: {
                let (inv, account) = (ch.inv.clone(), ch.account.clone());
                db(&mu.pool, move |c| Ok(target_of(c, &inv, &account)?.0)).await?
            },
            inviter: ch.inv.invited_by_name.clone(),
            role: ch.inv.role().label().into(),
            email: ch.inv.email.clone(),
            expires: ch.inv.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            problem: ch.problem,
            current,
            matches,
            next,
        },
    )
}

fn problem_page(csrf: String, id: &str, p: Unusable) -> OpenPage {
    OpenPage {
        csrf,
        id: id.into(),
        code: String::new(),
        account_name: String::new(),
        inviter: String::new(),
        role: String::new(),
        email: String::new(),
        expires: String::new(),
        problem: Some(p),
        current: None,
        matches: false,
        next: "/".into(),
    }
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

/// Outcome of accepting.
#[derive(Debug)]
pub enum Accepted {
    Joined(String),
    AlreadyMember(String),
    WrongUser,
    Problem(Unusable),
}

/// Where the invitee lands: the workspace, or the account's members page.
fn destination(inv: &Invitation) -> String {
    match &inv.workspace_id {
        Some(w) => format!("/account/{}/workspace/{w}/dashboard", inv.account_id),
        None => format!("/account/{}/members", inv.account_id),
    }
}

/// Accepts invitation `id` with `code` as `user` in one write transaction: checks again
/// under the account lock, marks the invitation accepted only if it is still pending,
/// creates the membership.
pub fn accept_invitation(
    c: &mut DbConn,
    id: &str,
    code: &str,
    user: &User,
    ip: &str,
) -> Result<Accepted, AppError> {
    write_tx(c, |c| accept_tx(c, id, code, user, ip))
}

fn accept_tx(
    c: &mut DbConn,
    id: &str,
    code: &str,
    user: &User,
    ip: &str,
) -> Result<Accepted, AppError> {
    let Some(first) = invitations::find(c, id)? else {
        return Ok(Accepted::Problem(Unusable::Invalid));
    };
    accounts::lock(c, &first.account_id)?;
    let Some(ch) = check(c, id, code)? else {
        return Ok(Accepted::Problem(Unusable::Invalid));
    };
    if ch.inv.email_normalized != user.email_normalized {
        return Ok(Accepted::WrongUser);
    }
    if let Some(p) = ch.problem {
        if p == Unusable::Used && ch.inv.accepted_by.as_deref() == Some(user.id.as_str()) {
            return Ok(Accepted::AlreadyMember(destination(&ch.inv)));
        }
        return Ok(Accepted::Problem(p));
    }
    if !invitations::respond(c, &ch.inv.id, "accepted", Some(&user.id))? {
        // Answered by someone else since it was read: say how.
        let problem = match check(c, id, code)?.and_then(|ch| ch.problem) {
            Some(p) => p,
            None => Unusable::Used,
        };
        return Ok(Accepted::Problem(problem));
    }
    crate::faults::point("accept_after_respond");
    if accounts::role_of(c, &ch.account.id, &user.id)?.is_none() {
        accounts::add_member(c, &ch.account.id, &user.id, ch.inv.role())?;
    }
    if let (Some(wid), Some(rid)) = (&ch.inv.workspace_id, &ch.inv.workspace_role_id) {
        crate::workspaces::model::set_user_access(c, wid, &user.id, rid)?;
    }
    // The invitee opened a link sent to this address: it is theirs (issue #19, point 5).
    crate::users::model::mark_verified(c, &user.id)?;
    invitation_event(
        "atrium.invitation.accepted",
        Actor::user(user),
        &ch.inv,
        ip,
        json!({ "role": ch.inv.role, "user_id": user.id }),
    )
    .record(c)?;
    crate::faults::point("accept_before_commit");
    Ok(Accepted::Joined(destination(&ch.inv)))
}

async fn accept(
    req: HttpRequest,
    auth: Auth,
    path: web::Path<String>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code, user, ip) = (
        id.clone(),
        form.code.clone(),
        auth.user.clone(),
        client_ip(&req),
    );
    let outcome = db(&auth.pool, move |c| {
        accept_invitation(c, &id2, &code, &user, &ip)
    })
    .await?;
    match outcome {
        Accepted::Joined(to) | Accepted::AlreadyMember(to) => Ok(redirect(&req, &to)),
        Accepted::WrongUser => Ok(redirect(
            &req,
            &format!("/invitations/{}?code={}", id, url_encode(&form.code)),
        )),
        Accepted::Problem(p) => render(
            StatusCode::GONE,
            &problem_page(auth.shell.csrf.clone(), &id, p),
        ),
    }
}

async fn decline(
    req: HttpRequest,
    mu: MaybeUser,
    path: web::Path<String>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code, user, ip) = (
        id.clone(),
        form.code.clone(),
        mu.user.clone(),
        client_ip(&req),
    );
    let problem = db(&mu.pool, move |c| {
        write_tx(c, |c| {
            let Some(ch) = check(c, &id2, &code)? else {
                return Ok(Some(Unusable::Invalid));
            };
            if let Some(p) = ch.problem {
                return Ok(Some(p));
            }
            if invitations::respond(c, &ch.inv.id, "declined", None)? {
                let actor = match &user {
                    Some(u) => Actor::user(u),
                    None => Actor::Anonymous {
                        label: ch.inv.email.clone(),
                    },
                };
                invitation_event("atrium.invitation.declined", actor, &ch.inv, &ip, json!({}))
                    .record(c)?;
            }
            Ok::<_, AppError>(None)
        })
    })
    .await?;
    match problem {
        Some(p) => render(StatusCode::GONE, &problem_page(mu.csrf, &id, p)),
        None => render(
            StatusCode::OK,
            &problem_page(mu.csrf, &id, Unusable::Declined),
        ),
    }
}

async fn signup_page(
    mu: MaybeUser,
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code) = (id.clone(), q.code.clone());
    let checked = db(&mu.pool, move |c| check(c, &id2, &code)).await?;
    let Some(ch) = checked.filter(|ch| ch.problem.is_none()) else {
        return render(
            StatusCode::NOT_FOUND,
            &problem_page(mu.csrf, &id, Unusable::Invalid),
        );
    };
    let email = ch.inv.email_normalized.clone();
    let unverified_holder = db(&mu.pool, move |c| {
        Ok(crate::users::model::find_by_email(c, &email)?.is_some_and(|u| !u.is_verified()))
    })
    .await?;
    let mut p = invite_signup_page(
        mu.csrf,
        &ch.inv,
        &q.code,
        SignupForm::default(),
        FieldErrors::default(),
    );
    p.replaces_unverified = unverified_holder;
    page(&p)
}

fn invite_signup_page(
    csrf: String,
    inv: &Invitation,
    code: &str,
    mut form: SignupForm,
    errors: FieldErrors,
) -> SignupPage {
    form.email = inv.email.clone();
    form.password.clear();
    SignupPage {
        csrf,
        form,
        errors,
        next: None,
        closed: false,
        email_fixed: true,
        action: Some(format!(
            "/invitations/{}/signup?code={}",
            inv.id,
            url_encode(code)
        )),
        replaces_unverified: false,
    }
}

/// Sign-up from an invitation: the e-mail is the invited one (also when sign-up is closed),
/// and the invitation is accepted in the same transaction that creates the user.
async fn signup(
    req: HttpRequest,
    mu: MaybeUser,
    cfg: web::Data<AppConfig>,
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code) = (id.clone(), q.code.clone());
    let checked = db(&mu.pool, move |c| check(c, &id2, &code)).await?;
    let Some(ch) = checked.filter(|ch| ch.problem.is_none()) else {
        return render(
            StatusCode::GONE,
            &problem_page(mu.csrf, &id, Unusable::Invalid),
        );
    };
    let mut form = form.into_inner();
    form.email = ch.inv.email.clone();
    let valid = match validate_signup(&form) {
        Ok(v) => v,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &invite_signup_page(mu.csrf, &ch.inv, &q.code, form, errors),
            );
        }
    };
    let ip = client_ip(&req);
    let (id3, code3, ip3) = (id.clone(), q.code.clone(), ip.clone());
    // An unverified user holding the invited address does not block it: it is replaced
    // in the same transaction (the invitee proves the mailbox by using the link).
    let created = create_user(
        &mu.pool,
        cfg,
        valid,
        ip,
        SignupKind::Invited,
        move |c, user| {
            match accept_tx(c, &id3, &code3, user, &ip3)? {
                Accepted::Joined(_) | Accepted::AlreadyMember(_) => Ok(()),
                // Roll the whole sign-up back: the invitation changed underneath.
                _ => Err(AppError::NotFound),
            }
        },
    )
    .await;
    match created {
        Ok(Ok(user)) => {
            start_session(&mu.session, &user.id)?;
            Ok(redirect(&req, &destination(&ch.inv)))
        }
        Ok(Err(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &invite_signup_page(mu.csrf, &ch.inv, &q.code, form, errors),
        ),
        Err(AppError::NotFound) => render(
            StatusCode::GONE,
            &problem_page(mu.csrf, &id, Unusable::Used),
        ),
        Err(e) => Err(e),
    }
}

/// Invites `email` to one workspace with a workspace role (inside the caller's transaction):
/// a pending invitation for the same address and workspace is replaced. On acceptance the
/// person becomes a Collaborator of the account (unless already a member) with that role.
#[allow(clippy::too_many_arguments)]
pub fn invite_to_workspace(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    workspace_id: &str,
    role_id: &str,
    email: &Email,
    inviter: &User,
    ip: &str,
) -> Result<bool, AppError> {
    let mut replaced = false;
    if let Some(old) =
        invitations::pending_for(c, &account.id, email.normalized(), Some(workspace_id))?
    {
        invitations::respond(c, &old.id, "revoked", None)?;
        mail::cancel_pending(c, &old.id)?;
        replaced = true;
    }
    let (inv, code) = invitations::create(
        c,
        &cfg.link_key,
        &NewInvitation {
            account_id: &account.id,
            email: email.as_str(),
            email_normalized: email.normalized(),
            role: AccountRole::Collaborator,
            invited_by: &inviter.id,
            invited_by_name: &inviter.display_name(),
            ttl: cfg.settings.invitation_ttl,
            workspace: Some((workspace_id, role_id)),
        },
    )?;
    queue_mail(c, cfg, &inv, &code, account)?;
    Event::new(
        "atrium.invitation.created",
        Actor::user(inviter),
        "invitation",
        Some(inv.id.clone()),
        inv.email.clone(),
    )
    .account(account.id.clone())
    .workspace(workspace_id.to_string())
    .ip(ip.to_string())
    .payload(json!({ "email": inv.email, "workspace_role_id": role_id }))
    .record(c)?;
    Ok(replaced)
}

/// Property tests (issue #9) for the multi-address splitter.
#[cfg(test)]
mod proptests {
    use super::split_addresses;
    use proptest::prelude::*;

    fn list() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z@.,; \\t\\r\\n\u{a0}\u{3000}\u{200b}]{0,80}",
            prop::collection::vec("[a-zA-Z]{1,8}@[a-z]{1,8}\\.(com|org)", 0..8)
                .prop_flat_map(|v| {
                    let n = v.len().saturating_sub(1);
                    (Just(v), prop::collection::vec("[,; \\t\\r\\n]{1,3}", n..=n))
                })
                .prop_map(|(v, seps)| {
                    let mut out = String::new();
                    for (i, a) in v.iter().enumerate() {
                        out.push_str(a);
                        if let Some(s) = seps.get(i) {
                            out.push_str(s);
                        }
                    }
                    out
                }),
        ]
    }

    proptest! {
        #[test]
        fn splitting_never_panics_and_is_idempotent(raw in list()) {
            let parts = split_addresses(&raw);
            for p in &parts {
                prop_assert!(!p.is_empty());
                prop_assert!(!p.chars().any(|c| c == ',' || c == ';' || c.is_whitespace()));
                prop_assert!(raw.contains(p.as_str()));
            }
            // No address twice, whatever its case.
            for (i, a) in parts.iter().enumerate() {
                prop_assert!(!parts[i + 1..].iter().any(|b| b.eq_ignore_ascii_case(a)));
            }
            // Joined again with any separator, the list splits to itself.
            prop_assert_eq!(split_addresses(&parts.join(", ")), parts.clone());
            prop_assert_eq!(split_addresses(&parts.join("\n")), parts.clone());
        }

        #[test]
        fn every_address_typed_is_kept_once(
            v in prop::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.com", 1..10)
        ) {
            let parts = split_addresses(&v.join(" ; "));
            for a in &v {
                prop_assert!(parts.contains(a));
            }
            prop_assert!(parts.len() <= v.len());
        }
    }
}
