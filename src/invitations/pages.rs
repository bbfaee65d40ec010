//! Inviting (several addresses at once), the Invitations tab (resend, revoke, copy link),
//! and the invitee's side: the page behind the link, accept, decline, sign up.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::mail::{invitation_link, target_of};
use super::ops::{
    self, Accepted, AddressResult, Invitation, MAX_ADDRESSES, NO_ADDRESS, ROLE_CHOICE, Status,
    Unusable, accept_invitation, accept_tx, check, destination, split_addresses,
};
use crate::audit::Actor;
use crate::authz::{AccountPerm, AccountRole};
use crate::ids::InvitationId;
use crate::mail::Delivery;
use crate::members::ops::invite_roles;
use crate::settings::AppConfig;
use crate::users::pages::{
    SignupForm, SignupKind, SignupPage, create_user, start_session, validate_signup,
};
use crate::web::ctx::AccountCtx;
use crate::web::ctx::{Auth, MaybeUser};
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, op, page, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/invitations", web::post().to(invite))
        .route(
            "/account/{account_id}/invitations",
            web::get().to(invite_page),
        )
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

// ---------- e-mail ----------

// ---------- inviting ----------

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    emails: String,
    #[serde(default)]
    role: String,
}

/// The invitation form is on the members page.
async fn invite_page(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    Ok(crate::web::back_to(&format!(
        "/account/{}/members",
        ctx.account.id
    )))
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
    let cfg2 = cfg.clone();
    let results = ctx
        .op(&req, move |c, a| {
            ops::invite_many(c, &cfg2, &a.account, &addresses, role, &a.user, &a.ip)
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
    /// The status the list is filtered by ("" for all), and the choices.
    shown: &'static str,
    statuses: [Status; 5],
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

/// The invitation status named in a `?status=` filter (its label in lower case).
fn status_named(name: &str) -> Option<Status> {
    STATUSES
        .into_iter()
        .find(|s| s.label().eq_ignore_ascii_case(name.trim()))
}

const STATUSES: [Status; 5] = [
    Status::Pending,
    Status::Expired,
    Status::Accepted,
    Status::Declined,
    Status::Revoked,
];

async fn render_list(
    ctx: AccountCtx,
    cfg: &AppConfig,
    results: Vec<AddressResult>,
    form_error: Option<String>,
    emails: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    render_filtered(ctx, cfg, results, form_error, emails, status, None).await
}

async fn render_filtered(
    ctx: AccountCtx,
    cfg: &AppConfig,
    results: Vec<AddressResult>,
    form_error: Option<String>,
    emails: Option<String>,
    status: StatusCode,
    only: Option<Status>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    let id = ctx.account.id.clone();
    let (invs, states) = db(&ctx.auth.pool, move |c| {
        Ok(ops::list_with_delivery(c, &id)?)
    })
    .await?;
    let can_update = ctx.can(AccountPerm::UpdateInvitation);
    let rows = invs
        .into_iter()
        .filter(|inv| only.is_none_or(|s| inv.status() == s))
        .map(|inv| {
            let status = inv.status();
            let (delivery, delivery_badge) = delivery_text(states.get(&inv.id), status);
            let link = (can_update && status == Status::Pending).then(|| {
                invitation_link(cfg, &inv.id, &ops::code_for(&cfg.link_key, &inv.code_salt))
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
            shown: only.map_or("", |s| s.label()),
            statuses: STATUSES,
            results,
            form_error,
            emails: emails.unwrap_or_default(),
            shell: ctx.auth.shell.at("members"),
        },
    )
}

#[derive(Deserialize)]
struct ListQuery {
    /// Only the invitations in this status (`pending`, `expired`, …); empty or unknown: all.
    #[serde(default)]
    status: String,
}

async fn list(
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    let only = status_named(&query.status);
    render_filtered(ctx, &cfg, Vec::new(), None, None, StatusCode::OK, only).await
}

async fn resend(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    ctx.require(AccountPerm::UpdateInvitation)?;
    let iid = InvitationId::parse(&path.1).ok_or(AppError::NotFound)?;
    let cfg2 = cfg.clone();
    ctx.op(&req, move |c, a| {
        ops::resend(c, &cfg2, &a.account, &iid, &a.user, &a.ip)
    })
    .await?;
    Ok(crate::web::flash::redirect_noting(
        &req,
        &ctx.auth.session,
        &format!("/account/{}/members/invitations", ctx.account.id),
        "Invitation sent again.",
    ))
}

async fn revoke(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    ctx.require(AccountPerm::UpdateInvitation)?;
    let iid = InvitationId::parse(&path.1).ok_or(AppError::NotFound)?;
    ctx.op(&req, move |c, a| {
        ops::revoke(c, &a.account.key(), &iid, Actor::user(&a.user), &a.ip)
    })
    .await?;
    Ok(crate::web::flash::redirect_noting(
        &req,
        &ctx.auth.session,
        &format!("/account/{}/members/invitations", ctx.account.id),
        "Invitation revoked: its link no longer works.",
    ))
}

// ---------- the invitee's side ----------

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    code: String,
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
    let checked = op(&mu.pool, move |c| check(c, &id2, &code)).await?;
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
    let outcome = op(&auth.pool, move |c| {
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
        Ok(ops::decline(c, &id2, &code, user.as_ref(), &ip)?)
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
    let checked = op(&mu.pool, move |c| check(c, &id2, &code)).await?;
    let Some(ch) = checked.filter(|ch| ch.problem.is_none()) else {
        return render(
            StatusCode::NOT_FOUND,
            &problem_page(mu.csrf, &id, Unusable::Invalid),
        );
    };
    let email = ch.inv.email_normalized.clone();
    let unverified_holder = db(&mu.pool, move |c| {
        Ok(crate::users::ops::find_by_email(c, &email)?.is_some_and(|u| !u.is_verified()))
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
    let checked = op(&mu.pool, move |c| check(c, &id2, &code)).await?;
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
                _ => Err(crate::outcome::Refusal::NotFound.into()),
            }
        },
    )
    .await;
    match created {
        Ok(Ok(user)) => {
            start_session(&req, &mu.session, &user.id)?;
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
