//! `/api/accounts/{account_id}/workspaces/…`: create, read, list, update, delete — the
//! workspace pages' rules (`workspaces::ops::validate`, `create`, `save`, `delete`) — and
//! the answer for the orchestration
//! paths below a workspace, which Atrium does not serve.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::body::utc;
use super::body::{self, Errors, Field, Obj};
use super::error::Detail;
use super::{ApiAccount, ApiError, ApiWorkspace, db, with_fields};
use crate::apikeys::KeyHolder;
use crate::authz::AccountPerm;
use crate::workspaces::ops::{
    self as workspaces, DEFAULT_ROLE_CHOICE, Workspace, WorkspaceForm, validate,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/accounts/{account_id}/workspaces/",
        web::post().to(create_workspace),
    )
    .route(
        "/accounts/{account_id}/workspaces",
        web::post().to(create_workspace),
    )
    .route(
        "/accounts/{account_id}/workspaces/filter",
        web::post().to(read_workspaces),
    )
    .route(
        "/accounts/{account_id}/workspaces/{workspace_id}",
        web::get().to(read_workspace),
    )
    .route(
        "/accounts/{account_id}/workspaces/{workspace_id}/",
        web::get().to(read_workspace),
    )
    .route(
        "/accounts/{account_id}/workspaces/{workspace_id}",
        web::patch().to(update_workspace),
    )
    .route(
        "/accounts/{account_id}/workspaces/{workspace_id}",
        web::delete().to(delete_workspace),
    );
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_workspace,
        read_workspace,
        read_workspaces,
        update_workspace,
        delete_workspace
    ),
    components(schemas(
        WorkspaceResponse,
        WorkspaceCreate,
        WorkspaceUpdate,
        WorkspaceFilterBody
    ))
)]
pub struct Doc;

/// `Workspace`. `is_public` is always false.
#[derive(Serialize, ToSchema)]
#[schema(as = Workspace)]
pub struct WorkspaceResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub name: String,
    pub description: Option<String>,
    pub handle: String,
    #[schema(format = Uuid)]
    pub default_workspace_role_id: Option<String>,
    pub is_public: bool,
}

impl From<Workspace> for WorkspaceResponse {
    fn from(w: Workspace) -> Self {
        WorkspaceResponse {
            id: w.id,
            created: Some(utc(w.created_at)),
            updated: Some(utc(w.updated_at)),
            account_id: w.account_id,
            name: w.name,
            description: Some(w.description),
            handle: w.handle,
            default_workspace_role_id: w.default_role_id,
            is_public: false,
        }
    }
}

/// `WorkspaceCreate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceCreate {
    pub name: String,
    pub description: Option<String>,
    pub handle: String,
}

/// The pages' field errors as a 422 (the API's names are the form's).
fn form_errors(e: crate::web::FieldErrors) -> ApiError {
    body::fields_to_api(e, &[], &[("default_role", "default_workspace_role_id")])
}

/// Creates a workspace (`create:workspace`); the caller gets the Owner role on it. Name
/// (1–100), handle (lowercase letters, digits, dashes; 1–40; unique in the account),
/// description (≤ 500), the account's workspace limit: 422 naming the field. Recorded as
/// `atrium.workspace.created`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/", tag = "workspaces",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = WorkspaceCreate,
    responses((status = 201, body = WorkspaceResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn create_workspace(ctx: ApiAccount, raw: web::Bytes) -> Result<HttpResponse, ApiError> {
    ctx.require(AccountPerm::CreateWorkspace)?;
    let Some(user) = ctx.caller.user().cloned() else {
        return Err(ApiError::Forbidden);
    };
    let v = body::parse(&raw, true)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let f = o.string("name", &mut errors);
    let name = o.required("name", &mut errors, f);
    let f = o.string("handle", &mut errors);
    let handle = o.required("handle", &mut errors, f);
    let description = o.string("description", &mut errors).value();
    errors.finish()?;
    let valid = validate(&WorkspaceForm {
        account_id: ctx.account.id.clone(),
        name: name.unwrap_or_default(),
        handle: handle.unwrap_or_default(),
        description: description.unwrap_or_default(),
    })
    .map_err(form_errors)?;
    let created = ctx
        .try_op(move |c, s| workspaces::create(c, &s.account.id, &user, &valid, s.ip.clone()))
        .await?;
    let ws = with_fields(created, form_errors)?;
    Ok(HttpResponse::Created().json(WorkspaceResponse::from(ws)))
}

/// The workspace (any scope on it; without one it does not exist: 404).
#[utoipa::path(get, path = "/api/accounts/{account_id}/workspaces/{workspace_id}",
    tag = "workspaces",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    responses((status = 200, body = WorkspaceResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_workspace(ctx: ApiWorkspace) -> web::Json<WorkspaceResponse> {
    web::Json(ctx.workspace.into())
}

/// The body of `workspaces/filter` (every field optional): `limit` (≤ 200), `offset`,
/// `workspaces` (`id.any_`, `handle.any_`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceFilterBody {
    #[schema(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub workspaces: Option<serde_json::Value>,
}

/// The account's workspaces the caller reaches (those with at least one scope, as in the
/// workspaces page and the switcher), by name.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/filter", tag = "workspaces",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<WorkspaceFilterBody>),
    responses((status = 200, body = [WorkspaceResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_workspaces(
    ctx: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceResponse>>, ApiError> {
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let (mut ids, mut handles) = (None, None);
    if let Some(f) = o.object("workspaces", &mut errors) {
        ids = f.any_uuids("id", &mut errors);
        handles = f.any_strings("handle", &mut errors);
    }
    errors.finish()?;
    let (holder, aid) = (ctx.caller.holder.clone(), ctx.account.id.clone());
    let mut rows: Vec<Workspace> = db(&ctx.caller.pool, move |c| {
        Ok(match &holder {
            KeyHolder::User(u) => workspaces::reachable(c, &u.id, "", 100_000)?
                .into_iter()
                .map(|r| r.workspace)
                .collect(),
            KeyHolder::ServiceAccount(s) => crate::service_accounts::ops::workspaces_of(c, &s.id)?
                .into_iter()
                .map(|(w, _, _)| w)
                .collect::<Vec<_>>(),
        })
    })
    .await?;
    rows.retain(|w| {
        w.account_id == aid
            && ids.as_ref().is_none_or(|i| i.contains(&w.id))
            && handles.as_ref().is_none_or(|h| h.contains(&w.handle))
    });
    rows.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
    Ok(web::Json(
        body::page(rows, limit, offset)
            .into_iter()
            .map(WorkspaceResponse::from)
            .collect(),
    ))
}

/// `WorkspaceUpdate`: absent fields stay as they are; `default_workspace_role_id: null`
/// is No Access.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceUpdate {
    pub name: Option<String>,
    pub handle: Option<String>,
    pub description: Option<String>,
    #[schema(format = Uuid)]
    pub default_workspace_role_id: Option<String>,
}

/// Updates name, handle, description and default role (`write_workspace_settings`; who
/// cannot see the settings gets 404) with the settings page's validation. Recorded as
/// `atrium.workspace.updated` (or `….default_role_changed`).
#[utoipa::path(patch, path = "/api/accounts/{account_id}/workspaces/{workspace_id}",
    tag = "workspaces",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body = WorkspaceUpdate,
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn update_workspace(
    ctx: ApiWorkspace,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require("write_workspace_settings")?;
    let v = body::parse(&raw, true)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let ws = &ctx.workspace;
    let name = o
        .string("name", &mut errors)
        .value()
        .unwrap_or(ws.name.clone());
    let handle = o
        .string("handle", &mut errors)
        .value()
        .unwrap_or(ws.handle.clone());
    let description = match o.string("description", &mut errors) {
        Field::Value(d) => d,
        Field::Null => String::new(),
        Field::Absent => ws.description.clone(),
    };
    let default_role = match o.uuid("default_workspace_role_id", &mut errors) {
        Field::Value(id) => Some(Some(id)),
        Field::Null => Some(None),
        Field::Absent => None,
    };
    errors.finish()?;
    let valid = validate(&WorkspaceForm {
        account_id: ctx.account.id.clone(),
        name,
        handle,
        description,
    });
    let aid = ctx.account.id.clone();
    let roles = db(&ctx.caller.pool, move |c| {
        Ok(workspaces::roles_for_account(c, &aid)?)
    })
    .await?;
    let mut errors = match &valid {
        Ok(_) => crate::web::FieldErrors::default(),
        Err(e) => e.clone(),
    };
    let new_default = match default_role {
        None => ws.default_role_id.clone(),
        Some(None) => None,
        Some(Some(id)) => {
            if !roles.iter().any(|r| r.id == id) {
                errors.add("default_role", DEFAULT_ROLE_CHOICE);
            }
            Some(id)
        }
    };
    let valid = match valid {
        Ok(v) if errors.is_empty() => v,
        _ => return Err(form_errors(errors)),
    };
    let saved = ctx
        .try_op(move |c, s| {
            let (by, ws) = (s.holder.actor_ref(), &s.workspace);
            workspaces::save(
                c,
                by,
                ws,
                &valid,
                new_default,
                s.actor.clone(),
                s.ip.clone(),
            )
        })
        .await?;
    with_fields(saved, form_errors)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes the workspace with everything in it (`manage_workspace_settings`; who cannot
/// see the settings gets 404). Afterwards all its paths answer 404. Recorded as
/// `atrium.workspace.deleted`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/workspaces/{workspace_id}",
    tag = "workspaces",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_workspace(
    ctx: ApiWorkspace,
    spawner: web::Data<crate::servers::spawner::Spawner>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require("manage_workspace_settings")?;
    let id = ctx.workspace.id.clone();
    ctx.op(move |c, s| workspaces::delete(c, &s.workspace, s.actor.clone(), s.ip.clone()))
        .await?;
    // Its managed Prefect server and that server's data go with it.
    spawner.discard(&id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Every path of `/api` no route took (below a workspace, the gateway takes them all).
pub async fn fallback() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
