//! Single sign-on (issue #26) with Prefect Cloud's paths: `GET /api/accounts/{account_id}/sso/integrations`
//! (`read:sso`), `DELETE …/sso/integrations/{integration_id}` and `POST …/sso/validate`
//! (`administrate:sso`). Prefect Cloud answers its WorkOS organization; Atrium answers the
//! same shape (`organization_id`, `connections`, `directories`) with its own OpenID Connect
//! integration as the one connection. Configuring it is done on the account's Single
//! sign-on page (the client secret is typed there, never sent back).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use super::body::{self, Errors, Obj, utc};
use super::error::{Detail, ValidationDetail};
use super::{ApiAccount, ApiError};
use crate::authz::AccountPerm;
use crate::egress::Upstream;
use crate::settings::AppConfig;
use crate::sso::ops::{self, Who};

pub fn routes(cfg: &mut web::ServiceConfig) {
    let sso = "/accounts/{account_id}/sso";
    cfg.route(
        &format!("{sso}/integrations"),
        web::get().to(read_integrations),
    )
    .route(
        &format!("{sso}/integrations/{{integration_id}}"),
        web::delete().to(remove_integration),
    )
    .route(&format!("{sso}/validate"), web::post().to(validate));
}

#[derive(OpenApi)]
#[openapi(
    paths(read_integrations, remove_integration, validate),
    components(schemas(IntegrationsResponse, ValidateBody))
)]
pub struct Doc;

/// The account's SSO as Prefect Cloud's `WorkOSIntegrationResponse`: `organization_id` is
/// the account's id when a provider is configured; each connection is an object with
/// `id`, `connection_type` (`OIDC`), `state`, `issuer`, `client_id`, `client_secret`
/// (masked), `role`, `required`, `domains` (each `domain` and `verified`), `created` and
/// `updated`; `directories` is always empty (no directory sync).
#[derive(Serialize, ToSchema)]
pub struct IntegrationsResponse {
    pub organization_id: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub connections: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub directories: Vec<Value>,
}

/// `redirect_uri`, when given, must be the one Atrium signs in with.
#[derive(serde::Deserialize, ToSchema)]
pub struct ValidateBody {
    #[allow(dead_code)]
    pub redirect_uri: Option<String>,
}

fn who(s: &crate::web::api_ctx::AccountScene) -> Who {
    Who {
        holder: s.holder.clone(),
        ip: s.ip.clone(),
    }
}

/// The account's identity provider and domains (`read:sso`).
#[utoipa::path(get, path = "/api/accounts/{account_id}/sso/integrations", tag = "sso",
    params(("account_id" = uuid::Uuid, Path)),
    responses((status = 200, body = IntegrationsResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_integrations(
    acct: ApiAccount,
) -> Result<web::Json<IntegrationsResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadSso)?;
    let required = acct.account.sso_required;
    let (integration, domains) = acct.op(|c, s| ops::view(c, &who(s), &s.account.id)).await?;
    let domains: Vec<Value> = domains
        .iter()
        .map(|d| json!({ "domain": d.domain, "verified": d.is_verified() }))
        .collect();
    let organization_id = integration.as_ref().map(|i| i.account_id.clone());
    let connections = integration
        .into_iter()
        .map(|i| {
            json!({
                "id": i.id,
                "connection_type": "OIDC",
                "state": if domains.is_empty() { "NEEDS_CONFIGURATION" } else { "ENABLED" },
                "issuer": i.issuer,
                "client_id": i.client_id,
                "client_secret": i.client_secret_mask,
                "role": i.role,
                "required": required,
                "domains": domains,
                "created": utc(i.created_at),
                "updated": utc(i.updated_at),
            })
        })
        .collect();
    Ok(web::Json(IntegrationsResponse {
        organization_id,
        connections,
        directories: Vec::new(),
    }))
}

/// Removes the identity provider (`administrate:sso`); the account no longer requires SSO.
/// Recorded as `atrium.sso.deleted`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/sso/integrations/{integration_id}", tag = "sso",
    params(("account_id" = uuid::Uuid, Path), ("integration_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn remove_integration(
    req: HttpRequest,
    acct: ApiAccount,
) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadSso)?;
    let id = super::path_id(&req, "integration_id").ok_or(ApiError::NotFound)?;
    acct.require(AccountPerm::AdministrateSso)?;
    acct.op(move |c, s| ops::delete(c, &who(s), &s.account.id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks the configured provider (`administrate:sso`): its discovery document and keys
/// can be read at an allowed address, and `redirect_uri`, when given, is the one Atrium
/// signs in with. 204 when so; 409 saying what is wrong otherwise (a well-formed request
/// about a setup that does not work); 404 when no provider is configured; 422 for a body
/// that is not an object with a string `redirect_uri`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/sso/validate", tag = "sso",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = ValidateBody,
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 409, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn validate(
    acct: ApiAccount,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadSso)?;
    acct.require(AccountPerm::AdministrateSso)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let redirect = if v.is_null() {
        None
    } else {
        let o = Obj::body(&v, &mut errors);
        o.string("redirect_uri", &mut errors).value()
    };
    errors.finish()?;
    let (integration, _) = acct.op(|c, s| ops::view(c, &who(s), &s.account.id)).await?;
    let Some(i) = integration else {
        return Err(ApiError::NotFound);
    };
    let ours = crate::sso::oidc::redirect_uri(&cfg.base());
    if let Some(r) = redirect
        && r != ours
    {
        return Err(ApiError::Conflict(format!(
            "Atrium signs in with the redirect URI {ours}: register that one at the provider."
        )));
    }
    if let Err(e) = crate::sso::oidc::discover(&up, &i.issuer).await {
        return Err(ApiError::Conflict(e.message()));
    }
    Ok(HttpResponse::NoContent().finish())
}
