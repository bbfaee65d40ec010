//! `/api/accounts/{account_id}/workspace_roles/…`: the built-in workspace roles and the
//! account's custom ones. Same validation, name rule, "refused while used" and audit
//! events as the Roles page (`roles::ops::validate`, `save`, `delete`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::body::utc;
use super::body::{self, Errors, Field, Obj};
use super::error::Detail;
use super::{ApiAccount, ApiError, db, with_fields};
use crate::authz::AccountPerm;
use crate::authz::workspace::BuiltinRole;
use crate::roles::ops::{self as roles, RoleForm, WorkspaceRole, builtin_role_id, validate};

pub fn routes(cfg: &mut web::ServiceConfig) {
    const BASE: &str = "/accounts/{account_id}/workspace_roles";
    cfg.route(&format!("{BASE}/"), web::post().to(create_role))
        .route(BASE, web::post().to(create_role))
        .route(&format!("{BASE}/filter"), web::post().to(read_roles))
        .route(&format!("{BASE}/{{id}}"), web::get().to(read_role))
        .route(&format!("{BASE}/{{id}}"), web::patch().to(update_role))
        .route(&format!("{BASE}/{{id}}"), web::delete().to(delete_role));
}

#[derive(OpenApi)]
#[openapi(
    paths(create_role, read_role, read_roles, update_role, delete_role),
    components(schemas(
        WorkspaceRoleResponse,
        WorkspaceRoleCreate,
        WorkspaceRoleUpdate,
        RoleFilterBody
    ))
)]
pub struct Doc;

/// `WorkspaceRole`. Built-in roles have no `account_id` and list all their scopes; a
/// custom role lists the scopes ticked for it, and `inherited_role_id` names the built-in
/// role whose scopes it also has. `permissions` (deprecated) repeats `scopes`.
#[derive(Serialize, ToSchema)]
#[schema(as = WorkspaceRole)]
pub struct WorkspaceRoleResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub account_id: Option<String>,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub scopes: Vec<String>,
    #[schema(format = Uuid)]
    pub inherited_role_id: Option<String>,
}

fn response(r: WorkspaceRole) -> WorkspaceRoleResponse {
    let builtin = r.builtin.as_deref().and_then(BuiltinRole::parse);
    let scopes: Vec<String> = match builtin {
        Some(b) => b.scopes().names().into_iter().map(str::to_string).collect(),
        None => RoleForm::of(&r).scopes,
    };
    WorkspaceRoleResponse {
        inherited_role_id: r
            .inherited_role
            .as_deref()
            .and_then(BuiltinRole::parse)
            .map(|b| builtin_role_id(b).to_string()),
        id: r.id,
        created: Some(utc(r.created_at)),
        updated: Some(utc(r.updated_at)),
        account_id: r.account_id,
        name: r.name,
        description: r.description,
        permissions: scopes.clone(),
        scopes,
    }
}

/// The built-in role with this id.
fn builtin_of(id: &str) -> Option<BuiltinRole> {
    BuiltinRole::all()
        .into_iter()
        .find(|b| builtin_role_id(*b) == id)
}

/// `WorkspaceRoleCreate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceRoleCreate {
    pub name: String,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[schema(format = Uuid)]
    pub inherited_role_id: Option<String>,
}

/// `WorkspaceRoleUpdate`: absent fields stay as they are; `inherited_role_id: null`
/// inherits nothing.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceRoleUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[schema(format = Uuid)]
    pub inherited_role_id: Option<String>,
}

/// Reads a create/update body over `base` (the role as it is, for an update).
fn read_form(raw: &[u8], base: RoleForm, create: bool) -> Result<RoleForm, ApiError> {
    let v = body::parse(raw, true)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let mut f = base;
    let name = o.string("name", &mut errors);
    if create {
        f.name = o.required("name", &mut errors, name).unwrap_or_default();
    } else if let Field::Value(n) = name {
        f.name = n;
    }
    match o.string("description", &mut errors) {
        Field::Value(d) => f.description = d,
        Field::Null if create => f.description.clear(),
        _ => {}
    }
    if let Field::Value(s) = o.strings("scopes", &mut errors) {
        f.scopes = s;
    }
    match o.uuid("inherited_role_id", &mut errors) {
        Field::Value(id) => match builtin_of(&id) {
            Some(b) => f.inherit = b.as_str().into(),
            None => errors.push(
                o.loc("inherited_role_id"),
                "value_error",
                "Choose a built-in role, or none.",
            ),
        },
        Field::Null => f.inherit.clear(),
        Field::Absent => {}
    }
    errors.finish()?;
    Ok(f)
}

fn form_errors(e: crate::web::FieldErrors) -> ApiError {
    body::fields_to_api(e, &[], &[("inherit", "inherited_role_id")])
}

/// Creates a custom workspace role (`create:workspace_role`): name (1–100, unique among
/// the account's and the built-in roles), description (≤ 140), scopes from the catalog
/// (closed under the nesting rule), an optional built-in role to inherit; at least one
/// scope or an inherited role. Recorded as `atrium.role.created`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspace_roles/", tag = "workspace_roles",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = WorkspaceRoleCreate,
    responses((status = 201, body = WorkspaceRoleResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn create_role(ctx: ApiAccount, raw: web::Bytes) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    ctx.require(AccountPerm::CreateWorkspaceRole)?;
    let f = read_form(&raw, RoleForm::default(), true)?;
    let valid = validate(&f).map_err(form_errors)?;
    let role = ctx
        .try_op(move |c, s| {
            let id = roles::save(
                c,
                &s.account.id,
                None,
                &valid,
                s.actor.clone(),
                s.ip.clone(),
            )?;
            Ok(roles::role(c, &id)?)
        })
        .await?;
    match with_fields(role, form_errors)? {
        Some(r) => Ok(HttpResponse::Created().json(response(r))),
        None => Err(ApiError::NotFound),
    }
}

/// A role usable in the account: built-in, or the account's own (`read:workspace_role`).
async fn find(ctx: &ApiAccount, raw_id: &str) -> Result<WorkspaceRole, ApiError> {
    let id = super::path_uuid(raw_id)?;
    let aid = ctx.account.id.clone();
    super::load(&ctx.caller.pool, move |c| {
        Ok(roles::role(c, &id)?
            .filter(|r| r.account_id.is_none() || r.account_id.as_deref() == Some(aid.as_str())))
    })
    .await
}

/// One role, built-in or the account's (`read:workspace_role`, otherwise 404).
#[utoipa::path(get, path = "/api/accounts/{account_id}/workspace_roles/{id}", tag = "workspace_roles",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = WorkspaceRoleResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_role(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
) -> Result<web::Json<WorkspaceRoleResponse>, ApiError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    Ok(web::Json(response(find(&ctx, &path.1).await?)))
}

/// The body of `workspace_roles/filter` (every field optional): `limit` (≤ 200), `offset`,
/// `workspace_roles` (`name.any_`, `is_global`: only built-in (true) or only the
/// account's (false)).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RoleFilterBody {
    #[schema(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub workspace_roles: Option<serde_json::Value>,
}

/// The built-in roles, then the account's custom roles (`read:workspace_role`, otherwise
/// 404).
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspace_roles/filter", tag = "workspace_roles",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<RoleFilterBody>),
    responses((status = 200, body = [WorkspaceRoleResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_roles(
    ctx: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceRoleResponse>>, ApiError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let (mut names, mut global) = (None, None);
    if let Some(f) = o.object("workspace_roles", &mut errors) {
        names = f.any_strings("name", &mut errors);
        global = f.bool("is_global", &mut errors).value();
    }
    errors.finish()?;
    let aid = ctx.account.id.clone();
    let mut roles = db(&ctx.caller.pool, move |c| {
        Ok(roles::roles_for_account(c, &aid)?)
    })
    .await?;
    roles.retain(|r| {
        names.as_ref().is_none_or(|n| n.contains(&r.name))
            && global.is_none_or(|g| g == r.account_id.is_none())
    });
    Ok(web::Json(
        body::page(roles, limit, offset)
            .into_iter()
            .map(response)
            .collect(),
    ))
}

/// The account's custom role `raw_id` for a change: a built-in role is 403 (it can be
/// seen, not changed), anything else unknown 404.
async fn custom(ctx: &ApiAccount, raw_id: &str) -> Result<WorkspaceRole, ApiError> {
    let role = find(ctx, raw_id).await?;
    if role.account_id.is_none() {
        return Err(ApiError::Denied(
            "Built-in roles cannot be changed or deleted.".into(),
        ));
    }
    Ok(role)
}

/// Changes a custom role (`update:workspace_role`) with the same rules as creating one.
/// Recorded as `atrium.role.updated`.
#[utoipa::path(patch, path = "/api/accounts/{account_id}/workspace_roles/{id}", tag = "workspace_roles",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    request_body = WorkspaceRoleUpdate,
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn update_role(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    let role = find(&ctx, &path.1).await?;
    if !ctx.perms.has_name("update:workspace_role") {
        return Err(ApiError::Forbidden);
    }
    let role = if role.account_id.is_none() {
        custom(&ctx, &path.1).await?
    } else {
        role
    };
    let f = read_form(&raw, RoleForm::of(&role), false)?;
    let valid = validate(&f).map_err(form_errors)?;
    let saved = ctx
        .try_op(move |c, s| {
            roles::save(
                c,
                &s.account.id,
                Some(&role.id),
                &valid,
                s.actor.clone(),
                s.ip.clone(),
            )
        })
        .await?;
    with_fields(saved, form_errors)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a custom role (`delete:workspace_role`). While it is in use (held in a
/// workspace, a workspace's default role, offered by a pending invitation): 409 with the
/// Roles page's message naming where, and nothing changes. Recorded as
/// `atrium.role.deleted`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/workspace_roles/{id}", tag = "workspace_roles",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 409, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_role(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadWorkspaceRole)?;
    find(&ctx, &path.1).await?;
    if !ctx.perms.has_name("delete:workspace_role") {
        return Err(ApiError::Forbidden);
    }
    let role = custom(&ctx, &path.1).await?;
    let refused = ctx
        .op(move |c, s| roles::delete(c, &s.account.id, &role, s.actor.clone(), s.ip.clone()))
        .await?;
    match refused {
        Some(why) => Err(ApiError::Conflict(why)),
        None => Ok(HttpResponse::NoContent().finish()),
    }
}
