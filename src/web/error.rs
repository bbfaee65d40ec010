//! The application error at the HTTP edge, and the pages that show errors.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("log-in required")]
    LoginRequired { next: String, htmx: bool },
    /// The account requires its SSO provider and this session did not come through it.
    #[error("single sign-on required")]
    SsoRequired {
        account_id: String,
        next: String,
        htmx: bool,
    },
    /// The account requires two-factor authentication, which the user has not set up: they
    /// are sent to set it up (`web::ctx`).
    #[error("two-factor authentication required")]
    TwoFactorRequired { htmx: bool },
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    #[error("service unavailable")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            AppError::Unavailable(format!("database: {e}"))
        } else {
            AppError::Internal(e.into())
        }
    }
}

/// An operation's refusal on a page that has no form to show it beside (pages with a
/// form match [`OpError::Refused`] first and render the message there).
impl From<crate::outcome::OpError> for AppError {
    fn from(e: crate::outcome::OpError) -> Self {
        use crate::outcome::{OpError, Refusal};
        match e {
            OpError::Refused(Refusal::NotFound) => AppError::NotFound,
            OpError::Refused(Refusal::Forbidden(_)) => AppError::Forbidden,
            OpError::Refused(
                r @ (Refusal::Conflict(_) | Refusal::Invalid(_) | Refusal::InvalidItem(..)),
            ) => AppError::Internal(anyhow::anyhow!("refusal with no page to show it: {r:?}")),
            OpError::Db(e) => e.into(),
            OpError::Internal(e) => AppError::Internal(e),
        }
    }
}

/// A context's refusal (`web::ctx::gate`): 404 or 403 (a page with a form to show a
/// conflict or field errors handles those itself).
impl From<crate::outcome::Refusal> for AppError {
    fn from(r: crate::outcome::Refusal) -> Self {
        crate::outcome::OpError::Refused(r).into()
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Unavailable(format!("database pool: {e}"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::LoginRequired { .. } | AppError::SsoRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TwoFactorRequired { .. } => StatusCode::SEE_OTHER,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired { next, htmx } => {
                let to = format!(
                    "/auth/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if *htmx {
                    HttpResponse::Unauthorized()
                        .insert_header(("HX-Redirect", to))
                        .finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, to))
                        .finish()
                }
            }
            AppError::SsoRequired {
                account_id,
                next,
                htmx,
            } => {
                let to = format!(
                    "/auth/sso/account/{account_id}?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                if *htmx {
                    HttpResponse::Unauthorized()
                        .insert_header(("HX-Redirect", to))
                        .finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, to))
                        .finish()
                }
            }
            AppError::TwoFactorRequired { htmx } => {
                let to = "/profile/two-factor";
                if *htmx {
                    HttpResponse::Ok()
                        .insert_header(("HX-Redirect", to))
                        .finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, to))
                        .finish()
                }
            }
            AppError::TooManyRequests { retry_after } => HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, retry_after.to_string()))
                .finish(),
            AppError::Internal(e) => {
                tracing::error!("internal error: {e:#}");
                HttpResponse::InternalServerError().finish()
            }
            AppError::Unavailable(why) => {
                tracing::error!("service unavailable: {why}");
                HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, "1"))
                    .finish()
            }
            other => HttpResponse::build(other.status_code()).finish(),
        }
    }
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    code: u16,
    title: &'a str,
    message: &'a str,
    /// The log-in address back to the page (a 401: the session ended).
    login: Option<String>,
}

#[derive(Template)]
#[template(path = "errors/fragment.html")]
struct ErrorFragment<'a> {
    title: &'a str,
    message: &'a str,
    login: Option<String>,
}

/// The log-in address that comes back to the page the request was made from: the page
/// htmx names (`HX-Current-URL`) or the form's referrer (its path only, and only a path
/// `safe_next` accepts).
fn login_back(req: &actix_web::HttpRequest) -> String {
    let page = ["HX-Current-URL", "Referer"]
        .iter()
        .filter_map(|h| req.headers().get(*h)?.to_str().ok())
        .find_map(|u| url::Url::parse(u).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        });
    let next = crate::authn::safe_next(page.as_deref());
    format!(
        "/auth/login?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Bad request",
            "The request could not be read: a field or a parameter is malformed or given twice. Go back, reload the page and try again.",
        ),
        403 => (
            "Not allowed",
            "You do not have permission to do that. Ask an administrator of the account if you need it.",
        ),
        404 => (
            "Page not found",
            "There is nothing here, or you do not have access to it.",
        ),
        405 => ("Not allowed", "That action is not available here."),
        401 => ("Signed out", super::csrf::SIGNED_OUT),
        413 => ("Request too large", super::limits::TOO_LARGE),
        429 => (
            "Too many requests",
            "Slow down a little and try again in a minute.",
        ),
        503 => ("Busy", "Atrium is busy right now. Try again in a moment."),
        _ => (
            "Something went wrong",
            "An unexpected error happened. It has been logged; try again, and tell your administrator if it keeps happening.",
        ),
    }
}

/// Replaces the body of an error response with the error page (or, for htmx, a fragment
/// swapped into the page's `#flash` region). Handlers that render their own error body
/// (e.g. a form with field errors, a 403 with an explanation) keep it.
pub fn render_error<B: actix_web::body::MessageBody>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let status = res.status();
    if res.request().path().starts_with("/api/") || res.request().path() == "/api" {
        return Ok(ErrorHandlerResponse::Response(api_error_body(res)));
    }
    let htmx = res.request().headers().get("HX-Request").is_some();
    // A page's htmx call that needs a log-in is sent there whole (`AppError::LoginRequired`).
    if res.response().headers().contains_key("HX-Redirect") {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let has_own_body = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if has_own_body {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let plain_message = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    let (title, default_message) = describe(status);
    let (req, res) = res.into_parts();
    // A 400's plain text comes from a parser (form, query, path, JSON) and names its
    // internals (types, fields, positions): the page says only what went wrong.
    let custom = if plain_message && status != StatusCode::BAD_REQUEST {
        // A short explanation written by the handler or middleware (e.g. the CSRF check).
        match actix_web::body::to_bytes_limited(res.into_body(), 4096).now_or_never() {
            Some(Ok(Ok(b))) => String::from_utf8(b.to_vec()).ok(),
            _ => None,
        }
    } else {
        None
    };
    let message = custom.as_deref().unwrap_or(default_message);
    let login = (status == StatusCode::UNAUTHORIZED).then(|| login_back(&req));
    let body = if htmx {
        ErrorFragment {
            title,
            message,
            login,
        }
        .render()
    } else {
        ErrorPage {
            code: status.as_u16(),
            title,
            message,
            login,
        }
        .render()
    }
    .unwrap_or_else(|_| format!("{} {}", status.as_u16(), title));
    let mut builder = HttpResponse::build(status);
    builder.content_type("text/html; charset=utf-8");
    if htmx {
        builder
            .insert_header(("HX-Retarget", "#flash"))
            .insert_header(("HX-Reswap", "innerHTML"));
    }
    let new = builder.body(body);
    let res: ServiceResponse<EitherBody<B, BoxBody>> = ServiceResponse::new(req, new)
        .map_into_boxed_body()
        .map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

use futures_util::FutureExt;

/// API paths keep JSON error bodies; bodiless errors (405, 413, …) get `{"detail": …}`.
fn api_error_body<B: actix_web::body::MessageBody>(
    res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return res.map_into_left_body();
    }
    let status = res.status();
    let (title, _) = describe(status);
    let (req, _) = res.into_parts();
    let new = HttpResponse::build(status).json(serde_json::json!({ "detail": title }));
    ServiceResponse::new(req, new)
        .map_into_boxed_body()
        .map_into_right_body()
}

/// Middleware, outside the session middleware: a session that cannot be loaded or saved
/// because the database cannot answer (pool exhausted, PostgreSQL restarting) is answered
/// 503 with `Retry-After`, like every other request then, instead of actix-session's 500.
pub async fn unavailable_as_503<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    next.call(req).await.map_err(|e| {
        // actix-session's error shows its cause (our store's error) only in `Debug`.
        let described = format!("{e:?}");
        if described.contains(crate::authn::session_store::UNAVAILABLE) {
            AppError::Unavailable(described).into()
        } else {
            e
        }
    })
}

/// An operation's answer for a page with a form: its field errors, to show beside the
/// fields (`Ok(Err(…))`), or the value; any other refusal is the page's error.
pub fn with_fields<T>(
    r: crate::outcome::OpResult<T>,
) -> Result<Result<T, crate::outcome::FieldErrors>, AppError> {
    use crate::outcome::{OpError, Refusal};
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(OpError::Refused(Refusal::Invalid(f))) => Ok(Err(f)),
        Err(e) => Err(e.into()),
    }
}

/// The message a page shows for an operation's refusal (its reason, or its field errors in
/// one line) when the page shows it in one place; a refusal without words (404, a bare
/// 403) and any failure are the page's error.
pub fn refusal_text(e: crate::outcome::OpError) -> Result<String, AppError> {
    use crate::outcome::{OpError, Refusal};
    match e {
        OpError::Refused(Refusal::Forbidden(Some(r)) | Refusal::Conflict(r)) => {
            Ok(r.message().to_string())
        }
        OpError::Refused(Refusal::Invalid(f) | Refusal::InvalidItem(_, f)) => Ok(f
            .0
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join(" ")),
        other => Err(other.into()),
    }
}
