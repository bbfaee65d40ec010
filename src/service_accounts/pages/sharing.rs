//! Workspace sharing, Service Accounts panel
//! (`/account/{a}/workspace/{w}/settings/service-accounts`): the account's service
//! accounts with a role here; add one with a role; change a role inline (htmx, the row is
//! re-rendered, a refusal shown in it); remove. `see_workspace_service_accounts` to see it
//! (404 otherwise), `manage_workspace_service_accounts` to change it (403 otherwise).
//! Nobody gives a role with scopes they do not hold ([`crate::service_accounts::ops::grant`]).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Refusal, refusal};
use crate::apikeys::KeyHolder;
use crate::ids::ServiceAccountId;
use crate::service_accounts::ops::{self, BotAccess, Grant, Who};
use crate::web::ctx::WorkspaceActing;
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, Shell, db, is_htmx, redirect, render};
use crate::workspaces::ops::{self as workspaces, WorkspaceRole};

const SEE: &str = "see_workspace_service_accounts";
const MANAGE: &str = "manage_workspace_service_accounts";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts",
        web::get().to(panel),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts",
        web::post().to(add),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/role",
        web::post().to(change),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/remove",
        web::post().to(remove),
    );
}

#[derive(Template)]
#[template(path = "service_accounts/workspace.html")]
struct PanelPage {
    shell: Shell,
    base: String,
    csrf: String,
    account_id: String,
    can_manage: bool,
    rows: Vec<BotAccess>,
    roles: Vec<WorkspaceRole>,
    candidates: Vec<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "service_accounts/_access_row.html")]
struct RowFragment {
    base: String,
    csrf: String,
    can_manage: bool,
    a: BotAccess,
    roles: Vec<WorkspaceRole>,
    message: Option<String>,
    error: Option<String>,
}

/// Is `role_id` among the roles the select offers? (If not, the current role is shown as
/// a disabled option: the viewer may not give it.)
pub fn role_listed(roles: &[WorkspaceRole], role_id: &str) -> bool {
    roles.iter().any(|r| r.id == role_id)
}

fn base(ctx: &WorkspaceCtx) -> String {
    format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id)
}

fn panel_path(ctx: &WorkspaceCtx) -> String {
    format!("{}/settings/service-accounts", base(ctx))
}

/// The operations' caller: the signed-in user, from where the page was asked.
fn who(a: &WorkspaceActing) -> Who {
    Who {
        holder: KeyHolder::User(a.user.clone()),
        ip: a.ip.clone(),
    }
}

async fn show(
    ctx: WorkspaceCtx,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let (rows, roles, candidates) = db(&ctx.auth.pool, move |c| {
        Ok((
            ops::bot_accesses(c, &wid)?,
            workspaces::roles_for_account(c, &aid)?,
            ops::without_access(c, &aid, &wid)?,
        ))
    })
    .await?;
    render(
        status,
        &PanelPage {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            account_id: ctx.account.id.clone(),
            can_manage: ctx.has(MANAGE),
            roles: workspaces::grantable(&ctx.scopes, roles),
            rows,
            candidates,
            error,
            notice,
            shell: ctx.auth.shell.at("workspace-service-accounts"),
        },
    )
}

async fn panel(ctx: WorkspaceCtx) -> Result<HttpResponse, AppError> {
    show(ctx, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    service_account_id: String,
    #[serde(default)]
    role_id: String,
}

/// The message of a refused change, for the page.
fn message(r: Refusal) -> String {
    match r {
        Refusal::Message(m) => m.to_string(),
        Refusal::Fields(f) => {
            f.0.into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

async fn add(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let grants = [Grant {
        service_account_id: form.service_account_id.clone(),
        role_id: form.role_id.clone(),
    }];
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::grant(c, &who(a), &a.account.id, &a.workspace.id, &grants)
        })
        .await?;
    match result {
        Ok(_) => Ok(redirect(&req, &panel_path(&ctx))),
        Err(e) => {
            let why = message(refusal(e)?);
            show(ctx, Some(why), None, StatusCode::UNPROCESSABLE_ENTITY).await
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
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let (_, _, sa_id) = path.into_inner();
    let (id, grants) = (
        sa_id.clone(),
        [Grant {
            service_account_id: sa_id.clone(),
            role_id: form.role_id.clone(),
        }],
    );
    // Only a service account that has a role here can have it changed.
    let result = ctx
        .try_op(&req, move |c, a| {
            if ops::bot_access(c, &a.workspace.id, &id)?.is_none() {
                return Err(crate::outcome::Refusal::NotFound.into());
            }
            ops::grant(c, &who(a), &a.account.id, &a.workspace.id, &grants)
        })
        .await?;
    let outcome = match result {
        Ok(_) => Ok(()),
        Err(e) => Err(message(refusal(e)?)),
    };
    if !is_htmx(&req) {
        return match outcome {
            Ok(()) => Ok(redirect(&req, &panel_path(&ctx))),
            Err(why) => show(ctx, Some(why), None, StatusCode::UNPROCESSABLE_ENTITY).await,
        };
    }
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let (roles, current) = db(&ctx.auth.pool, move |c| {
        Ok((
            workspaces::roles_for_account(c, &aid)?,
            ops::bot_access(c, &wid, &sa_id)?,
        ))
    })
    .await?;
    let a = current.ok_or(AppError::NotFound)?;
    let (status, message, error) = match outcome {
        Ok(()) => (StatusCode::OK, Some("Role saved.".to_string()), None),
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(why)),
    };
    render(
        status,
        &RowFragment {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            can_manage: true,
            roles: workspaces::grantable(&ctx.scopes, roles),
            a,
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
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let id = ServiceAccountId::parse(&path.2).ok_or(AppError::NotFound)?;
    let sa_id = id.clone();
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::revoke(c, &who(a), &a.account.id, &a.workspace.id, &id)
        })
        .await?;
    match result {
        Ok(_) if is_htmx(&req) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("")),
        Ok(before) => {
            show(
                ctx,
                None,
                Some(format!("“{}” no longer has a role here.", before.name)),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let why = message(refusal(e)?);
            if is_htmx(&req) {
                let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
                let (roles, current) = db(&ctx.auth.pool, move |c| {
                    Ok((
                        workspaces::roles_for_account(c, &aid)?,
                        ops::bot_access(c, &wid, sa_id.as_str())?,
                    ))
                })
                .await?;
                let a = current.ok_or(AppError::NotFound)?;
                return render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &RowFragment {
                        base: base(&ctx),
                        csrf: ctx.auth.shell.csrf.clone(),
                        can_manage: true,
                        roles: workspaces::grantable(&ctx.scopes, roles),
                        a,
                        message: None,
                        error: Some(why),
                    },
                );
            }
            show(ctx, Some(why), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
