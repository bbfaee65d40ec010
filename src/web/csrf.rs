//! CSRF protection: a synchronizer token kept in the session, checked on every
//! state-changing request of the browser UI (forms send it as the `csrf_token` field,
//! htmx as the `X-CSRF-Token` header from `hx-headers` on `<body>`), plus an
//! Origin / Fetch-Metadata check. The JSON API under `/api/` uses bearer keys and no
//! cookies, so it is exempt.

use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use url::Url;

use crate::authn::SESSION_CSRF;
use crate::web::limits::{MAX_BODY, too_large};

pub const HEADER: &str = "X-CSRF-Token";
pub const FIELD: &str = "csrf_token";

/// The configured public origin, for the Origin check.
#[derive(Clone)]
pub struct PublicOrigin(pub String);

fn is_safe(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn origin_of(url: &str) -> Option<String> {
    let u = Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization())
}

/// False when the request visibly comes from another site.
fn same_origin(req: &ServiceRequest) -> bool {
    from_this_site(req.request(), false)
}

/// False when the request visibly comes from another site: Fetch Metadata says
/// `cross-site`, or its Origin (else Referer) is not Atrium's. `required`: a request that
/// names no origin at all is refused too (session-authenticated API calls, which browsers
/// always send with an Origin when they change something).
pub fn from_this_site(req: &actix_web::HttpRequest, required: bool) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("Sec-Fetch-Site").and_then(|v| v.to_str().ok())
        && site.eq_ignore_ascii_case("cross-site")
    {
        return false;
    }
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null")
        .map(str::to_string)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(origin_of)
        });
    let Some(claimed) = claimed else {
        return !required;
    };
    let configured = req
        .app_data::<web::Data<PublicOrigin>>()
        .map(|o| o.0.clone());
    if configured.as_deref() == Some(claimed.as_str()) {
        return true;
    }
    // Also accept the host the browser itself addressed (e.g. localhost vs 127.0.0.1).
    let scheme = req.connection_info().scheme().to_string();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    claimed == format!("{scheme}://{host}")
}

fn forbidden<B>(req: ServiceRequest, why: &str) -> ServiceResponse<EitherBody<B>> {
    tracing::warn!(path = %req.path(), "CSRF check failed: {why}");
    let resp = HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(
            "The form has expired or did not come from this site. Reload the page and try again.",
        );
    req.into_response(resp).map_into_right_body()
}

/// The request carries a session cookie whose session is gone (ended on the sessions
/// page or elsewhere, expired, or logged out in another tab) from a page of the signed-in
/// UI: the person was signed out, and is told so rather than that the form expired.
fn signed_out(req: &ServiceRequest) -> bool {
    !req.path().starts_with("/auth/")
        && ["atrium_session", "__Host-atrium"]
            .iter()
            .any(|name| req.cookie(name).is_some())
}

/// What a change from a page whose session ended gets: 401 with the message; the error
/// renderer (`web::error::render_error`) adds the log-in link back to the page.
fn signed_out_response<B>(req: ServiceRequest) -> ServiceResponse<EitherBody<B>> {
    tracing::info!(path = %req.path(), "a change from a session that has ended");
    let resp = HttpResponse::Unauthorized()
        .content_type("text/plain; charset=utf-8")
        .body(SIGNED_OUT);
    req.into_response(resp).map_into_right_body()
}

pub const SIGNED_OUT: &str =
    "You were signed out, so nothing was changed. Log in again, then make the change again.";

/// Middleware (use with `actix_web::middleware::from_fn`, inside the session middleware).
pub async fn guard<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if is_safe(req.method()) || req.path().starts_with("/api/") {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    if !same_origin(&req) {
        return Ok(forbidden(req, "cross-origin request"));
    }
    let expected = req.get_session().get::<String>(SESSION_CSRF).ok().flatten();
    let Some(expected) = expected else {
        if signed_out(&req) {
            return Ok(signed_out_response(req));
        }
        return Ok(forbidden(req, "no token in session"));
    };
    let mut provided = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if provided.is_none() {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let body = match req.extract::<web::Bytes>().await {
                Ok(b) if b.len() <= MAX_BODY => b,
                Ok(_) => return Ok(too_large_response(req)),
                Err(e) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Ok(too_large_response(req));
                }
                Err(_) => return Ok(forbidden(req, "unreadable form")),
            };
            provided = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v.into_owned());
            req.set_payload(bytes_to_payload(body));
        }
    }
    match provided {
        Some(p) if constant_time_eq(p.as_bytes(), expected.as_bytes()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        _ => Ok(forbidden(req, "missing or wrong token")),
    }
}

fn too_large_response<B>(req: ServiceRequest) -> ServiceResponse<EitherBody<B>> {
    let resp = too_large(req.path());
    req.into_response(resp).map_into_right_body()
}

fn bytes_to_payload(buf: web::Bytes) -> actix_web::dev::Payload {
    let (_, mut pl) = actix_http::h1::Payload::create(true);
    pl.unread_data(buf);
    actix_web::dev::Payload::from(pl)
}
