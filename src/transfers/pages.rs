//! Transfer pages: the transfer form with its live preview (htmx) under Workspace
//! Settings, and the account's Transfers page where target admins approve or decline
//! requests and source admins cancel them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Decision, Preview, Submitted, TransferError, TransferRequest};
use crate::accounts::ops::Account;
use crate::authz::AccountRole;
use crate::authz::account::AccountPerm;
use crate::servers::pages::{Reach, Where};
use crate::settings::AppConfig;
use crate::web::ctx::AccountCtx;
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, is_htmx, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    let ws = "/account/{account_id}/workspace/{workspace_id}/settings/transfer";
    cfg.route(ws, web::get().to(show))
        .route(ws, web::post().to(submit))
        .route(
            "/account/{account_id}/workspace/{workspace_id}/settings/transfer/preview",
            web::get().to(preview_fragment),
        )
        .route(
            "/account/{account_id}/transfers",
            web::get().to(requests_page),
        )
        .route(
            "/account/{account_id}/transfers/{transfer_id}/approve",
            web::post().to(approve),
        )
        .route(
            "/account/{account_id}/transfers/{transfer_id}/decline",
            web::post().to(decline),
        )
        .route(
            "/account/{account_id}/transfers/{transfer_id}/cancel",
            web::post().to(cancel),
        );
}

#[derive(Deserialize, Default, Clone)]
pub struct TransferForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    new_handle: String,
}

/// One account the user may pick as the target.
pub struct TargetOption {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "transfers/_preview.html")]
struct PreviewFragment {
    preview: Option<Preview>,
    needs_approval: bool,
    runs: Option<Runs>,
}

/// What the target's flow run retention does to the workspace's flow runs: a sentence,
/// and whether it warns (runs go).
struct Runs {
    text: String,
    warns: bool,
}

/// Counts, on the workspace's server, the flow runs the target's retention removes (a
/// managed server is started for it: the count is what the transfer does).
async fn runs_for(
    ctx: &WorkspaceCtx,
    preview: Option<&Preview>,
    reach: &Reach,
) -> Result<Option<Runs>, AppError> {
    let Some(p) = preview else {
        return Ok(None);
    };
    let (days, target) = (p.target.flow_run_retention_days, &p.target.name);
    let period = format!("{days} day{}", if days == 1 { "" } else { "s" });
    let note = |text: String, warns: bool| Ok(Some(Runs { text, warns }));
    if days >= ctx.account.flow_run_retention_days {
        return note(
            format!(
                "None removed: {target} keeps flow runs for {period}, at least as long as now."
            ),
            false,
        );
    }
    let unknown = |why: String| {
        note(
            format!(
                "{target} keeps flow runs for {period}; how many ended earlier could not be \
                 counted ({why}). Those are removed after the transfer."
            ),
            true,
        )
    };
    match reach.place_of(&ctx.auth.pool, &ctx.workspace.id).await? {
        Where::At(Some(_), _) | Where::Unreachable(Some(_), _) => note(
            format!(
                "This workspace's Prefect server was connected by hand: its own settings \
                 decide how long it keeps flow runs, not {target}'s."
            ),
            false,
        ),
        Where::NoServer => note(
            "None: no Prefect server holds data for this workspace.".into(),
            false,
        ),
        Where::Unreachable(None, why) => unknown(why),
        Where::At(None, place) => {
            match crate::servers::view::removed_by(&reach.up.http, &place, days).await {
                Ok(0) => note(
                    format!(
                        "None removed: no flow run ended more than {period} ago \
                         ({target} keeps flow runs for {period})."
                    ),
                    false,
                ),
                Ok(n) => note(
                    format!(
                        "{n} flow run{} ended more than {period} ago: {target} keeps flow \
                         runs for {period}, so {} removed after the transfer.",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "it is" } else { "they are" }
                    ),
                    true,
                ),
                Err(why) => unknown(why),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "transfers/transfer.html")]
struct TransferPage {
    shell: Shell,
    base: String,
    workspace_name: String,
    workspace_handle: String,
    account_name: String,
    targets: Vec<TargetOption>,
    form: TransferForm,
    errors: FieldErrors,
    fragment: PreviewFragment,
    open_request: Option<TransferRequest>,
    notice: Option<String>,
}

/// Only those who may transfer (`delete:workspace` in the source) get past this.
fn require_initiator(ctx: &WorkspaceCtx) -> Result<(), AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    if ops::may_initiate(ctx.account_role) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// The accounts the user may pick, the preview for the chosen one, and whether moving
/// there needs an admin's approval (the user is not Owner/Admin of it).
async fn compute(
    ctx: &WorkspaceCtx,
    form: &TransferForm,
) -> Result<(Vec<(Account, AccountRole)>, Option<Preview>, bool), AppError> {
    let (uid, source, ws, form) = (
        ctx.auth.user.id.clone(),
        ctx.account.id.clone(),
        ctx.workspace.clone(),
        form.clone(),
    );
    db(&ctx.auth.pool, move |c| {
        let targets = ops::targets_for(c, &uid, &source)?;
        let preview = match targets.iter().find(|(a, _)| a.id == form.target) {
            Some((a, _)) => Some(ops::preview(c, &ws, a, &form.new_handle)?),
            None => None,
        };
        let needs_approval = targets
            .iter()
            .find(|(a, _)| a.id == form.target)
            .is_some_and(|(_, r)| !ops::may_receive(Some(*r)));
        Ok((targets, preview, needs_approval))
    })
    .await
}

async fn page(
    ctx: WorkspaceCtx,
    reach: &Reach,
    form: TransferForm,
    mut errors: FieldErrors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (targets, preview, needs_approval) = compute(&ctx, &form).await?;
    let runs = runs_for(&ctx, preview.as_ref(), reach).await?;
    let wid = ctx.workspace.id.clone();
    let open_request = db(&ctx.auth.pool, move |c| {
        Ok(ops::open_for_workspace(c, &wid)?)
    })
    .await?;
    if let Some(p) = &preview {
        for (field, msg) in &p.problems {
            if !errors.has(field) {
                errors.add(field_name(field), msg.clone());
            }
        }
    }
    let base = format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id);
    render(
        status,
        &TransferPage {
            base,
            workspace_name: ctx.workspace.name.clone(),
            workspace_handle: ctx.workspace.handle.clone(),
            account_name: ctx.account.name.clone(),
            targets: targets
                .iter()
                .map(|(a, r)| TargetOption {
                    id: a.id.clone(),
                    label: if ops::may_receive(Some(*r)) {
                        format!("{} ({})", a.name, a.handle)
                    } else {
                        format!("{} ({}) — needs an admin's approval", a.name, a.handle)
                    },
                })
                .collect(),
            form,
            errors,
            fragment: PreviewFragment {
                preview,
                needs_approval,
                runs,
            },
            open_request,
            notice,
            shell: ctx.auth.shell.at("workspace-settings"),
        },
    )
}

/// Form field names for the preview's problems (the API calls the target `to_account_id`).
fn field_name(f: &str) -> &'static str {
    if f == "new_handle" {
        "new_handle"
    } else {
        "target"
    }
}

async fn show(
    ctx: WorkspaceCtx,
    reach: Reach,
    q: web::Query<TransferForm>,
) -> Result<HttpResponse, AppError> {
    require_initiator(&ctx)?;
    page(
        ctx,
        &reach,
        q.into_inner(),
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn preview_fragment(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    reach: Reach,
    q: web::Query<TransferForm>,
) -> Result<HttpResponse, AppError> {
    require_initiator(&ctx)?;
    if !is_htmx(&req) {
        let q = q.into_inner();
        return page(ctx, &reach, q, FieldErrors::default(), None, StatusCode::OK).await;
    }
    let form = q.into_inner();
    let (_, preview, needs_approval) = compute(&ctx, &form).await?;
    let runs = runs_for(&ctx, preview.as_ref(), &reach).await?;
    render(
        StatusCode::OK,
        &PreviewFragment {
            preview,
            needs_approval,
            runs,
        },
    )
}

async fn submit(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    reach: Reach,
    form: web::Form<TransferForm>,
) -> Result<HttpResponse, AppError> {
    require_initiator(&ctx)?;
    let form = form.into_inner();
    // Only the list of targets here: the preview is computed once, under the locks.
    let (uid, src) = (ctx.auth.user.id.clone(), ctx.account.id.clone());
    let targets = db(&ctx.auth.pool, move |c| {
        Ok(ops::targets_for(c, &uid, &src)?)
    })
    .await?;
    let Some((target, role)) = targets.into_iter().find(|(a, _)| a.id == form.target) else {
        let mut errors = FieldErrors::default();
        errors.add("target", "Choose the account to transfer the workspace to.");
        return page(
            ctx,
            &reach,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (source, ws_id, user, ip) = (
        ctx.account.id.clone(),
        ctx.workspace.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let new_handle = form.new_handle.clone();
    let base_url = cfg.base();
    // Owner/Admin of the target: moved at once. Otherwise: a request for its admins.
    let target2 = target.clone();
    let result = db(&ctx.auth.pool, move |c| {
        ops::submit(
            c,
            &source,
            &ws_id,
            &target2,
            role,
            &new_handle,
            &user,
            ip,
            &base_url,
        )
        .map(Ok)
        .or_else(|e| match e {
            TransferError::Db(d) => Err(AppError::from(d)),
            other => Ok(Err(other)),
        })
    })
    .await?;
    match result {
        Ok(Submitted::Moved(p)) => Ok(redirect(
            &req,
            &format!(
                "/account/{}/workspace/{}/settings?notice=transferred",
                p.target.id, p.workspace.id
            ),
        )),
        Ok(Submitted::Requested(r)) => {
            let notice = format!(
                "Transfer requested. An Owner or Admin of {} must approve it by {}.",
                target.name,
                r.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            page(
                ctx,
                &reach,
                TransferForm::default(),
                FieldErrors::default(),
                Some(notice),
                StatusCode::OK,
            )
            .await
        }
        Err(TransferError::Gone) => Err(AppError::NotFound),
        Err(TransferError::Invalid(problems)) => {
            let mut errors = FieldErrors::default();
            for (f, m) in problems {
                errors.add(field_name(f), m);
            }
            page(
                ctx,
                &reach,
                form,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(TransferError::Db(e)) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "transfers/requests.html")]
struct RequestsPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    can_approve: bool,
    incoming: Vec<TransferRequest>,
    outgoing: Vec<TransferRequest>,
    notice: Option<String>,
    error: Option<String>,
}

async fn requests_view(
    ctx: AccountCtx,
    notice: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let aid = ctx.account.id.clone();
    let (incoming, outgoing) = db(&ctx.auth.pool, move |c| {
        Ok((ops::incoming(c, &aid)?, ops::outgoing(c, &aid)?))
    })
    .await?;
    render(
        StatusCode::OK,
        &RequestsPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            can_approve: ctx.can(AccountPerm::CreateWorkspace),
            incoming,
            outgoing,
            notice,
            error,
            shell: ctx.auth.shell.at("transfers"),
        },
    )
}

/// Only Owners and Admins have anything to do here.
fn require_admin(ctx: &AccountCtx) -> Result<(), AppError> {
    if ctx.can(AccountPerm::CreateWorkspace) || ctx.can(AccountPerm::DeleteWorkspace) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn requests_page(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    require_admin(&ctx)?;
    requests_view(ctx, None, None).await
}

/// The request `id`, when it concerns `account_id` on the given side.
async fn load_request(
    ctx: &AccountCtx,
    id: String,
    side: fn(&TransferRequest) -> &str,
) -> Result<TransferRequest, AppError> {
    let aid = ctx.account.id.clone();
    let r = db(&ctx.auth.pool, move |c| Ok(ops::find(c, &id)?)).await?;
    r.filter(|r| side(r) == aid).ok_or(AppError::NotFound)
}

async fn approve(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&ctx)?;
    ctx.require(AccountPerm::CreateWorkspace)?;
    let (_, id) = path.into_inner();
    let r = load_request(&ctx, id, |r| &r.target_account_id).await?;
    let (user, ip) = (ctx.auth.user.clone(), client_ip(&req));
    let decision = db(&ctx.auth.pool, move |c| {
        ops::approve(c, &r.id, &user, Some(ip)).map_err(|e| match e {
            TransferError::Db(d) => AppError::from(d),
            TransferError::Gone => AppError::NotFound,
            TransferError::Invalid(p) => AppError::Internal(anyhow::anyhow!("{p:?}")),
        })
    })
    .await?;
    match decision {
        Decision::Done(p) => Ok(redirect(
            &req,
            &format!(
                "/account/{}/workspace/{}/settings?notice=transferred",
                p.target.id, p.workspace.id
            ),
        )),
        Decision::Failed(why) => {
            requests_view(ctx, None, Some(format!("The transfer failed: {why}"))).await
        }
        Decision::NotOpen(why) => requests_view(ctx, None, Some(why)).await,
    }
}

async fn close_as(
    req: HttpRequest,
    ctx: AccountCtx,
    id: String,
    status: &'static str,
) -> Result<HttpResponse, AppError> {
    let side: fn(&TransferRequest) -> &str = if status == "declined" {
        |r| &r.target_account_id
    } else {
        |r| &r.source_account_id
    };
    let r = load_request(&ctx, id, side).await?;
    let (user, ip) = (ctx.auth.user.clone(), client_ip(&req));
    let closed = db(&ctx.auth.pool, move |c| {
        ops::close_request(c, &r, status, &user, Some(ip)).map_err(|e| match e {
            TransferError::Db(d) => AppError::from(d),
            _ => AppError::NotFound,
        })
    })
    .await?;
    let msg = if closed {
        format!("Transfer request {status}.")
    } else {
        "That request was no longer open.".to_string()
    };
    requests_view(ctx, Some(msg), None).await
}

async fn decline(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&ctx)?;
    ctx.require(AccountPerm::CreateWorkspace)?;
    close_as(req, ctx, path.into_inner().1, "declined").await
}

async fn cancel(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    require_admin(&ctx)?;
    ctx.require(AccountPerm::DeleteWorkspace)?;
    close_as(req, ctx, path.into_inner().1, "cancelled").await
}
