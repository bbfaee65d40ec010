//! Security headers on every response (pages, fragments, errors, static files).

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::DefaultHeaders;

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `https`: the public URL is https, so browsers are told to use nothing else for a year
/// (`Strict-Transport-Security`; not sent over plain http, where it would mean nothing).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = if https {
        DefaultHeaders::new().add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        DefaultHeaders::new()
    };
    headers
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
}

/// `Cache-Control` for responses: static files are immutable (versioned by the binary),
/// everything else is per-user and never stored.
pub fn cache_control(path: &str) -> (HeaderName, HeaderValue) {
    let v = if path.starts_with("/static/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-store"
    };
    (
        actix_web::http::header::CACHE_CONTROL,
        HeaderValue::from_static(v),
    )
}
