//! API errors: `{"detail": "…"}` bodies, and 422 with FastAPI's `HTTPValidationError`
//! shape (`{"detail": [{"loc": ["body", "name"], "msg": "…", "type": "value_error"}]}`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError};
use serde::Serialize;

use super::AppError;

pub const INVALID_CREDENTIALS: &str = "Invalid authentication credentials";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthorized")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// 403 with the reason (e.g. a role above the caller's own).
    #[error("denied: {0}")]
    Denied(String),
    /// Bad input: `(location, message)` pairs; the location is `["body", field]` etc.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// One entry of a 422 body. `loc` is `["body", "field"]`, or `["body", "0", "field"]` for
/// an item of a list body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    pub fn body(field: &str, msg: impl Into<String>) -> Self {
        FieldError {
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
            kind: "value_error".into(),
        }
    }

    /// An error at `loc` (e.g. `["body", "0", "email"]`) of the given FastAPI `type`.
    pub fn at(loc: Vec<String>, kind: &str, msg: impl Into<String>) -> Self {
        FieldError {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

impl ApiError {
    /// A 422 for one body field.
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::body(field, msg)])
    }

    /// A 422 from the page forms' field errors.
    pub fn from_fields(errors: crate::outcome::FieldErrors) -> Self {
        ApiError::Validation(
            errors
                .0
                .into_iter()
                .map(|(f, m)| FieldError::body(f, m))
                .collect(),
        )
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            ApiError::Unavailable(format!("database: {e}"))
        } else {
            ApiError::Internal(e.into())
        }
    }
}

/// An operation's refusal: 404, 403 (with the reason as `detail` when there is one), 409
/// with the reason, 422 with the fields (under `body`; handlers whose field names differ
/// from the page's map them before).
impl From<crate::outcome::OpError> for ApiError {
    fn from(e: crate::outcome::OpError) -> Self {
        use crate::outcome::{OpError, Refusal};
        match e {
            OpError::Refused(Refusal::NotFound) => ApiError::NotFound,
            OpError::Refused(Refusal::Forbidden(None)) => ApiError::Forbidden,
            OpError::Refused(Refusal::Forbidden(Some(r))) => ApiError::Denied(r.message().into()),
            OpError::Refused(Refusal::Conflict(r)) => ApiError::Conflict(r.message().into()),
            OpError::Refused(Refusal::Invalid(fields) | Refusal::InvalidItem(_, fields)) => {
                ApiError::from_fields(fields)
            }
            OpError::Db(e) => e.into(),
            OpError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::outcome::Refusal> for ApiError {
    fn from(r: crate::outcome::Refusal) -> Self {
        crate::outcome::OpError::Refused(r).into()
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::NotFound,
            AppError::Forbidden => ApiError::Forbidden,
            AppError::LoginRequired { .. } => ApiError::Unauthorized,
            AppError::SsoRequired { .. } => ApiError::Forbidden,
            AppError::TwoFactorRequired { .. } => ApiError::Forbidden,
            AppError::TooManyRequests { .. } => ApiError::Unavailable("rate limited".into()),
            AppError::Unavailable(w) => ApiError::Unavailable(w),
            AppError::Internal(e) => ApiError::Internal(e),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidationDetail {
    pub detail: Vec<FieldError>,
}

fn detail(status: StatusCode, msg: &str) -> HttpResponse {
    HttpResponse::build(status).json(Detail {
        detail: msg.to_string(),
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Forbidden | ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Unauthorized => detail(status, INVALID_CREDENTIALS),
            ApiError::NotFound => detail(status, "Not found"),
            ApiError::Forbidden => detail(status, "Forbidden"),
            ApiError::Denied(msg) => detail(status, msg),
            ApiError::Validation(errors) => HttpResponse::build(status).json(ValidationDetail {
                detail: errors.clone(),
            }),
            ApiError::Conflict(msg) => detail(status, msg),
            ApiError::Unavailable(why) => {
                tracing::error!("service unavailable: {why}");
                HttpResponse::build(status)
                    .insert_header(("Retry-After", "1"))
                    .json(Detail {
                        detail: "Service unavailable; try again shortly".into(),
                    })
            }
            ApiError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                detail(status, "Internal server error")
            }
        }
    }
}

/// Every unmatched path under `/api`.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Unreadable JSON bodies answer 422 like FastAPI, not 400.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(crate::web::limits::MAX_BODY)
        .error_handler(|err, _req: &HttpRequest| {
            let msg = match &err {
                JsonPayloadError::Deserialize(e) => e.to_string(),
                JsonPayloadError::ContentType => {
                    "Expected a JSON body (Content-Type: application/json)".into()
                }
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    return actix_web::error::InternalError::from_response(
                        err,
                        crate::web::limits::too_large("/api"),
                    )
                    .into();
                }
                other => other.to_string(),
            };
            let resp = ApiError::Validation(vec![FieldError {
                loc: vec!["body".into()],
                msg,
                kind: "value_error".into(),
            }])
            .error_response();
            actix_web::error::InternalError::from_response(err, resp).into()
        })
}

/// Malformed path parameters (e.g. an id that is not a UUID) answer 404.
pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default().error_handler(|err, _| {
        actix_web::error::InternalError::from_response(err, ApiError::NotFound.error_response())
            .into()
    })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _| {
        let resp = ApiError::Validation(vec![FieldError {
            loc: vec!["query".into()],
            msg: err.to_string(),
            kind: "value_error".into(),
        }])
        .error_response();
        actix_web::error::InternalError::from_response(err, resp).into()
    })
}

/// Runs `f` on a pooled connection off the async executor, with API errors.
/// [`api_db`] for one operation (`<domain>::ops`): its refusal becomes the API error.
pub async fn api_op<T, F>(pool: &crate::db::Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::db::DbConn) -> crate::outcome::OpResult<T> + Send + 'static,
    T: Send + 'static,
{
    api_db(pool, move |c| Ok(f(c)?)).await
}

pub async fn api_db<T, F>(pool: &crate::db::Pool, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("blocking task: {e}")))?
}
