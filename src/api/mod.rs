//! The JSON API under `/api` (DESIGN §5): Prefect Cloud's paths and field names, API keys
//! as bearer tokens, FastAPI-shaped errors. Every decision about who may do what goes
//! through the same functions as the pages (`authz::account`, `workspaces::access::load`).

pub mod accounts;
pub mod body;
pub mod error;
pub mod events;
pub mod invitations;
pub mod me;
pub mod openapi;
pub mod roles;
pub mod schema;
pub mod service_accounts;
pub mod sso;
pub mod teams;
pub mod transfers;
pub mod user_access;
pub mod workspaces;

use actix_web::web;

pub use crate::web::api_ctx::{ApiAccount, ApiCaller, ApiWorkspace, path_id};
pub use crate::web::api_error::api_db as db;
pub use crate::web::api_error::api_op as op;
pub use error::ApiError;

/// Loads what a path names with one read (`None`: it does not exist for the caller, 404):
/// the first step of every handler that acts on one thing.
pub async fn load<T, F>(pool: &crate::db::Pool, read: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> diesel::QueryResult<Option<T>> + Send + 'static,
{
    db(pool, move |c| Ok(read(c)?))
        .await?
        .ok_or(ApiError::NotFound)
}

/// An operation's answer, its field errors mapped to the API's field names by `fields`
/// (the other refusals as [`ApiError`]'s `From`).
pub fn with_fields<T>(
    r: crate::outcome::OpResult<T>,
    fields: impl FnOnce(crate::outcome::FieldErrors) -> ApiError,
) -> Result<T, ApiError> {
    use crate::outcome::{OpError, Refusal};
    match r {
        Ok(v) => Ok(v),
        Err(OpError::Refused(Refusal::Invalid(f))) => Err(fields(f)),
        Err(e) => Err(e.into()),
    }
}

/// A path id that must be a UUID, as stored (lowercase, hyphenated); anything else is 404.
/// Parsed in the handler, after the caller was authenticated (401 comes first).
pub fn path_uuid(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::NotFound)
}

/// The `/api` scope.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .app_data(error::json_config())
            .app_data(error::path_config())
            .app_data(error::query_config())
            .configure(me::routes)
            .configure(service_accounts::routes)
            .configure(openapi::routes)
            .configure(transfers::routes)
            .configure(accounts::routes)
            .configure(invitations::routes)
            .configure(workspaces::routes)
            .configure(user_access::routes)
            .configure(teams::routes)
            .configure(sso::routes)
            .configure(roles::routes)
            .configure(events::routes)
            // Everything else below a workspace: the workspace's Prefect server.
            .configure(crate::gateway::routes)
            // Unmatched paths; below a workspace it checks the key first (401), then 404.
            .default_service(web::to(workspaces::fallback))
            .wrap(actix_web::middleware::from_fn(openapi::undocumented_method)),
    );
}
