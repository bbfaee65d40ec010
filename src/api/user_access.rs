//! `/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/…`: who (people)
//! has which role on a workspace. The sharing panel's rules (`workspaces::ops::grant_all`,
//! `revoke`): account members only, nobody gives or takes away a role with scopes they
//! do not hold, a Collaborator goes with their last access.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::body::utc;
use super::body::{self, Errors, Field, Obj, like};
use super::error::{Detail, FieldError};
use super::{ApiError, ApiWorkspace, db};
use crate::ids::UserId;
use crate::outcome::{OpError, Refusal};
use crate::workspaces::ops::{self as workspaces, UserAccess};

pub fn routes(cfg: &mut web::ServiceConfig) {
    const BASE: &str = "/accounts/{account_id}/workspaces/{workspace_id}/user_access";
    cfg.route(&format!("{BASE}/"), web::post().to(upsert_user_access))
        .route(BASE, web::post().to(upsert_user_access))
        .route(
            &format!("{BASE}/filter"),
            web::post().to(read_user_accesses),
        )
        .route(&format!("{BASE}/{{id}}"), web::get().to(read_user_access))
        .route(
            &format!("{BASE}/{{id}}"),
            web::delete().to(delete_user_access),
        );
}

#[derive(OpenApi)]
#[openapi(
    paths(
        upsert_user_access,
        read_user_accesses,
        read_user_access,
        delete_user_access
    ),
    components(schemas(
        WorkspaceUserAccessCreate,
        WorkspaceUserAccessResponse,
        UserAccessFilterBody
    ))
)]
pub struct Doc;

/// `WorkspaceUserAccessCreate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceUserAccessCreate {
    #[schema(format = Uuid)]
    pub user_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
}

/// `WorkspaceUserAccessResponse`. `id` is the access's id (what `DELETE …/{id}` takes);
/// `actor_id` is the user's id.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceUserAccessResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub workspace_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
    #[schema(format = Uuid)]
    pub actor_id: String,
    #[schema(format = Uuid)]
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub handle: String,
}

fn response(workspace_id: &str, a: UserAccess) -> WorkspaceUserAccessResponse {
    WorkspaceUserAccessResponse {
        id: a.id,
        created: Some(utc(a.created_at)),
        updated: Some(utc(a.created_at)),
        workspace_id: workspace_id.to_string(),
        workspace_role_id: a.role_id,
        actor_id: a.user_id.clone(),
        user_id: a.user_id,
        first_name: a.first_name,
        last_name: a.last_name,
        email: a.email,
        handle: a.handle,
    }
}

/// Gives users a role on the workspace, or changes it (`manage_workspace_users`; who
/// cannot see the workspace's users gets 404). One object or a list, answered in the same
/// shape; all or nothing. Not a member of the account, or a role not of this account: 422
/// naming the item; a role (new or replaced) with scopes the caller lacks: 403. Recorded
/// as `atrium.workspace_access.granted` / `….role_changed`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/",
    tag = "workspace_user_access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body(content = Vec<WorkspaceUserAccessCreate>, description = "One WorkspaceUserAccessCreate, or a list of them"),
    responses((status = 200, body = Vec<WorkspaceUserAccessResponse>, description = "One WorkspaceUserAccessResponse, or a list for a list"),
        (status = 401, body = Detail), (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn upsert_user_access(
    ctx: ApiWorkspace,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let v = body::parse(&raw, true)?;
    let (items, single): (Vec<(Vec<String>, &Value)>, bool) = match &v {
        Value::Array(a) => (
            a.iter()
                .enumerate()
                .map(|(i, item)| (vec!["body".to_string(), i.to_string()], item))
                .collect(),
            false,
        ),
        other => (vec![(vec!["body".to_string()], other)], true),
    };
    let mut errors = Errors::default();
    let mut wanted: Vec<(Vec<String>, String, String)> = Vec::new();
    for (loc, item) in items {
        let o = Obj::at(item, loc.clone(), &mut errors);
        let f = o.uuid("user_id", &mut errors);
        let user_id = o.required("user_id", &mut errors, f);
        let f = o.uuid("workspace_role_id", &mut errors);
        let role_id = o.required("workspace_role_id", &mut errors, f);
        if let (Some(u), Some(r)) = (user_id, role_id) {
            wanted.push((loc, u, r));
        }
    }
    errors.finish()?;
    let pairs: Vec<(String, String)> = wanted
        .iter()
        .map(|(_, u, r)| (u.clone(), r.clone()))
        .collect();
    let wid = ctx.workspace.id.clone();
    let done = ctx
        .try_op(move |c, s| {
            let (by, ws) = (s.holder.actor_ref(), &s.workspace);
            workspaces::grant_all(c, by, ws, s.actor.clone(), &pairs, s.ip.clone())
        })
        .await?;
    let done: Vec<WorkspaceUserAccessResponse> = match done {
        Ok(accesses) => accesses.into_iter().map(|a| response(&wid, a)).collect(),
        // A refused item answers at its own place in the body.
        Err(OpError::Refused(Refusal::InvalidItem(i, fields))) => {
            let loc = &wanted[i].0;
            return Err(ApiError::Validation(
                fields
                    .0
                    .into_iter()
                    .map(|(field, msg)| {
                        let mut l = loc.clone();
                        l.push(field.into());
                        FieldError::at(l, "value_error", msg)
                    })
                    .collect(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if single {
        match done.into_iter().next() {
            Some(one) => Ok(HttpResponse::Ok().json(one)),
            None => Err(ApiError::Internal(anyhow::anyhow!("no access granted"))),
        }
    } else {
        Ok(HttpResponse::Ok().json(done))
    }
}

/// The body of `user_access/filter` (every field optional): `limit` (≤ 200), `offset`,
/// `workspace_accesses` (`workspace_role_id.any_`, `actor_id.any_`), `users` (`id.any_` /
/// `not_any_`, `email.any_`/`like_`, `handle.any_`/`like_`, `name.like_`), `sort`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserAccessFilterBody {
    #[schema(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub workspace_accesses: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub users: Option<serde_json::Value>,
    #[schema(schema_with = sort_choice)]
    pub sort: Option<String>,
}

fn sort_choice() -> utoipa::openapi::Object {
    super::schema::choice(&SORTS, true)
}

const SORTS: [&str; 8] = [
    "CREATED_ASC",
    "CREATED_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "EMAIL_ASC",
    "EMAIL_DESC",
    "HANDLE_ASC",
    "HANDLE_DESC",
];

/// The users with a role on the workspace (`see_workspace_users`, otherwise 404), by
/// handle unless sorted otherwise.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/filter",
    tag = "workspace_user_access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body(content = Option<UserAccessFilterBody>),
    responses((status = 200, body = [WorkspaceUserAccessResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_user_accesses(
    ctx: ApiWorkspace,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceUserAccessResponse>>, ApiError> {
    ctx.require_to_see("see_workspace_users")?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let (mut role_ids, mut actor_ids) = (None, None);
    if let Some(f) = o.object("workspace_accesses", &mut errors) {
        role_ids = f.any_uuids("workspace_role_id", &mut errors);
        actor_ids = f.any_uuids("actor_id", &mut errors);
    }
    let (mut ids, mut not_ids, mut emails, mut email_like, mut handles, mut handle_like) =
        (None, None, None, None, None, None);
    let mut name_like = None;
    if let Some(u) = o.object("users", &mut errors) {
        if let Some(i) = u.object("id", &mut errors) {
            ids = i.uuids("any_", &mut errors).value();
            not_ids = i.uuids("not_any_", &mut errors).value();
        }
        if let Some(e) = u.object("email", &mut errors) {
            emails = e.strings("any_", &mut errors).value();
            email_like = e.string("like_", &mut errors).value();
        }
        if let Some(h) = u.object("handle", &mut errors) {
            handles = h.strings("any_", &mut errors).value();
            handle_like = h.string("like_", &mut errors).value();
        }
        if let Some(n) = u.object("name", &mut errors) {
            name_like = n.string("like_", &mut errors).value();
        }
    }
    let sort = match o.string("sort", &mut errors) {
        Field::Value(s) if SORTS.contains(&s.as_str()) => s,
        Field::Value(_) => {
            errors.push(
                o.loc("sort"),
                "enum",
                format!("Input should be one of {}", SORTS.join(", ")),
            );
            String::new()
        }
        _ => String::new(),
    };
    errors.finish()?;
    let wid = ctx.workspace.id.clone();
    let mut rows = db(&ctx.caller.pool, move |c| {
        Ok(workspaces::user_accesses(c, &wid)?)
    })
    .await?;
    rows.retain(|a| {
        role_ids.as_ref().is_none_or(|r| r.contains(&a.role_id))
            && actor_ids.as_ref().is_none_or(|r| r.contains(&a.user_id))
            && ids.as_ref().is_none_or(|r| r.contains(&a.user_id))
            && not_ids.as_ref().is_none_or(|r| !r.contains(&a.user_id))
            && emails
                .as_ref()
                .is_none_or(|e| e.iter().any(|e| e.eq_ignore_ascii_case(&a.email)))
            && email_like.as_ref().is_none_or(|l| like(&a.email, l))
            && handles.as_ref().is_none_or(|h| h.contains(&a.handle))
            && handle_like.as_ref().is_none_or(|l| like(&a.handle, l))
            && name_like
                .as_ref()
                .is_none_or(|l| like(&a.first_name, l) || like(&a.last_name, l))
    });
    let name = |a: &UserAccess| a.name.to_lowercase();
    match sort.as_str() {
        "CREATED_ASC" => rows.sort_by_key(|a| a.created_at),
        "CREATED_DESC" => rows.sort_by_key(|a| std::cmp::Reverse(a.created_at)),
        "NAME_ASC" => rows.sort_by_key(name),
        "NAME_DESC" => rows.sort_by_key(|a| std::cmp::Reverse(name(a))),
        "EMAIL_ASC" => rows.sort_by_key(|a| a.email.to_lowercase()),
        "EMAIL_DESC" => rows.sort_by_key(|a| std::cmp::Reverse(a.email.to_lowercase())),
        "HANDLE_DESC" => rows.sort_by_key(|a| std::cmp::Reverse(a.handle.clone())),
        _ => {}
    }
    let wid = ctx.workspace.id.clone();
    Ok(web::Json(
        body::page(rows, limit, offset)
            .into_iter()
            .map(|a| response(&wid, a))
            .collect(),
    ))
}

async fn find(ctx: &ApiWorkspace, raw_id: &str) -> Result<UserAccess, ApiError> {
    let id = super::path_uuid(raw_id)?;
    let wid = ctx.workspace.id.clone();
    super::load(&ctx.caller.pool, move |c| {
        workspaces::user_access_by_id(c, &wid, &id)
    })
    .await
}

/// One access by its id (`see_workspace_users`, otherwise 404).
#[utoipa::path(get, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
    tag = "workspace_user_access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path),
        ("id" = uuid::Uuid, Path, description = "The access's id")),
    responses((status = 200, body = WorkspaceUserAccessResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_user_access(
    ctx: ApiWorkspace,
    path: web::Path<(String, String, String)>,
) -> Result<web::Json<WorkspaceUserAccessResponse>, ApiError> {
    ctx.require_to_see("see_workspace_users")?;
    let a = find(&ctx, &path.2).await?;
    Ok(web::Json(response(&ctx.workspace.id, a)))
}

/// Removes an access by its id (`manage_workspace_users`; who cannot see the workspace's
/// users gets 404). A role with scopes the caller lacks: 403. A Collaborator whose last
/// access in the account this was stops being a member. Recorded as
/// `atrium.workspace_access.revoked`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
    tag = "workspace_user_access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path),
        ("id" = uuid::Uuid, Path, description = "The access's id (WorkspaceUserAccessResponse.id)")),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_user_access(
    ctx: ApiWorkspace,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see("see_workspace_users")?;
    let a = find(&ctx, &path.2).await?;
    ctx.require("manage_workspace_users")?;
    let user = UserId::from_stored(a.user_id);
    ctx.op(move |c, s| {
        let (by, ws) = (s.holder.actor_ref(), &s.workspace);
        workspaces::revoke(c, by, ws, s.actor.clone(), &user, s.ip.clone())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
