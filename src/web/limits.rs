//! Request size limits: every form and JSON body is at most [`MAX_BODY`] bytes. A request
//! that declares more (`Content-Length`) is answered 413 before the session is loaded or
//! the body read; a body that turns out larger while it is read (chunked) is stopped by
//! the extractors' limits, set from the same constant. Nothing of a refused request is
//! stored.

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

/// The largest request body Atrium reads: forms (pages) and JSON (`/api`).
pub const MAX_BODY: usize = 64 * 1024;

/// What a refused page request says (shown on the error page).
pub const TOO_LARGE: &str =
    "The request is larger than Atrium accepts (64 KiB). Shorten what you entered and try again.";

/// The 413 answer: `{"detail": …}` under `/api`, a short text for pages (which the error
/// page handler turns into the error page).
pub fn too_large(path: &str) -> HttpResponse {
    if path == "/api" || path.starts_with("/api/") {
        HttpResponse::PayloadTooLarge().json(serde_json::json!({
            "detail": "Request body too large (at most 64 KiB)"
        }))
    } else {
        HttpResponse::PayloadTooLarge()
            .content_type("text/plain; charset=utf-8")
            .body(TOO_LARGE)
    }
}

/// True when `path` holds `%00`–`%1F` or `%7F`.
fn has_encoded_control(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1].to_ascii_uppercase(), w[2].to_ascii_uppercase()),
                (b'0' | b'1', b'0'..=b'9' | b'A'..=b'F') | (b'7', b'F')
            )
    })
}

/// The 404 answer: `{"detail": "Not Found"}` under `/api`, the error page for pages.
fn not_found(path: &str) -> HttpResponse {
    if path == "/api" || path.starts_with("/api/") {
        // The API's 404 body (`web::api_error` answers the same for an unknown id).
        HttpResponse::NotFound().json(serde_json::json!({ "detail": "Not found" }))
    } else {
        HttpResponse::NotFound().finish()
    }
}

/// True for `/api/accounts/{a}/workspaces/{w}/<rest>`: the workspace gateway's calls carry
/// flows' large payloads and have a limit of their own
/// (`Settings::gateway_max_body`, checked by the gateway as it reads); Atrium's own
/// handlers below a workspace still read at most [`MAX_BODY`] (their extractors' limits).
fn below_a_workspace(path: &str) -> bool {
    let mut segs = path.split('/');
    matches!(
        (segs.next(), segs.next(), segs.next(), segs.next(), segs.next(), segs.next(), segs.next()),
        (Some(""), Some("api"), Some("accounts"), Some(a), Some("workspaces"), Some(w), Some(_))
            if !a.is_empty() && !w.is_empty()
    )
}

/// Middleware: 413 for a request whose declared length is above [`MAX_BODY`]; 404 for a
/// path with an encoded control character.
pub async fn body_limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) && !below_a_workspace(req.path()) {
        let resp = too_large(req.path());
        return Ok(req.into_response(resp).map_into_right_body());
    }
    // A path with an encoded control character (`%00`, `%0d`…) names nothing: 404 before
    // any lookup (PostgreSQL cannot even compare a NUL), the same on both backends.
    if has_encoded_control(req.path()) {
        let resp = not_found(req.path());
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::below_a_workspace;

    #[test]
    fn only_calls_below_a_workspace_have_the_gateways_limit() {
        assert!(below_a_workspace("/api/accounts/a/workspaces/w/logs/"));
        assert!(below_a_workspace("/api/accounts/a/workspaces/w/"));
        assert!(!below_a_workspace("/api/accounts/a/workspaces/w"));
        assert!(!below_a_workspace("/api/accounts/a/workspaces/"));
        assert!(!below_a_workspace("/api/accounts/a/bots/b/x"));
        assert!(!below_a_workspace("/account/a/workspace/w/settings"));
        assert!(!below_a_workspace("/api/accounts//workspaces/w/x"));
    }
}
