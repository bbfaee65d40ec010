//! `/account/{id}/members`: list and filter, change a role inline, remove, leave.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::model::{self as members, Cursor, MemberRow};
use crate::accounts::model::{self as accounts, AccountRole};
use crate::audit::Event;
use crate::authz::AccountPerm;
use crate::authz::account::may_assign;
use crate::db::{DbConn, write_tx};
use crate::users::model::User;
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, Shell, client_ip, db, is_htmx, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/members", web::get().to(list))
        .route(
            "/account/{account_id}/members/{user_id}/role",
            web::post().to(change_role),
        )
        .route(
            "/account/{account_id}/members/{user_id}/remove",
            web::post().to(remove),
        )
        .route("/account/{account_id}/leave", web::post().to(leave));
}

pub const LAST_OWNER: &str = "An account must keep at least one Owner.";
pub const ABOVE_OWN_ROLE: &str = "You cannot give or change a role above your own.";
pub const REMOVE_SELF: &str = "Use “Leave account” to leave.";

/// What the viewer may do, for rendering rows.
#[derive(Clone)]
pub struct Viewer {
    pub user_id: String,
    pub role: AccountRole,
    pub can_update: bool,
    pub can_remove: bool,
}

impl Viewer {
    fn of(ctx: &AccountCtx) -> Self {
        Viewer {
            user_id: ctx.auth.user.id.clone(),
            role: ctx.role,
            can_update: ctx.can(AccountPerm::UpdateMembership),
            can_remove: ctx.can(AccountPerm::DeleteMembership),
        }
    }

    /// Roles this viewer may pick for `row` (empty when they may not change it).
    pub fn choices(&self, row: &MemberRow) -> Vec<AccountRole> {
        if !self.can_update || !may_assign(self.role, row.role) {
            return Vec::new();
        }
        [AccountRole::Owner, AccountRole::Admin, AccountRole::Member]
            .into_iter()
            .filter(|r| may_assign(self.role, *r))
            .collect()
    }

    pub fn may_remove(&self, row: &MemberRow) -> bool {
        self.can_remove && row.user_id != self.user_id && may_assign(self.role, row.role)
    }
}

pub fn when(t: &Option<chrono::NaiveDateTime>) -> String {
    match t {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "Never".into(),
    }
}

#[derive(Template)]
#[template(path = "members/_row.html")]
struct RowFragment {
    account_id: String,
    csrf: String,
    viewer: Viewer,
    m: MemberRow,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "members/index.html")]
struct MembersPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    personal: bool,
    csrf: String,
    viewer: Viewer,
    can_invite: bool,
    invite_roles: Vec<AccountRole>,
    rows: Vec<MemberRow>,
    total: i64,
    q: String,
    /// The first and last handles shown ("Previous" and "Next" page around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "members/_table.html")]
struct TableFragment {
    account_id: String,
    csrf: String,
    viewer: Viewer,
    rows: Vec<MemberRow>,
    total: i64,
    q: String,
    /// The first and last handles shown ("Previous" and "Next" page around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    /// "Next": the page after this handle.
    #[serde(default)]
    after: Option<String>,
    /// "Previous": the page before this handle.
    #[serde(default)]
    before: Option<String>,
}

pub fn invite_roles(role: AccountRole) -> Vec<AccountRole> {
    [AccountRole::Member, AccountRole::Admin, AccountRole::Owner]
        .into_iter()
        .filter(|r| may_assign(role, *r))
        .collect()
}

async fn list(
    req: HttpRequest,
    ctx: AccountCtx,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    // A handle is at most 100 characters; anything longer is not one.
    let bounded = |h: &Option<String>| h.as_ref().map(|h| h.chars().take(100).collect::<String>());
    let cursor = match (bounded(&query.after), bounded(&query.before)) {
        (Some(h), _) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::After(h),
        (_, Some(h)) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::Before(h),
        _ => Cursor::First,
    };
    render_list(&req, ctx, &query.q, &cursor, None, None, StatusCode::OK).await
}

async fn render_list(
    req: &HttpRequest,
    ctx: AccountCtx,
    q: &str,
    cursor: &Cursor,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    let q: String = q.chars().take(100).collect();
    let (id, q2, cursor) = (ctx.account.id.clone(), q.clone(), cursor.clone());
    let page = db(&ctx.auth.pool, move |c| {
        Ok(members::page(c, &id, &q2, &cursor)?)
    })
    .await?;
    let (first, last) = (
        page.rows
            .first()
            .map(|r| r.handle.clone())
            .unwrap_or_default(),
        page.rows
            .last()
            .map(|r| r.handle.clone())
            .unwrap_or_default(),
    );
    let viewer = Viewer::of(&ctx);
    let fragment = is_htmx(req)
        && req
            .headers()
            .get("HX-Target")
            .is_some_and(|v| v.as_bytes() == b"members-table");
    if fragment {
        return render(
            status,
            &TableFragment {
                account_id: ctx.account.id.clone(),
                csrf: ctx.auth.shell.csrf.clone(),
                viewer,
                rows: page.rows,
                total: page.total,
                q,
                first,
                last,
                has_prev: page.has_prev,
                has_next: page.has_next,
            },
        );
    }
    render(
        status,
        &MembersPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            personal: ctx.account.is_personal(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_invite: ctx.can(AccountPerm::CreateInvitation),
            invite_roles: invite_roles(ctx.role),
            viewer,
            rows: page.rows,
            total: page.total,
            q,
            first,
            last,
            has_prev: page.has_prev,
            has_next: page.has_next,
            message,
            error,
            shell: ctx.auth.shell.at("members"),
        },
    )
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

/// The outcome of a guarded membership change.
pub enum Change {
    Done(Option<MemberRow>),
    Refused(&'static str),
    NoSuchMember,
}

fn actor_role(
    c: &mut DbConn,
    account_id: &str,
    user_id: &str,
) -> Result<Option<AccountRole>, AppError> {
    Ok(accounts::role_of(c, account_id, user_id)?)
}

/// Changes `target_id`'s account role in one transaction, deciding with the roles as they
/// are inside it: nobody assigns or changes a role above their own, the last Owner stays.
pub fn change_role_tx(
    c: &mut DbConn,
    account_id: &str,
    actor: &User,
    target_id: &str,
    new_role: AccountRole,
    ip: String,
) -> Result<Change, AppError> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        // Re-read both roles inside the transaction: the decision uses current data.
        let Some(me) = actor_role(c, account_id, &actor.id)? else {
            return Err(AppError::NotFound);
        };
        if !crate::authz::PermSet::of_role(me).has(AccountPerm::UpdateMembership) {
            return Err(AppError::Forbidden);
        }
        let Some(before) = members::row(c, account_id, target_id)? else {
            return Ok(Change::NoSuchMember);
        };
        if new_role == AccountRole::Collaborator
            || !may_assign(me, new_role)
            || !may_assign(me, before.role)
        {
            return Ok(Change::Refused(ABOVE_OWN_ROLE));
        }
        if before.role == new_role {
            return Ok(Change::Done(Some(before)));
        }
        if before.role == AccountRole::Owner && accounts::count_owners(c, account_id)? <= 1 {
            return Ok(Change::Refused(LAST_OWNER));
        }
        accounts::set_role(c, account_id, target_id, new_role)?;
        Event::new(
            "atrium.member.role_changed",
            crate::audit::Actor::user(actor),
            "user",
            Some(target_id.into()),
            before.handle.clone(),
        )
        .account(account_id)
        .ip(ip)
        .payload(json!({ "from": before.role.as_str(), "to": new_role.as_str() }))
        .record(c)?;
        Ok(Change::Done(members::row(c, account_id, target_id)?))
    })
}

async fn change_role(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::UpdateMembership)?;
    let (_, target) = path.into_inner();
    let new_role = AccountRole::parse(&form.role);
    let (id, actor, ip) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let target2 = target.clone();
    let outcome = match new_role {
        None => Change::Refused("Choose Owner, Admin or Member."),
        Some(role) => {
            db(&ctx.auth.pool, move |c| {
                change_role_tx(c, &id, &actor, &target2, role, ip)
            })
            .await?
        }
    };
    respond_row(&req, ctx, &target, outcome, "Role saved.").await
}

async fn respond_row(
    req: &HttpRequest,
    ctx: AccountCtx,
    target: &str,
    outcome: Change,
    done_message: &str,
) -> Result<HttpResponse, AppError> {
    let htmx = is_htmx(req);
    let back = format!("/account/{}/members", ctx.account.id);
    match outcome {
        Change::NoSuchMember => Err(AppError::NotFound),
        Change::Done(row) if htmx => {
            let Some(m) = row else {
                return Ok(HttpResponse::Ok().body(""));
            };
            // The viewer's own role may have changed (an Owner demoting themselves).
            let (id, uid) = (ctx.account.id.clone(), ctx.auth.user.id.clone());
            let me = db(&ctx.auth.pool, move |c| {
                Ok(accounts::role_of(c, &id, &uid)?)
            })
            .await?;
            let mut viewer = Viewer::of(&ctx);
            if let Some(me) = me {
                viewer.role = me;
                let perms = crate::authz::PermSet::of_role(me);
                viewer.can_update = perms.has(AccountPerm::UpdateMembership);
                viewer.can_remove = perms.has(AccountPerm::DeleteMembership);
            }
            render(
                StatusCode::OK,
                &RowFragment {
                    account_id: ctx.account.id.clone(),
                    csrf: ctx.auth.shell.csrf.clone(),
                    viewer,
                    m,
                    message: Some(done_message.into()),
                    error: None,
                },
            )
        }
        Change::Done(_) => Ok(redirect(req, &back)),
        Change::Refused(why) if htmx => {
            let (id, t) = (ctx.account.id.clone(), target.to_string());
            let row = db(&ctx.auth.pool, move |c| Ok(members::row(c, &id, &t)?))
                .await?
                .ok_or(AppError::NotFound)?;
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RowFragment {
                    account_id: ctx.account.id.clone(),
                    csrf: ctx.auth.shell.csrf.clone(),
                    viewer: Viewer::of(&ctx),
                    m: row,
                    message: None,
                    error: Some(why.into()),
                },
            )
        }
        Change::Refused(why) => {
            render_list(
                req,
                ctx,
                "",
                &Cursor::First,
                None,
                Some(why.into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn remove(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::DeleteMembership)?;
    let (_, target) = path.into_inner();
    let (id, actor, ip, t) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
        target.clone(),
    );
    let outcome = db(&ctx.auth.pool, move |c| {
        remove_member_tx(c, &id, &actor, &t, ip)
    })
    .await?;
    match outcome {
        Change::Done(_) if !is_htmx(&req) => {
            render_list(
                &req,
                ctx,
                "",
                &Cursor::First,
                Some("Member removed.".into()),
                None,
                StatusCode::OK,
            )
            .await
        }
        other => respond_row(&req, ctx, &target, other, "Member removed.").await,
    }
}

/// Removes `target_id` from the account in one transaction (with their workspace accesses),
/// recorded as `atrium.member.removed`. Refused for oneself, above one's own role, and for
/// the last Owner.
pub fn remove_member_tx(
    c: &mut DbConn,
    id: &str,
    actor: &User,
    t: &str,
    ip: String,
) -> Result<Change, AppError> {
    write_tx(c, |c| {
        accounts::lock(c, id)?;
        let Some(me) = actor_role(c, id, &actor.id)? else {
            return Err(AppError::NotFound);
        };
        let Some(before) = members::row(c, id, t)? else {
            return Ok(Change::NoSuchMember);
        };
        if t == actor.id {
            return Ok(Change::Refused(REMOVE_SELF));
        }
        if !may_assign(me, before.role) {
            return Ok(Change::Refused(ABOVE_OWN_ROLE));
        }
        if before.role == AccountRole::Owner && accounts::count_owners(c, id)? <= 1 {
            return Ok(Change::Refused(LAST_OWNER));
        }
        remove_membership(c, id, t)?;
        Event::new(
            "atrium.member.removed",
            crate::audit::Actor::user(actor),
            "user",
            Some(t.to_string()),
            before.handle.clone(),
        )
        .account(id.to_string())
        .ip(ip)
        .payload(json!({ "role": before.role.as_str(), "email": before.email }))
        .record(c)?;
        Ok(Change::Done(None))
    })
}

/// Removes a membership and what hangs on it in this account (workspace accesses join
/// here when workspaces exist). Pending invitations the person sent stop working because
/// acceptance checks that the inviter may still invite.
pub fn remove_membership(c: &mut DbConn, account_id: &str, user_id: &str) -> Result<(), AppError> {
    crate::workspaces::model::remove_user_accesses_in_account(c, account_id, user_id)?;
    accounts::remove_member(c, account_id, user_id)?;
    Ok(())
}

async fn leave(req: HttpRequest, ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    if ctx.account.is_personal() {
        return render_list(
            &req,
            ctx,
            "",
            &Cursor::First,
            None,
            Some("You cannot leave your personal account.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let (id, actor, ip) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let outcome = db(&ctx.auth.pool, move |c| {
        write_tx(c, |c| {
            accounts::lock(c, &id)?;
            let Some(me) = actor_role(c, &id, &actor.id)? else {
                return Ok(Change::NoSuchMember);
            };
            if me == AccountRole::Owner && accounts::count_owners(c, &id)? <= 1 {
                return Ok(Change::Refused(
                    "You are the last Owner. Make someone else an Owner before you leave.",
                ));
            }
            remove_membership(c, &id, &actor.id)?;
            Event::new(
                "atrium.member.left",
                crate::audit::Actor::user(&actor),
                "user",
                Some(actor.id.clone()),
                actor.handle.clone(),
            )
            .account(id.clone())
            .ip(ip)
            .payload(json!({ "role": me.as_str() }))
            .record(c)?;
            Ok(Change::Done(None))
        })
    })
    .await?;
    match outcome {
        Change::Done(_) | Change::NoSuchMember => Ok(redirect(&req, "/")),
        Change::Refused(why) => {
            render_list(
                &req,
                ctx,
                "",
                &Cursor::First,
                None,
                Some(why.into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
