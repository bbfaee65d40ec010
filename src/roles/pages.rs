//! `/account/{id}/roles`: built-in roles (read-only) and custom workspace roles.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use crate::audit::{Actor, Event};
use crate::authz::AccountRole;
use crate::authz::account::ACCOUNT_PERMISSIONS;
use crate::authz::workspace::{BuiltinRole, ScopeInfo, ScopeSet, close, groups};
use crate::authz::{AccountPerm, PermSet};
use crate::db::{DbConn, write_tx};
use crate::users::domain::Name;
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, redirect, render};
use crate::workspaces::model::{self as workspaces, WorkspaceRole};

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
    })
    .collect()
}

fn workspace_role_views() -> Vec<BuiltinView> {
    BuiltinRole::all()
        .into_iter()
        .map(|r| BuiltinView {
            name: r.label(),
            description: r.description(),
            items: r.scopes().names(),
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
    let custom = db(&ctx.auth.pool, move |c| {
        Ok(workspaces::custom_roles(c, &aid)?)
    })
    .await?;
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

/// The role form, parsed from a urlencoded body (repeated `scopes` fields).
#[derive(Default, Clone)]
pub struct RoleForm {
    pub name: String,
    pub description: String,
    /// A built-in role's name (`BuiltinRole::as_str`), or empty for none.
    pub inherit: String,
    pub scopes: Vec<String>,
}

impl RoleForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = RoleForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "name" => f.name = v.into_owned(),
                "description" => f.description = v.into_owned(),
                "inherit" => f.inherit = v.into_owned(),
                "scopes" => f.scopes.push(v.into_owned()),
                _ => {}
            }
        }
        f
    }

    pub fn of(r: &WorkspaceRole) -> Self {
        RoleForm {
            name: r.name.clone(),
            description: r.description.clone(),
            inherit: r.inherited_role.clone().unwrap_or_default(),
            scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
        }
    }
}

pub struct ValidRole {
    pub name: String,
    pub description: String,
    pub inherit: Option<BuiltinRole>,
    pub scopes: ScopeSet,
}

/// Parses a role form: the page's field names (`name`, `description`, `inherit`, `scopes`).
pub fn validate(f: &RoleForm) -> Result<ValidRole, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = Name::parse(&f.name, "a name", true)
        .map_err(|e| errors.add("name", e))
        .ok();
    let description = f.description.trim().to_string();
    if description.chars().count() > 140 {
        errors.add("description", "Descriptions are at most 140 characters.");
    } else if description.chars().any(char::is_control) {
        // NUL cannot be stored by PostgreSQL; line breaks have no place in a one-line field.
        errors.add(
            "description",
            "Descriptions cannot contain line breaks or control characters.",
        );
    }
    let inherit = if f.inherit.is_empty() {
        None
    } else {
        match BuiltinRole::parse(&f.inherit) {
            Some(b) => Some(b),
            None => {
                errors.add("inherit", "Choose a built-in role, or none.");
                None
            }
        }
    };
    if let Some(bad) = f
        .scopes
        .iter()
        .find(|s| !crate::authz::workspace::is_scope(s))
    {
        errors.add("scopes", format!("Unknown scope {bad:?}."));
    }
    let scopes = close(f.scopes.iter().map(String::as_str));
    if scopes.is_empty() && inherit.is_none() {
        errors.add(
            "scopes",
            "Tick at least one scope, or inherit a built-in role.",
        );
    }
    match name {
        Some(n) if errors.is_empty() => Ok(ValidRole {
            name: n.as_str().to_string(),
            description,
            inherit,
            scopes,
        }),
        _ => Err(errors),
    }
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
    let (aid, user, ip, rid) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
        role_id.clone(),
    );
    let saved = db(&ctx.auth.pool, move |c| {
        save_tx(c, &aid, rid.as_deref(), &valid, Actor::user(&user), ip)
    })
    .await?;
    match saved {
        Some(_) => Ok(redirect(
            &req,
            &format!("/account/{}/roles", ctx.account.id),
        )),
        None => {
            let mut errors = FieldErrors::default();
            errors.add("name", NAME_TAKEN);
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form_page(ctx, action, title, &f, errors),
            )
        }
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
        Ok(workspaces::custom_roles(c, &aid)?
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
    let (aid, user, ip) = (
        ctx.account.id.clone(),
        ctx.auth.user.clone(),
        client_ip(&req),
    );
    let refused = db(&ctx.auth.pool, move |c| {
        delete_tx(c, &aid, &role, Actor::user(&user), ip)
    })
    .await?;
    match refused {
        Some(why) => show(ctx, Some(why), None, StatusCode::UNPROCESSABLE_ENTITY).await,
        None => show(ctx, None, Some("Role deleted.".into()), StatusCode::OK).await,
    }
}

pub const NAME_TAKEN: &str = "A role with this name already exists in this account.";

/// Creates (`role_id` None) or updates the account's custom role in one transaction; 404
/// when `role_id` is not a custom role of the account. `None`: the name is taken (built-in
/// role names included), nothing changed. Recorded as `atrium.role.created` / `….updated`.
pub fn save_tx(
    c: &mut DbConn,
    aid: &str,
    rid: Option<&str>,
    valid: &ValidRole,
    actor: Actor,
    ip: String,
) -> Result<Option<String>, AppError> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, aid)?;
        if let Some(id) = rid
            && !workspaces::custom_roles(c, aid)?.iter().any(|r| r.id == id)
        {
            return Err(AppError::NotFound);
        }
        if workspaces::role_name_taken(c, aid, &valid.name, rid)? {
            return Ok(None);
        }
        let names: Vec<&str> = valid.scopes.names();
        let id = workspaces::save_custom_role(
            c,
            rid,
            aid,
            &valid.name,
            &valid.description,
            &serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()),
            valid.inherit.map(BuiltinRole::as_str),
        )?;
        Event::new(if rid.is_some() {
                    "atrium.role.updated"
                } else {
                    "atrium.role.created"
                }, actor, "workspace_role", Some(id.clone()), valid.name.clone()).account(aid.to_string()).ip(ip).payload(json!({ "scopes": names, "inherit": valid.inherit.map(BuiltinRole::as_str), "description": valid.description })).record(c)?;
        Ok(Some(id))
    })
}

/// Deletes the account's custom role in one transaction, unless it is in use (held by
/// someone or a workspace's default role): then the refusal, naming where, and nothing
/// changes. Recorded as `atrium.role.deleted`.
pub fn delete_tx(
    c: &mut DbConn,
    aid: &str,
    role: &WorkspaceRole,
    actor: Actor,
    ip: String,
) -> Result<Option<String>, AppError> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, aid)?;
        let usage = workspaces::role_usage(c, &role.id)?;
        if !usage.is_empty() {
            let mut parts = Vec::new();
            if !usage.held.is_empty() {
                parts.push(format!("held by members of {}", usage.held.join(", ")));
            }
            if !usage.default_of.is_empty() {
                parts.push(format!(
                    "the default role of {}",
                    usage.default_of.join(", ")
                ));
            }
            if !usage.invited.is_empty() {
                parts.push(format!(
                    "offered by pending invitations to {}",
                    usage.invited.join(", ")
                ));
            }
            return Ok(Some(format!(
                "{} is still in use: {}. Change those first.",
                role.name,
                parts.join("; ")
            )));
        }
        if workspaces::delete_role(c, aid, &role.id)? == 0 {
            return Err(AppError::NotFound);
        }
        Event::new(
            "atrium.role.deleted",
            actor,
            "workspace_role",
            Some(role.id.clone()),
            role.name.clone(),
        )
        .account(aid.to_string())
        .ip(ip)
        .record(c)?;
        Ok(None)
    })
}
