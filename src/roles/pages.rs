//! `/account/{id}/roles`: built-in roles (read-only) and custom workspace roles.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::ops::{self, RoleForm, WorkspaceRole, validate};
use crate::audit::Actor;
use crate::authz::AccountRole;
use crate::authz::account::ACCOUNT_PERMISSIONS;
use crate::authz::workspace::{BuiltinRole, ScopeInfo, ScopeSet, groups};
use crate::authz::{AccountPerm, PermSet};
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, FieldErrors, Shell, db, render, with_fields};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/roles", web::get().to(index))
        .route("/account/{account_id}/roles/new", web::get().to(new_form))
        .route("/account/{account_id}/roles/new", web::post().to(create))
        .route(
            "/account/{account_id}/roles/{role_id}/edit",
            web::get().to(edit_form),
        )
        .route(
            "/account/{account_id}/roles/{role_id}/edit",
            web::post().to(update),
        )
        .route(
            "/account/{account_id}/roles/{role_id}/delete",
            web::post().to(delete),
        );
}

pub struct BuiltinView {
    pub name: &'static str,
    pub description: &'static str,
    pub items: Vec<&'static str>,
    /// A workspace role's scopes by the catalog's groups, with their titles (empty for an
    /// account role).
    pub groups: Vec<(&'static str, Vec<&'static ScopeInfo>)>,
}

#[derive(Template)]
#[template(path = "roles/index.html")]
struct IndexPage {
    shell: Shell,
    account_id: String,
    account_roles: Vec<BuiltinView>,
    workspace_roles: Vec<BuiltinView>,
    custom: Vec<(WorkspaceRole, usize)>,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn account_role_views() -> Vec<BuiltinView> {
    [
        (AccountRole::Owner, "Everything in the account."),
        (
            AccountRole::Admin,
            "Everything but deleting the account, billing and bypassing SSO.",
        ),
        (
            AccountRole::Member,
            "Reads the account, its members, roles, service accounts and workspaces.",
        ),
        (
            AccountRole::Collaborator,
            "No account permissions: only the workspaces shared with them.",
        ),
    ]
    .into_iter()
    .map(|(r, d)| BuiltinView {
        name: r.label(),
        description: d,
        items: ACCOUNT_PERMISSIONS
            .iter()
            .copied()
            .filter(|p| PermSet::of_role(r).has_name(p))
            .collect(),
        groups: Vec::new(),
    })
    .collect()
}

fn workspace_role_views() -> Vec<BuiltinView> {
    BuiltinRole::all()
        .into_iter()
        .map(|r| {
            let scopes = r.scopes();
            BuiltinView {
                name: r.label(),
                description: r.description(),
                items: scopes.names(),
                groups: groups()
                    .into_iter()
                    .map(|(g, items)| {
                        let held: Vec<&'static ScopeInfo> = items
                            .into_iter()
                            .filter(|i| scopes.contains(i.name))
                            .collect();
                        (g, held)
                    })
                    .filter(|(_, held)| !held.is_empty())
                    .collect(),
            }
        })
        .collect()
}

async fn show(
    ctx: AccountCtx,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    let aid = ctx.account.id.clone();
    let custom = db(&ctx.auth.pool, move |c| Ok(ops::custom_roles(c, &aid)?)).await?;
    let custom = custom.into_iter().map(|r| {
        let n = r.scopes().scopes().len();
        (r, n)
    });
    render(
        status,
        &IndexPage {
            account_id: ctx.account.id.clone(),
            account_roles: account_role_views(),
            workspace_roles: workspace_role_views(),
            custom: custom.collect(),
            can_create: ctx.can(AccountPerm::CreateWorkspaceRole),
            can_update: ctx.perms.has_name("update:workspace_role"),
            can_delete: ctx.perms.has_name("delete:workspace_role"),
            error,
            notice,
            shell: ctx.auth.shell.at("roles"),
        },
    )
}

async fn index(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    show(ctx, None, None, StatusCode::OK).await
}

pub struct ScopeBox {
    pub info: &'static ScopeInfo,
    pub checked: bool,
    pub inherited: bool,
}

#[derive(Template)]
#[template(path = "roles/form.html")]
struct FormPage {
    shell: Shell,
    action: String,
    title: String,
    form_name: String,
    description: String,
    inherit: String,
    builtins: Vec<BuiltinRole>,
    groups: Vec<(&'static str, Vec<ScopeBox>)>,
    errors: FieldErrors,
}

fn form_page(
    ctx: AccountCtx,
    action: String,
    title: &str,
    f: &RoleForm,
    errors: FieldErrors,
) -> FormPage {
    let inherited = BuiltinRole::parse(&f.inherit)
        .map(BuiltinRole::scopes)
        .unwrap_or_default();
    let listed = ScopeSet::from_names(f.scopes.iter().map(String::as_str));
    let groups = groups()
        .into_iter()
        .map(|(g, items)| {
            (
                g,
                items
                    .into_iter()
                    .map(|info| ScopeBox {
                        info,
                        inherited: inherited.contains(info.name),
                        checked: listed.contains(info.name) || inherited.contains(info.name),
                    })
                    .collect(),
            )
        })
        .collect();
    FormPage {
        action,
        title: title.into(),
        form_name: f.name.clone(),
        description: f.description.clone(),
        inherit: f.inherit.clone(),
        builtins: BuiltinRole::all().to_vec(),
        groups,
        errors,
        shell: ctx.auth.shell.at("roles"),
    }
}

async fn new_form(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    ctx.require(AccountPerm::CreateWorkspaceRole)?;
    let action = format!("/account/{}/roles/new", ctx.account.id);
    render(
        StatusCode::OK,
        &form_page(
            ctx,
            action,
            "New workspace role",
            &RoleForm::default(),
            FieldErrors::default(),
        ),
    )
}

async fn save(
    req: HttpRequest,
    ctx: AccountCtx,
    role_id: Option<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let f = RoleForm::parse(&body);
    let action = match &role_id {
        Some(id) => format!("/account/{}/roles/{id}/edit", ctx.account.id),
        None => format!("/account/{}/roles/new", ctx.account.id),
    };
    let title = if role_id.is_some() {
        "Edit workspace role"
    } else {
        "New workspace role"
    };
    // Adding a scope to a form resubmitted after changing "inherit" (no JS) only re-renders.
    let preview = url::form_urlencoded::parse(&body).any(|(k, _)| k == "preview");
    let valid = match validate(&f) {
        Ok(v) if !preview => v,
        Ok(_) => {
            return render(
                StatusCode::OK,
                &form_page(ctx, action, title, &f, FieldErrors::default()),
            );
        }
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(ctx, action, title, &f, errors),
            );
        }
    };
    let rid = role_id.clone();
    let saved = ctx
        .try_op(&req, move |c, a| {
            let actor = Actor::user(&a.user);
            ops::save(
                c,
                &a.account.id,
                rid.as_deref(),
                &valid,
                actor,
                a.ip.clone(),
            )
        })
        .await?;
    match with_fields(saved)? {
        Ok(_) => Ok(crate::web::flash::redirect_noting(
            &req,
            &ctx.auth.session,
            &format!("/account/{}/roles", ctx.account.id),
            &format!("Role “{}” saved.", f.name.trim()),
        )),
        Err(errors) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form_page(ctx, action, title, &f, errors),
        ),
    }
}

async fn create(
    req: HttpRequest,
    ctx: AccountCtx,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    ctx.require(AccountPerm::CreateWorkspaceRole)?;
    save(req, ctx, None, body).await
}

async fn load_custom(ctx: &AccountCtx, role_id: &str) -> Result<WorkspaceRole, AppError> {
    let (aid, rid) = (ctx.account.id.clone(), role_id.to_string());
    db(&ctx.auth.pool, move |c| {
        Ok(ops::custom_roles(c, &aid)?
            .into_iter()
            .find(|r| r.id == rid))
    })
    .await?
    .ok_or(AppError::NotFound)
}

async fn edit_form(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    let (_, rid) = path.into_inner();
    let role = load_custom(&ctx, &rid).await?;
    if !ctx.perms.has_name("update:workspace_role") {
        return Err(AppError::Forbidden);
    }
    let action = format!("/account/{}/roles/{rid}/edit", ctx.account.id);
    render(
        StatusCode::OK,
        &form_page(
            ctx,
            action,
            "Edit workspace role",
            &RoleForm::of(&role),
            FieldErrors::default(),
        ),
    )
}

async fn update(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    if !ctx.perms.has_name("update:workspace_role") {
        return Err(AppError::Forbidden);
    }
    let (_, rid) = path.into_inner();
    load_custom(&ctx, &rid).await?;
    save(req, ctx, Some(rid), body).await
}

async fn delete(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    if !ctx.perms.has_name("delete:workspace_role") {
        return Err(AppError::Forbidden);
    }
    let (_, rid) = path.into_inner();
    let role = load_custom(&ctx, &rid).await?;
    let refused = ctx
        .op(&req, move |c, a| {
            ops::delete(c, &a.account.id, &role, Actor::user(&a.user), a.ip.clone())
        })
        .await?;
    match refused {
        Some(why) => show(ctx, Some(why), None, StatusCode::UNPROCESSABLE_ENTITY).await,
        None => show(ctx, None, Some("Role deleted.".into()), StatusCode::OK).await,
    }
}
