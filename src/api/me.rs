//! `/api/me/…`, `/api/workspace_scopes` and `/api/accounts/permissions`: who the key
//! belongs to and what it reaches. The `prefect` client logs in through
//! `GET /api/me/workspaces`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{ApiCaller, ApiError, db};
use crate::accounts::ops::personal_of;
use crate::apikeys::KeyHolder;
use crate::authz::AccountRole;
use crate::authz::account::PermSet;
use crate::authz::workspace::{SCOPES, close};
use crate::members::ops::MembershipOf;
use crate::workspaces::access::load;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/", web::get().to(me))
        .route("/me", web::get().to(me))
        .route("/me/workspaces", web::get().to(my_workspaces))
        .route("/me/workspaces/", web::get().to(my_workspaces))
        .route("/me/accounts", web::get().to(my_accounts))
        .route("/me/accounts/", web::get().to(my_accounts))
        .route(
            "/me/workspaces/{workspace_id}/scopes",
            web::get().to(my_workspace_scopes),
        )
        .route("/workspace_scopes", web::get().to(workspace_scopes))
        .route("/workspace_scopes/", web::get().to(workspace_scopes))
        .route("/accounts/permissions", web::get().to(permissions))
        .route("/accounts/permissions/", web::get().to(permissions));
}

#[derive(OpenApi)]
#[openapi(paths(
    me,
    my_workspaces,
    my_accounts,
    my_workspace_scopes,
    workspace_scopes,
    permissions
))]
pub struct Doc;

/// `MeReadResponse`.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub handle: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub location: Option<String>,
    #[schema(format = Uuid)]
    pub personal_account_id: Option<String>,
    pub settings: Option<serde_json::Value>,
}

/// The user the key belongs to. Service-account keys have no user: 403.
#[utoipa::path(get, path = "/api/me/", tag = "me",
    responses((status = 200, body = MeResponse), (status = 401, body = super::error::Detail),
        (status = 403, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn me(caller: ApiCaller) -> Result<web::Json<MeResponse>, ApiError> {
    let Some(user) = caller.user().cloned() else {
        return Err(ApiError::Forbidden);
    };
    let personal = db(&caller.pool, {
        let id = user.id.clone();
        move |c| Ok(personal_of(c, &id)?)
    })
    .await?;
    Ok(web::Json(MeResponse {
        id: user.id,
        handle: user.handle,
        first_name: user.first_name,
        last_name: user.last_name,
        email: user.email,
        location: None,
        personal_account_id: personal.map(|a| a.id),
        settings: None,
    }))
}

/// `UserWorkspaceResponse`: `workspace_description` is a string, never null.
#[derive(Serialize, ToSchema)]
pub struct UserWorkspaceResponse {
    #[schema(format = Uuid)]
    pub account_id: String,
    pub account_name: String,
    pub account_handle: String,
    #[schema(format = Uuid)]
    pub workspace_id: String,
    pub workspace_name: String,
    pub workspace_description: String,
    pub workspace_handle: String,
}

/// At most this many workspaces in one answer.
const MAX_WORKSPACES: i64 = 10_000;

/// The workspaces the key reaches: for a user every workspace with at least one scope
/// (DESIGN §2), for a service account those it has a role on.
#[utoipa::path(get, path = "/api/me/workspaces", tag = "me",
    responses((status = 200, body = [UserWorkspaceResponse]), (status = 401, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn my_workspaces(
    caller: ApiCaller,
) -> Result<web::Json<Vec<UserWorkspaceResponse>>, ApiError> {
    let holder = caller.holder.clone();
    let rows = db(&caller.pool, move |c| {
        Ok(match &holder {
            KeyHolder::User(u) => crate::workspaces::ops::reachable(c, &u.id, "", MAX_WORKSPACES)?
                .into_iter()
                .map(|r| (r.workspace, r.account_name, r.account_handle))
                .collect(),
            KeyHolder::ServiceAccount(s) => crate::service_accounts::ops::workspaces_of(c, &s.id)?,
        })
    })
    .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(w, account_name, account_handle)| UserWorkspaceResponse {
                account_id: w.account_id,
                account_name,
                account_handle,
                workspace_id: w.id,
                workspace_name: w.name,
                workspace_description: w.description,
                workspace_handle: w.handle,
            })
            .collect(),
    ))
}

/// `UserAccountResponse`.
#[derive(Serialize, ToSchema)]
pub struct UserAccountResponse {
    #[schema(format = Uuid)]
    pub account_membership_id: String,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub account_name: String,
    pub account_role_name: String,
    pub account_handle: String,
    pub account_plan_type: String,
    pub account_plan_tier: Option<String>,
    pub account_plan_features: Vec<String>,
}

/// The accounts the key belongs to, with its role in each.
#[utoipa::path(get, path = "/api/me/accounts", tag = "me",
    responses((status = 200, body = [UserAccountResponse]), (status = 401, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn my_accounts(
    caller: ApiCaller,
) -> Result<web::Json<Vec<UserAccountResponse>>, ApiError> {
    let holder = caller.holder.clone();
    let rows: Vec<MembershipOf> = db(&caller.pool, move |c| {
        Ok(match &holder {
            KeyHolder::User(u) => crate::members::ops::memberships_of(c, &u.id)?,
            // A service account belongs to one account, always as Member; its own id
            // stands for the membership.
            KeyHolder::ServiceAccount(s) => crate::accounts::ops::find(c, &s.account_id)?
                .into_iter()
                .map(|a| MembershipOf {
                    membership_id: s.id.clone(),
                    account_id: a.id,
                    account_name: a.name,
                    role: AccountRole::Member.as_str().into(),
                    account_handle: a.handle,
                })
                .collect(),
        })
    })
    .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|m| UserAccountResponse {
                account_membership_id: m.membership_id,
                account_id: m.account_id,
                account_name: m.account_name,
                account_role_name: AccountRole::parse(&m.role)
                    .map(|r| r.label().to_string())
                    .unwrap_or(m.role),
                account_handle: m.account_handle,
                account_plan_type: "SELF_HOSTED".into(),
                account_plan_tier: None,
                account_plan_features: Vec::new(),
            })
            .collect(),
    ))
}

/// The key's effective scopes on a workspace (404 when it has none).
#[utoipa::path(get, path = "/api/me/workspaces/{workspace_id}/scopes", tag = "me",
    params(("workspace_id" = uuid::Uuid, Path)),
    responses((status = 200, body = [String]), (status = 401, body = super::error::Detail),
        (status = 404, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn my_workspace_scopes(
    caller: ApiCaller,
    path: web::Path<uuid::Uuid>,
) -> Result<web::Json<Vec<&'static str>>, ApiError> {
    let workspace_id = path.into_inner().to_string();
    let holder = caller.holder.clone();
    let scopes = db(&caller.pool, move |c| {
        let Some(account_id) = crate::workspaces::ops::account_of(c, &workspace_id)? else {
            return Ok(None);
        };
        let actor = holder.actor_ref();
        Ok(load(c, &account_id, &workspace_id, actor)?.map(|l| l.scopes))
    })
    .await?;
    match scopes {
        Some(s) if !s.is_empty() => Ok(web::Json(s.names())),
        _ => Err(ApiError::NotFound),
    }
}

/// `WorkspaceScope`.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceScopeResponse {
    pub name: &'static str,
    pub title: &'static str,
    pub feature_group: &'static str,
    pub includes_scopes: Vec<&'static str>,
    pub see_scope: Option<&'static str>,
}

/// The scope catalog (61 names) with titles, feature groups and nesting.
#[utoipa::path(get, path = "/api/workspace_scopes", tag = "scopes",
    responses((status = 200, body = [WorkspaceScopeResponse]), (status = 401, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn workspace_scopes(_caller: ApiCaller) -> web::Json<Vec<WorkspaceScopeResponse>> {
    web::Json(
        SCOPES
            .iter()
            .map(|s| {
                let implied = close([s.name]);
                WorkspaceScopeResponse {
                    name: s.name,
                    title: s.title,
                    feature_group: s.group,
                    includes_scopes: implied.iter().filter(|n| *n != s.name).collect(),
                    see_scope: implied.iter().find(|n| n.starts_with("see_")),
                }
            })
            .collect(),
    )
}

/// The account permission catalog (47 names).
#[utoipa::path(get, path = "/api/accounts/permissions", tag = "accounts",
    responses((status = 200, body = [String]), (status = 401, body = super::error::Detail)),
    security(("api_key" = [])))]
pub async fn permissions(_caller: ApiCaller) -> HttpResponse {
    HttpResponse::Ok().json(PermSet::of_role(AccountRole::Owner).names())
}
