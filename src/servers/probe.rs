//! Checks a Prefect server before it is connected: `GET /api/health` and
//! `GET /api/admin/version` with its auth string, at an address the operator allows
//! (checked after name resolution, by the client's resolver), following no redirect. What
//! the server answered is reduced to its status: its body is never shown to the caller.

use base64::Engine;

use crate::egress::{Blocked, BlockedError, Upstream};

/// Why a server could not be connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    Blocked(Blocked),
    /// No answer (refused connection, time-out, TLS failure).
    Unreachable,
    /// It answered with a redirect, which Atrium does not follow.
    Redirected(u16),
    /// It refused the auth string (401 or 403).
    AuthRefused,
    /// Another answer than a Prefect server's.
    NotPrefect(u16),
}

impl ProbeError {
    /// The field the message belongs beside, and the message.
    pub fn field_message(&self) -> (&'static str, String) {
        match self {
            ProbeError::Blocked(b) => ("url", b.message()),
            ProbeError::Unreachable => (
                "url",
                "Atrium could not reach a server at this address.".into(),
            ),
            ProbeError::Redirected(s) => (
                "url",
                format!(
                    "The server answered with a redirect ({s}), which Atrium does not follow. Enter the address the Prefect server itself answers at."
                ),
            ),
            ProbeError::AuthRefused => (
                "auth_string",
                "The server refused this auth string (PREFECT_SERVER_API_AUTH_STRING).".into(),
            ),
            ProbeError::NotPrefect(s) => (
                "url",
                format!("The server answered {s} where a Prefect server answers 200."),
            ),
        }
    }
}

/// The `Authorization` header a Prefect server with `PREFECT_SERVER_API_AUTH_STRING` wants.
pub fn basic(auth: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(auth)
    )
}

/// What a failed request was: blocked by the egress check, or no answer.
pub fn failure(e: &reqwest::Error) -> ProbeError {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BlockedError>() {
            return ProbeError::Blocked(b.0.clone());
        }
        source = s.source();
    }
    ProbeError::Unreachable
}

async fn get(
    up: &Upstream,
    url: &url::Url,
    path: &str,
    auth: &str,
) -> Result<reqwest::Response, ProbeError> {
    let target = format!("{}{path}", url.as_str().trim_end_matches('/'));
    let res = up
        .http
        .get(&target)
        .header(reqwest::header::AUTHORIZATION, basic(auth))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| failure(&e))?;
    let status = res.status().as_u16();
    match status {
        200 => Ok(res),
        300..=399 => Err(ProbeError::Redirected(status)),
        401 | 403 => Err(ProbeError::AuthRefused),
        s => Err(ProbeError::NotPrefect(s)),
    }
}

/// Checks the server at `url` (normalized: no trailing slash) with `auth`; answers the
/// Prefect version it reports.
pub async fn check(up: &Upstream, url: &url::Url, auth: &str) -> Result<String, ProbeError> {
    up.egress.check_literal(url).map_err(ProbeError::Blocked)?;
    get(up, url, "/api/health", auth).await?;
    let res = get(up, url, "/api/admin/version", auth).await?;
    let body = res.bytes().await.map_err(|_| ProbeError::Unreachable)?;
    let version: String = serde_json::from_slice(&body).map_err(|_| ProbeError::NotPrefect(200))?;
    if version.is_empty() || version.len() > 64 || version.chars().any(|c| c.is_control()) {
        return Err(ProbeError::NotPrefect(200));
    }
    Ok(version)
}
