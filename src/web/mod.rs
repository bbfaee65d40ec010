//! Shared web plumbing: the page shell, rendering, errors, headers.

pub mod api_ctx;
pub mod api_error;
pub mod assets;
pub mod csrf;
pub mod ctx;
pub mod error;
pub mod flash;
pub mod headers;
pub mod limits;
pub mod list;
pub mod shell;
pub mod sudo;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

pub use error::{AppError, refusal_text, with_fields};
pub use shell::Shell;

/// True for requests made by htmx (they get the fragment that changed).
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers()
        .get("HX-Request")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// The client's address: the socket peer (forwarded headers are client-controlled).
pub fn client_ip(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".into();
    };
    match req.app_data::<actix_web::web::Data<crate::settings::TrustedProxies>>() {
        Some(trusted) if trusted.contains(peer) => forwarded_client(req.headers(), trusted)
            .unwrap_or(peer)
            .to_string(),
        _ => peer.to_string(),
    }
}

/// The client a trusted proxy names: walking `X-Forwarded-For` (else `Forwarded`'s `for=`)
/// from the nearest hop back, the first address that is not itself a trusted proxy (a
/// client can write anything at the start of the list; only what trusted hops appended
/// counts). `None` when the headers name no address.
pub fn forwarded_client(
    headers: &actix_web::http::header::HeaderMap,
    trusted: &crate::settings::TrustedProxies,
) -> Option<std::net::IpAddr> {
    let xff: Vec<String> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    let hops: Vec<String> = if !xff.is_empty() {
        xff
    } else {
        headers
            .get_all("forwarded")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
            .filter_map(|elem| {
                elem.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            })
            .collect()
    };
    let parse = |s: &str| -> Option<std::net::IpAddr> {
        if let Ok(ip) = s.parse() {
            return Some(ip);
        }
        // `[2001:db8::1]:4711`, `192.0.2.60:8080`
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Some(sa.ip());
        }
        s.strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .and_then(|r| r.parse().ok())
    };
    let mut last = None;
    for hop in hops.iter().rev() {
        let ip = parse(hop)?;
        if !trusted.contains(ip) {
            return Some(ip);
        }
        last = Some(ip);
    }
    last
}

/// Renders a template with a status code.
/// The buffer a page is rendered into starts this large (bytes): the largest pages, 50
/// list rows, fit without growing it.
const RENDER_CAPACITY: usize = 48 * 1024;

pub fn render<T: Template>(status: StatusCode, tpl: &T) -> Result<HttpResponse, AppError> {
    // Room for a whole list page up front: askama's own size hint counts a template's
    // text, not its loops, and the members page (about 40 KiB) otherwise grew its buffer
    // five times, copying it each time (a few per cent of the page's CPU in `perf`).
    let mut body = String::with_capacity(T::SIZE_HINT.max(RENDER_CAPACITY));
    tpl.render_into(&mut body)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Vary", "HX-Request"))
        .body(body))
}

pub fn page<T: Template>(tpl: &T) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, tpl)
}

/// A redirect that works for plain and htmx requests.
pub fn redirect(req: &HttpRequest, to: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", to))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .finish()
    }
}

/// A GET of an address that only takes a form's POST (the address bar holds it after the
/// form came back with an error, and it is bookmarked or reloaded): 303 to the page the
/// form is on, instead of a 405 (issue #24, point 7).
pub fn back_to(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

/// Runs blocking database work off the async executor, with a pooled connection.
pub async fn db<T, F>(pool: &crate::db::Pool, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> Result<T, AppError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(AppError::from)?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// Runs one operation (`<domain>::ops`, answering [`OpResult`]) on a pooled connection off
/// the async threads; its refusal becomes the page error.
///
/// [`OpResult`]: crate::outcome::OpResult
pub async fn op<T, F>(pool: &crate::db::Pool, f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn) -> crate::outcome::OpResult<T> + Send + 'static,
{
    db(pool, move |c| Ok(f(c)?)).await
}

pub use crate::outcome::FieldErrors;
