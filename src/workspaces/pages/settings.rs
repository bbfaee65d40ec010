//! Workspace Settings, General: name, handle, description, the default role for everyone
//! in the account ("Anyone at …" or No Access), and the client configuration.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::audit::Actor;
use crate::outcome::{OpError, Refusal};
use crate::settings::AppConfig;
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, FieldErrors, Shell, db, render};
use crate::workspaces::access::ActorRef;
use crate::workspaces::ops::{
    self, DEFAULT_ROLE_CHOICE, NO_ACCESS, WorkspaceForm, WorkspaceRole, validate,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings",
        web::get().to(show),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings",
        web::post().to(save),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/delete",
        web::post().to(delete),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/delete",
        web::get().to(delete_page),
    );
}

/// The delete form is on the settings page.
async fn delete_page(ctx: WorkspaceCtx) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    Ok(crate::web::back_to(&format!(
        "/account/{}/workspace/{}/settings#delete-workspace",
        ctx.account.id, ctx.workspace.id
    )))
}

#[derive(serde::Deserialize, Default, Clone)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default_role: String,
}

#[derive(Template)]
#[template(path = "workspaces/settings.html")]
struct SettingsPage {
    shell: Shell,
    base: String,
    account_name: String,
    can_write: bool,
    name: String,
    handle: String,
    description: String,
    default_role: String,
    roles: Vec<WorkspaceRole>,
    errors: FieldErrors,
    notice: Option<String>,
    login_command: String,
    api_url: String,
    /// `<public url>/api`, for `PREFECT_CLOUD_API_URL`.
    cloud_url: String,
    can_delete: bool,
    workspace_handle: String,
    delete_accesses: i64,
    delete_bot_accesses: i64,
    delete_invitations: i64,
    can_transfer: bool,
}

async fn render_page(
    ctx: WorkspaceCtx,
    cfg: &AppConfig,
    form: Option<SettingsForm>,
    errors: FieldErrors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let (roles, (delete_accesses, delete_bot_accesses, delete_invitations)) =
        db(&ctx.auth.pool, move |c| {
            Ok((
                ops::roles_for_account(c, &aid)?,
                ops::delete_counts(c, &wid)?,
            ))
        })
        .await?;
    let form = form.unwrap_or_else(|| SettingsForm {
        name: ctx.workspace.name.clone(),
        handle: ctx.workspace.handle.clone(),
        description: ctx.workspace.description.clone(),
        default_role: ctx
            .workspace
            .default_role_id
            .clone()
            .unwrap_or_else(|| NO_ACCESS.into()),
    });
    // The default role is offered among the roles the viewer may give (and its current
    // value, which stays selectable so that saving other fields keeps it).
    let current = ctx.workspace.default_role_id.clone();
    let roles: Vec<WorkspaceRole> = roles
        .into_iter()
        .filter(|r| r.grantable_by(&ctx.scopes) || current.as_deref() == Some(r.id.as_str()))
        .collect();
    let base = format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id);
    render(
        status,
        &SettingsPage {
            can_write: ctx.has("write_workspace_settings"),
            account_name: ctx.account.name.clone(),
            // The saved handle: a refused form's value is not the workspace's address.
            login_command: format!(
                "prefect cloud login -k <your API key> --workspace {}/{}",
                ctx.account.handle, ctx.workspace.handle
            ),
            cloud_url: format!("{}/api", cfg.base()),
            api_url: format!(
                "{}/api/accounts/{}/workspaces/{}",
                cfg.base(),
                ctx.account.id,
                ctx.workspace.id
            ),
            can_delete: ctx.has("manage_workspace_settings"),
            workspace_handle: ctx.workspace.handle.clone(),
            delete_accesses,
            delete_bot_accesses,
            delete_invitations,
            can_transfer: crate::transfers::ops::may_initiate(ctx.account_role),
            name: form.name,
            handle: form.handle,
            description: form.description,
            default_role: form.default_role,
            roles,
            errors,
            notice,
            base,
            shell: ctx.auth.shell.at("workspace-settings"),
        },
    )
}

#[derive(serde::Deserialize)]
struct ShowQuery {
    #[serde(default)]
    notice: String,
}

async fn show(
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    q: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    let notice = (q.notice == "transferred").then(|| {
        format!(
            "{} now belongs to {}. Users outside it and the previous account's service accounts lost access.",
            ctx.workspace.name, ctx.account.name
        )
    });
    render_page(
        ctx,
        &cfg,
        None,
        FieldErrors::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

async fn save(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require("write_workspace_settings")?;
    let form = form.into_inner();
    let parsed = validate(&WorkspaceForm {
        account_id: ctx.account.id.clone(),
        name: form.name.clone(),
        handle: form.handle.clone(),
        description: form.description.clone(),
    });
    let mut errors = match &parsed {
        Ok(_) => FieldErrors::default(),
        Err(e) => e.clone(),
    };
    let aid = ctx.account.id.clone();
    let roles = db(&ctx.auth.pool, move |c| {
        Ok(ops::roles_for_account(c, &aid)?)
    })
    .await?;
    let default_role = if form.default_role == NO_ACCESS {
        None
    } else if let Some(r) = roles.iter().find(|r| r.id == form.default_role) {
        Some(r.clone())
    } else {
        errors.add("default_role", DEFAULT_ROLE_CHOICE);
        None
    };
    let valid = match parsed {
        Ok(v) if errors.is_empty() => v,
        _ => {
            return render_page(
                ctx,
                &cfg,
                Some(form),
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let new_default_id = default_role.as_ref().map(|r| r.id.clone());
    let saved = ctx
        .try_op(&req, move |c, a| {
            let (by, actor) = (ActorRef::User(&a.user.id), Actor::user(&a.user));
            ops::save(
                c,
                by,
                &a.workspace,
                &valid,
                new_default_id,
                actor,
                a.ip.clone(),
            )
        })
        .await?;
    match saved {
        Ok(()) => {}
        Err(OpError::Refused(Refusal::Forbidden(Some(why)))) => {
            errors.add("default_role", why.message());
            return render_page(ctx, &cfg, Some(form), errors, None, StatusCode::FORBIDDEN).await;
        }
        Err(OpError::Refused(Refusal::Invalid(fields))) => {
            return render_page(
                ctx,
                &cfg,
                Some(form),
                fields,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    }
    // The page shows the workspace as saved (its new handle in the log-in command).
    let mut ctx = ctx;
    if let Some(w) = ctx.auth.shell.workspace.as_mut() {
        w.name = form.name.trim().to_string();
    }
    ctx.workspace.name = form.name.trim().to_string();
    ctx.workspace.handle = form.handle.trim().to_string();
    render_page(
        ctx,
        &cfg,
        Some(form),
        FieldErrors::default(),
        Some("Workspace settings saved.".into()),
        StatusCode::OK,
    )
    .await
}

#[derive(serde::Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm_handle: String,
}

/// Deletes the workspace after its handle was typed exactly (checked again here), in one
/// transaction, recorded in the account's audit log. Afterwards every URL of it is 404.
async fn delete(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    spawner: web::Data<crate::servers::spawner::Spawner>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require("manage_workspace_settings")?;
    let back = format!(
        "/account/{}/workspace/{}/settings",
        ctx.account.id, ctx.workspace.id
    );
    if let Some(r) =
        crate::web::sudo::require(&req, &ctx.auth.session, &ctx.auth.shell, &cfg, &back)?
    {
        return Ok(r);
    }
    if form.confirm_handle.trim() != ctx.workspace.handle {
        let mut errors = FieldErrors::default();
        errors.add(
            "confirm_handle",
            "Type the workspace handle exactly to confirm.",
        );
        return render_page(
            ctx,
            &cfg,
            None,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    ctx.op(&req, move |c, a| {
        ops::delete(c, &a.workspace, Actor::user(&a.user), a.ip.clone())
    })
    .await?;
    // Its managed Prefect server and that server's data go with it.
    spawner.discard(&ctx.workspace.id).await;
    Ok(crate::web::flash::redirect_noting(
        &req,
        &ctx.auth.session,
        &format!("/account/{}/workspaces", ctx.account.id),
        &format!("Workspace “{}” deleted.", ctx.workspace.name),
    ))
}
