//! `POST {workspace}/validate_transfer` and `POST {workspace}/transfer` (reference document:
//! body `{"to_account_id", "new_handle"}`; needs `delete:workspace` in the source account).
//! The same preview and transaction as the Transfer page.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::{OpenApi, ToSchema};

use super::{ApiError, ApiWorkspace, db};
use crate::apikeys::KeyHolder;
use crate::authz::account::AccountPerm;
use crate::transfers::ops::{self as transfers, Preview, Submitted, TransferError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/accounts/{account_id}/workspaces/{workspace_id}/validate_transfer",
        web::post().to(validate_transfer),
    )
    .route(
        "/accounts/{account_id}/workspaces/{workspace_id}/transfer",
        web::post().to(transfer),
    );
}

#[derive(OpenApi)]
#[openapi(paths(validate_transfer, transfer))]
pub struct Doc;

/// `Body_transfer_workspace_…` / `Body_validate_transfer_workspace_…`.
#[derive(Deserialize, ToSchema)]
pub struct TransferBody {
    #[schema(format = Uuid)]
    pub to_account_id: String,
    #[serde(default)]
    pub new_handle: Option<String>,
}

/// What the preview says, as the reference's `{category: [{key: string}]}` object.
fn preview_json(p: &Preview) -> Value {
    let mut out = Map::new();
    let list = |items: Vec<Value>| Value::Array(items);
    out.insert(
        "users_losing_access".into(),
        list(p
            .users_losing
            .iter()
            .map(|u| json!({"user_id": u.user_id, "handle": u.handle, "role": u.role_name, "detail": u.outcome}))
            .collect()),
    );
    out.insert(
        "users_losing_custom_roles".into(),
        list(p
            .users_falling_back
            .iter()
            .map(|u| json!({"user_id": u.user_id, "handle": u.handle, "role": u.role_name, "detail": u.outcome}))
            .collect()),
    );
    out.insert(
        "service_accounts_losing_access".into(),
        list(
            p.bots_losing
                .iter()
                .map(|(id, name)| json!({"bot_id": id, "name": name}))
                .collect(),
        ),
    );
    out.insert(
        "teams_losing_access".into(),
        list(
            p.teams_losing
                .iter()
                .map(|(team, role)| json!({"team": team, "role": role}))
                .collect(),
        ),
    );
    out.insert(
        "users_losing_team_access".into(),
        list(p
            .users_losing_team_access
            .iter()
            .map(|u| json!({"user_id": u.user_id, "handle": u.handle, "teams": u.role_name, "detail": u.outcome}))
            .collect()),
    );
    out.insert(
        "invitations_revoked".into(),
        list(
            p.invitations_revoked
                .iter()
                .map(|(id, email)| json!({"invitation_id": id, "email": email}))
                .collect(),
        ),
    );
    out.insert(
        "custom_roles".into(),
        list(p.custom_roles.iter().map(|n| json!({"name": n})).collect()),
    );
    out.insert(
        "handle".into(),
        list(vec![json!({
            "handle": p.final_handle,
            "conflict": if p.handle_conflict { "true" } else { "false" },
        })]),
    );
    out.insert(
        "errors".into(),
        list(
            p.problems
                .iter()
                .map(|(f, m)| json!({"field": f, "message": m}))
                .collect(),
        ),
    );
    Value::Object(out)
}

/// The caller's checks, before the body is read (so a bad body tells nobody that the
/// workspace exists, nor who may move it): `delete:workspace` in the source (403); then the
/// body (422), naming a target account the caller belongs to (422 otherwise, without
/// saying whether it exists).
fn check(ctx: &ApiWorkspace, raw: &[u8]) -> Result<TransferBody, ApiError> {
    if !ctx.perms.has(AccountPerm::DeleteWorkspace) {
        return Err(ApiError::Forbidden);
    }
    // serde reads a struct from a JSON list too: only an object is the documented body.
    if !raw.trim_ascii_start().starts_with(b"{") {
        return Err(ApiError::Validation(vec![super::error::FieldError::at(
            vec!["body".into()],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )]));
    }
    let body: TransferBody = serde_json::from_slice(raw).map_err(|e| {
        ApiError::Validation(vec![super::error::FieldError::at(
            vec!["body".into()],
            "value_error",
            e.to_string(),
        )])
    })?;
    if uuid::Uuid::parse_str(&body.to_account_id).is_err() {
        return Err(ApiError::field("to_account_id", "Not a valid account id."));
    }
    Ok(body)
}

fn user_of(ctx: &ApiWorkspace) -> Result<crate::users::ops::User, ApiError> {
    match &ctx.caller.holder {
        KeyHolder::User(u) => Ok(u.clone()),
        KeyHolder::ServiceAccount(_) => Err(ApiError::Forbidden),
    }
}

/// The target account and the caller's role there, or 422 when the caller is not a member.
fn target_role(
    c: &mut crate::db::DbConn,
    user_id: &str,
    source: &str,
    target: &str,
) -> Result<(crate::accounts::ops::Account, crate::authz::AccountRole), ApiError> {
    transfers::targets_for(c, user_id, source)?
        .into_iter()
        .find(|(a, _)| a.id == target)
        .ok_or_else(|| {
            ApiError::field(
                "to_account_id",
                "Unknown account, or one you are not a member of.",
            )
        })
}

/// Lists what the transfer would change and what blocks it; changes nothing.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/validate_transfer",
    tag = "workspaces", request_body = TransferBody,
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Object), (status = 401, body = super::error::Detail),
        (status = 403, body = super::error::Detail), (status = 404, body = super::error::Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn validate_transfer(
    ctx: ApiWorkspace,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = check(&ctx, &raw)?;
    let user = user_of(&ctx)?;
    let ws = ctx.workspace.clone();
    let p = db(&ctx.caller.pool, move |c| {
        let (target, _) = target_role(c, &user.id, &ws.account_id, &body.to_account_id)?;
        Ok(transfers::preview(
            c,
            &ws,
            &target,
            body.new_handle.as_deref().unwrap_or(""),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(preview_json(&p)))
}

/// Moves the workspace (204); when the caller is not Owner/Admin of the target, records a
/// request for its admins instead (202 with the request id).
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/transfer",
    tag = "workspaces", request_body = TransferBody,
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Transferred"), (status = 202, body = Object),
        (status = 401, body = super::error::Detail), (status = 403, body = super::error::Detail),
        (status = 404, body = super::error::Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn transfer(
    ctx: ApiWorkspace,
    cfg: web::Data<crate::settings::AppConfig>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body = check(&ctx, &raw)?;
    let user = user_of(&ctx)?;
    let (ws, ip, base) = (ctx.workspace.clone(), ctx.caller.ip.clone(), cfg.base());
    let outcome = db(&ctx.caller.pool, move |c| {
        let (target, role) = target_role(c, &user.id, &ws.account_id, &body.to_account_id)?;
        let new_handle = body.new_handle.unwrap_or_default();
        let result = transfers::submit(
            c,
            &ws.account_id,
            &ws.id,
            &target,
            role,
            &new_handle,
            &user,
            ip,
            &base,
        )
        .map(|s| match s {
            Submitted::Moved(_) => None,
            Submitted::Requested(r) => Some(r.id),
        });
        match result {
            Ok(r) => Ok(r),
            Err(TransferError::Gone) => Err(ApiError::NotFound),
            Err(TransferError::Invalid(problems)) => Err(ApiError::Validation(
                problems
                    .into_iter()
                    .map(|(f, m)| super::error::FieldError::body(f, m))
                    .collect(),
            )),
            Err(TransferError::Db(e)) => Err(e.into()),
        }
    })
    .await?;
    Ok(match outcome {
        None => HttpResponse::NoContent().finish(),
        Some(id) => HttpResponse::Accepted().json(json!({
            "detail": "Transfer requested: an Owner or Admin of the target account must approve it within 7 days.",
            "transfer_request_id": id,
        })),
    })
}
