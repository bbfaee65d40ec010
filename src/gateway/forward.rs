//! HTTP through the gateway: the call goes to `<server>/api/<rest>?<query>` with the same
//! method, body and content headers, the server's credentials instead of the caller's key,
//! and no cookie; the answer comes back as it streams (status, headers, body), never
//! buffered whole — except the few answers the audit log needs to name the object, and
//! bodies (asked and answered) with a length up to [`READ_WHOLE`], which are read at once:
//! streaming them would only cost wake-ups.
//! A server that cannot be reached (or refuses Atrium's credentials) answers 503 with
//! `Retry-After`, and nothing of what it said is shown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{StreamExt, TryStreamExt};

use super::caller::{Pass, Target};
use super::{Gateway, detail, record};

/// Bodies (requests and answers) up to this size with a declared length are read whole
/// before they are passed on.
const READ_WHOLE: u64 = 256 * 1024;
/// An answer the audit log reads (to name the object) is read up to this size.
const AUDITED_ANSWER: usize = 4 * 1024 * 1024;

pub const UNREACHABLE: &str = "The workspace's Prefect server is unreachable. Try again shortly.";
pub const NO_SERVER: &str = "No Prefect server is connected to this workspace yet.";
pub const STARTING: &str =
    "The workspace's Prefect server is starting or could not start. Try again shortly.";

/// Request headers that are not the caller's to pass on.
fn forwardable_request(name: &str) -> bool {
    !matches!(
        name,
        "host"
            | "authorization"
            | "cookie"
            | "connection"
            | "keep-alive"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "x-forwarded-proto"
            | "forwarded"
    )
}

/// Answer headers that are not the server's to set on Atrium's answer.
fn forwardable_answer(name: &str) -> bool {
    !matches!(
        name,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "content-length"
            | "set-cookie"
            | "server"
            | "date"
            | "trailer"
            | "upgrade"
    )
}

/// True when a request failed because its pooled connection was already closed by the
/// server (reset, broken pipe, or closed before any answer): nothing reached the server.
fn stale_connection(e: &reqwest::Error) -> bool {
    if e.is_connect() || e.is_timeout() {
        return false;
    }
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
            )
        {
            return true;
        }
        if s.to_string()
            .contains("connection closed before message completed")
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// A server's `Location` (absolute at the server's address, or a path) mapped below the
/// workspace's public API address `public` (ending in `/`); `None` for anywhere else.
pub fn relocated(location: &str, server: &str, public: &str) -> Option<String> {
    let path = location
        .strip_prefix(server)
        .filter(|p| p.starts_with('/'))
        .or_else(|| location.starts_with('/').then_some(location))?;
    path.strip_prefix("/api/")
        .map(|rest| format!("{public}{rest}"))
}

/// The path on the server for `rest`: Prefect Cloud's `collections/work_pool_types` is the
/// open-source server's `collections/views/aggregate-worker-metadata`.
pub fn upstream_rest(rest: &str) -> &str {
    if rest.trim_end_matches('/') == "collections/work_pool_types" {
        "collections/views/aggregate-worker-metadata"
    } else {
        rest
    }
}

fn too_large(limit: usize) -> HttpResponse {
    detail(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The request body is larger than {} MiB, the most this Atrium instance forwards.",
            limit / (1024 * 1024)
        ),
    )
}

/// Notes what a call found about the server, and records a change of state.
pub fn note(gw: &Gateway, target: &Target, reachable: bool) {
    if target.managed {
        // The spawner keeps a managed server's state.
        return;
    }
    if !gw
        .callers
        .note_reachability(&target.workspace_id, reachable)
    {
        return;
    }
    let (pool, ws) = (gw.pool.clone(), target.workspace_id.clone());
    actix_web::rt::spawn(async move {
        let _ = crate::api::db(&pool, move |c| {
            Ok(crate::servers::ops::mark(
                c,
                &ws,
                reachable,
                crate::db::now(),
            )?)
        })
        .await;
    });
}

enum Body {
    Whole(web::Bytes),
    Streamed(reqwest::Body, Arc<AtomicBool>),
}

/// The request body: read whole when small (or when it must be looked into), else piped
/// through a bounded channel (actix's payload is not `Send`; the client's body must be),
/// counting bytes up to `limit`.
async fn body_of(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    read_whole: bool,
) -> Result<Body, HttpResponse> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let chunked = req
        .headers()
        .contains_key(actix_web::http::header::TRANSFER_ENCODING);
    if read_whole || declared.is_some_and(|n| n <= READ_WHOLE) || (declared.is_none() && !chunked) {
        return match payload.to_bytes_limited(limit).await {
            Ok(Ok(b)) => Ok(Body::Whole(b)),
            Ok(Err(_)) => Err(detail(
                StatusCode::BAD_REQUEST,
                "The request body could not be read.",
            )),
            Err(_) => Err(too_large(limit)),
        };
    }
    let over = Arc::new(AtomicBool::new(false));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    let flag = over.clone();
    actix_web::rt::spawn(async move {
        let mut n = 0usize;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(b) => {
                    n += b.len();
                    if n > limit {
                        flag.store(true, Ordering::Release);
                        Err(std::io::Error::other("request body too large"))
                    } else {
                        Ok(b)
                    }
                }
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Body::Streamed(reqwest::Body::wrap_stream(stream), over))
}

/// Forwards one call for a caller whose pass allows it.
pub async fn forward(
    req: &HttpRequest,
    payload: web::Payload,
    gw: &Gateway,
    pass: &Pass,
    g: crate::authz::gateway::Gate,
    rest: &str,
    query: &str,
) -> HttpResponse {
    let target = match gw.target(pass).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let target = &target;
    let mut url = format!("{}/api/{}", target.url, upstream_rest(rest));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let Ok(parsed) = url::Url::parse(&url) else {
        return detail(StatusCode::NOT_FOUND, "Not Found");
    };
    if !target.managed
        && let Err(b) = gw.upstream.egress.check_literal(&parsed)
    {
        tracing::warn!("gateway: {} is not allowed: {}", target.url, b.message());
        return detail(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
    }
    let method = req.method().as_str();
    let change = record::change_of(method, rest, g);
    let limit = gw.config.settings.gateway_max_body;
    let body = match body_of(req, payload, limit, record::may_read_secrets(method, rest)).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Body::Whole(b) = &body
        && record::asks_for_secrets(method, rest, b)
        && !pass.scopes.contains("see_secret_blocks")
    {
        return detail(
            StatusCode::FORBIDDEN,
            "Missing workspace scope: see_secret_blocks",
        );
    }
    let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    };
    let mut rb = gw.upstream.http.request(m, parsed);
    for (name, value) in req.headers() {
        if forwardable_request(name.as_str()) {
            rb = rb.header(name.as_str(), value.as_bytes());
        }
    }
    rb = rb.header("authorization", &target.basic);
    let over = match body {
        Body::Whole(b) => {
            rb = rb.body(b);
            None
        }
        Body::Streamed(s, over) => {
            if let Some(n) = req.headers().get(actix_web::http::header::CONTENT_LENGTH) {
                rb = rb.header("content-length", n.as_bytes());
            }
            rb = rb.body(s);
            Some(over)
        }
    };
    // A buffered request can be sent again when the pooled connection it went out on
    // turns out closed by the server (uvicorn closes a connection after a 500 without
    // saying so): the request never reached it.
    let again = if over.is_none() { rb.try_clone() } else { None };
    let sent = match (rb.send().await, again) {
        (Err(e), Some(again)) if stale_connection(&e) => again.send().await,
        (r, _) => r,
    };
    let res = match sent {
        Ok(r) => r,
        Err(e) => {
            if over.is_some_and(|o| o.load(Ordering::Acquire)) {
                return too_large(limit);
            }
            tracing::warn!(
                "gateway: {} {}: {} ({e:#})",
                method,
                target.url,
                crate::servers::probe::failure(&e).field_message().1
            );
            note(gw, target, false);
            return detail(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
        }
    };
    let status = res.status().as_u16();
    if status == 401 {
        // The server refused Atrium's credentials: its auth string changed.
        tracing::warn!("gateway: {} refused the stored auth string", target.url);
        note(gw, target, false);
        return detail(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
    }
    note(gw, target, true);
    let mut out =
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in res.headers() {
        if name == reqwest::header::LOCATION {
            // A redirect names the server's own address: it becomes the workspace's
            // address at Atrium, or is dropped (the server's address is not told).
            let public = format!(
                "{}/api/accounts/{}/workspaces/{}/",
                gw.config.base(),
                pass.account_id,
                pass.workspace_id
            );
            if let Some(l) = value
                .to_str()
                .ok()
                .and_then(|l| relocated(l, &target.url, &public))
                .and_then(|l| HeaderValue::from_str(&l).ok())
            {
                out.append_header((actix_web::http::header::LOCATION, l));
            }
            continue;
        }
        if forwardable_answer(name.as_str())
            && let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            )
        {
            out.append_header((n, v));
        }
    }
    if let Some(change) = change {
        let bytes = read_limited(res, AUDITED_ANSWER).await;
        let Some(bytes) = bytes else {
            return detail(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE);
        };
        record::record(
            gw,
            pass,
            &change,
            rest,
            status,
            &bytes,
            crate::web::client_ip(req),
        )
        .await;
        return out.body(bytes);
    }
    let len = res.content_length();
    if len.is_some_and(|n| n <= READ_WHOLE) {
        // A small answer of known length goes out in one write: streaming it would wake
        // the handler once per chunk the server's socket delivers.
        return match res.bytes().await {
            Ok(b) => out.body(b),
            Err(e) => {
                tracing::warn!(
                    "gateway: {} {}: the answer broke off ({e:#})",
                    method,
                    target.url
                );
                detail(StatusCode::SERVICE_UNAVAILABLE, UNREACHABLE)
            }
        };
    }
    let stream = res.bytes_stream().map_err(std::io::Error::other);
    match len {
        Some(n) => out.body(SizedStream::new(n, stream)),
        None => out.streaming(stream),
    }
}

/// The whole answer, up to `limit` bytes (`None`: it broke off or was larger).
async fn read_limited(res: reqwest::Response, limit: usize) -> Option<web::Bytes> {
    let mut out = web::BytesMut::new();
    let mut s = res.bytes_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.ok()?;
        if out.len() + chunk.len() > limit {
            return None;
        }
        out.extend_from_slice(&chunk);
    }
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::relocated;

    #[test]
    fn redirects_point_at_atrium_or_are_dropped() {
        let public = "https://atrium.example/api/accounts/a/workspaces/w/";
        let server = "http://10.0.0.5:4200";
        assert_eq!(
            relocated(
                "http://10.0.0.5:4200/api/work_pools/p/queues",
                server,
                public
            )
            .as_deref(),
            Some("https://atrium.example/api/accounts/a/workspaces/w/work_pools/p/queues")
        );
        assert_eq!(
            relocated("/api/flows/?x=1", server, public).as_deref(),
            Some("https://atrium.example/api/accounts/a/workspaces/w/flows/?x=1")
        );
        for elsewhere in [
            "http://169.254.169.254/latest",
            "http://10.0.0.5:4200.evil/api/x",
            "//evil.example/api/x",
            "/docs",
            "http://10.0.0.5:4200/docs",
        ] {
            assert_eq!(relocated(elsewhere, server, public), None, "{elsewhere}");
        }
    }
}
