//! Workspace sharing, Members panel: users with an own role; add an account member with a
//! role; change a role inline; remove. Nobody grants a role with scopes they do not have.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::model::{self as workspaces, UserAccess, WorkspaceRole};
use crate::audit::{Actor, Event};
use crate::db::{DbConn, write_tx};
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, Shell, client_ip, db, is_htmx, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members",
        web::get().to(panel),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members",
        web::post().to(add),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/invite",
        web::post().to(invite),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/role",
        web::post().to(change),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/remove",
        web::post().to(remove),
    );
}

use super::access::ActorRef;
pub use super::grants::ABOVE_OWN;
use super::grants::Granter;

#[derive(Template)]
#[template(path = "workspaces/members.html")]
struct PanelPage {
    shell: Shell,
    base: String,
    csrf: String,
    can_manage: bool,
    rows: Vec<UserAccess>,
    /// Users with a role here (all pages).
    total: i64,
    /// `?after=` for the next page, when there is one.
    next: Option<String>,
    /// This page starts after the first one.
    paged: bool,
    roles: Vec<WorkspaceRole>,
    /// The account members to pick from, when the account is small enough for a list;
    /// `None`: a field for a handle or an e-mail address instead.
    candidates: Option<Vec<(String, String)>>,
    /// The pick list is empty: everyone already has a role here.
    nobody_to_add: bool,
    error: Option<String>,
    notice: Option<String>,
}

/// Rows of the members panel per page.
pub const PANEL_PAGE: i64 = 50;
/// Up to this many account members, "Add a member" offers a list; above, a field.
pub const PICK_LIST_MAX: i64 = 200;

#[derive(Template)]
#[template(path = "workspaces/_member_row.html")]
struct RowFragment {
    base: String,
    csrf: String,
    can_manage: bool,
    a: UserAccess,
    roles: Vec<WorkspaceRole>,
    message: Option<String>,
    error: Option<String>,
}

fn base(ctx: &WorkspaceCtx) -> String {
    format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id)
}

/// Roles the viewer may give: those whose scopes they hold themselves.
fn grantable(ctx: &WorkspaceCtx, roles: Vec<WorkspaceRole>) -> Vec<WorkspaceRole> {
    workspaces::grantable(&ctx.scopes, roles)
}

#[derive(Deserialize, Default)]
struct PanelQuery {
    /// Handle of the last row of the previous page.
    #[serde(default)]
    after: String,
}

async fn show(
    ctx: WorkspaceCtx,
    after: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let can_manage = ctx.has("manage_workspace_users");
    // The account's total came with it (kept by the database).
    let member_count = ctx.account.member_count;
    let after: String = after.chars().take(100).collect();
    let a2 = after.clone();
    // Every statement here is bounded: one page of rows (keyset), a count of index entries,
    // and the pick list only for accounts small enough to list.
    let (mut rows, total, roles, candidates) = db(&ctx.auth.pool, move |c| {
        let rows = workspaces::user_accesses_page(c, &wid, &a2, PANEL_PAGE + 1)?;
        let total = workspaces::count_user_accesses(c, &wid)?;
        let roles = workspaces::roles_for_account(c, &aid)?;
        let candidates = if can_manage && member_count <= PICK_LIST_MAX {
            Some(workspaces::members_without_access(c, &aid, &wid)?)
        } else {
            None
        };
        Ok((rows, total, roles, candidates))
    })
    .await?;
    let next = if rows.len() as i64 > PANEL_PAGE {
        rows.truncate(PANEL_PAGE as usize);
        rows.last().map(|r| r.handle.clone())
    } else {
        None
    };
    let roles = grantable(&ctx, roles);
    render(
        status,
        &PanelPage {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            can_manage,
            rows,
            total,
            next,
            paged: !after.is_empty(),
            roles,
            nobody_to_add: candidates.as_ref().is_some_and(Vec::is_empty),
            candidates,
            error,
            notice,
            shell: ctx.auth.shell.at("workspace-members"),
        },
    )
}

async fn panel(ctx: WorkspaceCtx, query: web::Query<PanelQuery>) -> Result<HttpResponse, AppError> {
    show(ctx, query.into_inner().after, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct AddForm {
    /// From the pick list (small accounts).
    #[serde(default)]
    user_id: String,
    /// Typed handle or e-mail address (large accounts).
    #[serde(default)]
    member: String,
    #[serde(default)]
    role_id: String,
}

pub enum Outcome {
    Done,
    Refused(&'static str),
}

pub const ROLE_CHOICE: &str = "Choose a role of this account.";
pub const NOT_A_MEMBER: &str = "Only members of the account can be added.";

/// Grants (or changes) a user's role, inside one transaction, re-checking under the lock.
fn grant_tx(
    c: &mut DbConn,
    ws: &workspaces::Workspace,
    actor: &crate::users::model::User,
    user_id: &str,
    role_id: &str,
    ip: String,
) -> Result<Outcome, AppError> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, ActorRef::User(&actor.id))? else {
            return Err(AppError::NotFound);
        };
        grant(c, &g, ws, Actor::user(actor), user_id, role_id, ip)
    })
}

/// Gives `user_id` the role `role_id` on the workspace (insert or change), inside the
/// caller's transaction with the account locked: the role must be one of the account's,
/// the user a member, and the granter must hold every scope of the new role and of the role
/// it replaces (`g`, their scopes read in this transaction: [`Granter::load`], once per
/// transaction however many grants it makes). Recorded as
/// `atrium.workspace_access.granted` or `….role_changed`.
pub fn grant(
    c: &mut DbConn,
    g: &Granter,
    ws: &workspaces::Workspace,
    actor: Actor,
    user_id: &str,
    role_id: &str,
    ip: String,
) -> Result<Outcome, AppError> {
    {
        let Some(role) = workspaces::role(c, role_id)?.filter(|r| {
            r.account_id.is_none() || r.account_id.as_deref() == Some(ws.account_id.as_str())
        }) else {
            return Ok(Outcome::Refused(ROLE_CHOICE));
        };
        if !g.may_give(&role) {
            return Ok(Outcome::Refused(ABOVE_OWN));
        }
        if crate::members::ops::role_of(c, &ws.account_id, user_id)?.is_none() {
            return Ok(Outcome::Refused(NOT_A_MEMBER));
        }
        let before = workspaces::user_access(c, &ws.id, user_id)?;
        if !g.may_replace(c, before.as_ref().map(|b| b.role_id.as_str()))? {
            return Ok(Outcome::Refused(ABOVE_OWN));
        }
        if before.as_ref().is_some_and(|b| b.role_id == role.id) {
            // The same role again: nothing changes, nothing is recorded.
            return Ok(Outcome::Done);
        }
        workspaces::set_user_access(c, &ws.id, user_id, &role.id)?;
        let after = workspaces::user_access(c, &ws.id, user_id)?;
        let handle = after.as_ref().map(|a| a.handle.clone()).unwrap_or_default();
        Event::new(
            if before.is_some() {
                "atrium.workspace_access.role_changed"
            } else {
                "atrium.workspace_access.granted"
            },
            actor,
            "user",
            Some(user_id.into()),
            handle,
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({ "from": before.map(|b| b.role_name), "to": role.name }))
        .record(c)?;
        Ok(Outcome::Done)
    }
}

async fn add(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let (ws, actor, ip) = (
        ctx.workspace.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let (uid, who, rid) = (
        form.user_id.clone(),
        form.member.clone(),
        form.role_id.clone(),
    );
    let outcome = db(&ctx.auth.pool, move |c| {
        let uid = if uid.is_empty() && !who.trim().is_empty() {
            match workspaces::member_by_handle_or_email(c, &ws.account_id, &who)? {
                Some(id) => id,
                None => return Ok(Outcome::Refused(NOT_A_MEMBER)),
            }
        } else {
            uid
        };
        grant_tx(c, &ws, &actor, &uid, &rid, ip)
    })
    .await?;
    match outcome {
        Outcome::Done => Ok(redirect(&req, &format!("{}/settings/members", base(&ctx)))),
        Outcome::Refused(why) => {
            show(
                ctx,
                String::new(),
                Some(why.into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role_id: String,
}

async fn change(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let (_, _, user_id) = path.into_inner();
    let (ws, actor, ip) = (
        ctx.workspace.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let (uid, rid) = (user_id.clone(), form.role_id.clone());
    let exists = {
        let (wid, uid) = (ctx.workspace.id.clone(), user_id.clone());
        db(&ctx.auth.pool, move |c| {
            Ok(workspaces::user_access(c, &wid, &uid)?)
        })
        .await?
    };
    if exists.is_none() {
        return Err(AppError::NotFound);
    }
    let outcome = db(&ctx.auth.pool, move |c| {
        grant_tx(c, &ws, &actor, &uid, &rid, ip)
    })
    .await?;
    if !is_htmx(&req) {
        return match outcome {
            Outcome::Done => Ok(redirect(&req, &format!("{}/settings/members", base(&ctx)))),
            Outcome::Refused(why) => {
                show(
                    ctx,
                    String::new(),
                    Some(why.into()),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        };
    }
    let (aid, wid, uid) = (
        ctx.account.id.clone(),
        ctx.workspace.id.clone(),
        user_id.clone(),
    );
    let (roles, current) = db(&ctx.auth.pool, move |c| {
        Ok((
            workspaces::roles_for_account(c, &aid)?,
            workspaces::user_access(c, &wid, &uid)?,
        ))
    })
    .await?;
    let a = current.ok_or(AppError::NotFound)?;
    let roles = grantable(&ctx, roles);
    let (status, message, error) = match outcome {
        Outcome::Done => (StatusCode::OK, Some("Role saved.".to_string()), None),
        Outcome::Refused(why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(why.to_string()),
        ),
    };
    render(
        status,
        &RowFragment {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            can_manage: true,
            a,
            roles,
            message,
            error,
        },
    )
}

async fn remove(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let (_, _, user_id) = path.into_inner();
    let (ws, actor, ip) = (
        ctx.workspace.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let refused = db(&ctx.auth.pool, move |c| {
        revoke_tx(
            c,
            ActorRef::User(&actor.id),
            &ws,
            Actor::user(&actor),
            &user_id,
            ip,
        )
    })
    .await?;
    match refused {
        Some(why) => {
            show(
                ctx,
                String::new(),
                Some(why.into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        None if is_htmx(&req) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("")),
        None => {
            show(
                ctx,
                String::new(),
                None,
                Some("Access removed.".into()),
                StatusCode::OK,
            )
            .await
        }
    }
}

/// Removes `user_id`'s access to the workspace in one transaction (404 when they have
/// none); refused when the role they hold has scopes the remover lacks. A Collaborator
/// whose last access in the account this was stops being a member. Recorded as
/// `atrium.workspace_access.revoked`.
pub fn revoke_tx(
    c: &mut DbConn,
    granter: ActorRef<'_>,
    ws: &workspaces::Workspace,
    actor: Actor,
    user_id: &str,
    ip: String,
) -> Result<Option<&'static str>, AppError> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let Some(before) = workspaces::user_access(c, &ws.id, user_id)? else {
            return Err(AppError::NotFound);
        };
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, granter)? else {
            return Err(AppError::NotFound);
        };
        if !g.may_replace(c, Some(&before.role_id))? {
            return Ok(Some(ABOVE_OWN));
        }
        workspaces::remove_user_access(c, &ws.id, user_id)?;
        workspaces::drop_collaborator_without_access(c, &ws.account_id, user_id)?;
        Event::new(
            "atrium.workspace_access.revoked",
            actor,
            "user",
            Some(user_id.to_string()),
            before.handle.clone(),
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({ "role": before.role_name }))
        .record(c)?;
        Ok(None)
    })
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// Invite by e-mail as a Collaborator of the account with a role on this workspace.
async fn invite(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<crate::settings::AppConfig>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let email = match crate::users::domain::Email::parse(&form.email) {
        Ok(e) => e,
        Err(msg) => {
            return show(
                ctx,
                String::new(),
                Some(msg.into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (account, wid, actor, ip, rid) = (
        ctx.account.clone(),
        ctx.workspace.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
        form.role_id.clone(),
    );
    let cfg2 = cfg.clone();
    let email2 = email.clone();
    let outcome = db(&ctx.auth.pool, move |c| {
        write_tx(c, |c| {
            crate::accounts::model::lock(c, &account.id)?;
            let Some(role) = workspaces::role(c, &rid)?.filter(|r| {
                r.account_id.is_none() || r.account_id.as_deref() == Some(account.id.as_str())
            }) else {
                return Ok(Err(ROLE_CHOICE));
            };
            let Some(g) = Granter::load(c, &account.id, &wid, ActorRef::User(&actor.id))? else {
                return Err(AppError::NotFound);
            };
            if !g.has("manage_workspace_users") || !g.may_give(&role) {
                return Ok(Err(ABOVE_OWN));
            }
            if crate::invitations::model::is_member_email(c, &account.id, email2.normalized())? {
                return Ok(Err(
                    "Already a member of the account: add them with the form above.",
                ));
            }
            let replaced = crate::invitations::ops::invite_to_workspace(
                c, &cfg2, &account, &wid, &role.id, &email2, &actor, &ip,
            )?;
            Ok(Ok(replaced))
        })
    })
    .await?;
    match outcome {
        Ok(replaced) => {
            let msg = if replaced {
                format!(
                    "Invitation sent to {}; it replaces the earlier pending one.",
                    email.as_str()
                )
            } else {
                format!("Invitation sent to {}.", email.as_str())
            };
            show(ctx, String::new(), None, Some(msg), StatusCode::OK).await
        }
        Err(why) => {
            show(
                ctx,
                String::new(),
                Some(why.into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
