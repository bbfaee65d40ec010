//! WebSockets through the gateway (issue #21, point 3).
//!
//! Prefect's clients authenticate a socket in one of two ways: `events/in` with the key in
//! the upgrade request (`Authorization: bearer <key>`), the others with subprotocol
//! `prefect` and a first message `{"type": "auth", "token": "<key>"}` (answered
//! `{"type": "auth_success"}`). Either way the key is checked like a bearer key (401/404/403
//! before the upgrade when it came with it; close code 1008 after it otherwise), then
//! Atrium opens the server's socket at an address the operator allows, with subprotocol
//! `prefect` and the server's own auth string in the first message, and relays frames both
//! ways. Both peers are pinged every [`PING_EVERY`]; a peer silent (not even a pong) for
//! [`IDLE`] is gone, so sockets that stay open for a process's whole life — a worker's, a
//! flow run's `events/in` — stay open. When who may do what changes
//! (`caller::Callers::changes`), every open socket checks its key again and is closed
//! (1008) if it no longer passes.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, Message as Up};

use super::caller::{Pass, Target};
use super::{Gateway, bearer, detail, refusal};
use crate::api::ApiError;
use crate::authz::gateway::{Gate, gate};

pub const PING_EVERY: Duration = Duration::from_secs(30);
pub const IDLE: Duration = Duration::from_secs(300);
/// How long a client has to send its auth message.
const AUTH_WITHIN: Duration = Duration::from_secs(10);
/// The largest frame relayed (events carry payloads).
const MAX_FRAME: usize = 16 * 1024 * 1024;

fn wants_prefect(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "prefect")
}

fn close_reason(msg: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::Policy,
        description: Some(msg.to_string()),
    })
}

/// The answer to an upgrade request under a workspace.
pub async fn open(
    req: HttpRequest,
    payload: web::Payload,
    gw: Gateway,
    ids: Option<(String, String)>,
    rest: String,
    ip: String,
) -> Result<HttpResponse, ApiError> {
    let g = gate("GET", &rest);
    if let Gate::Refused(why) = g {
        tracing::warn!("gateway: refused socket {rest} ({why})");
        return Ok(detail(StatusCode::FORBIDDEN, why));
    }
    let query = req.uri().query().unwrap_or("").to_string();
    let header_key = bearer(&req);
    let subprotocol = wants_prefect(&req);
    let (account_id, workspace_id) = match ids {
        Some(ids) => ids,
        None => {
            gw.pass(header_key.as_deref(), &ip, "-", "-", true).await?;
            return Err(ApiError::NotFound);
        }
    };
    let early = match &header_key {
        Some(key) => {
            let pass = gw
                .pass(Some(key), &ip, &account_id, &workspace_id, false)
                .await?;
            if let Some(r) = refusal(g, &pass, "GET", &rest, &query) {
                return Ok(r);
            }
            Some((pass, key.clone()))
        }
        None if subprotocol => None,
        None => return Err(ApiError::Unauthorized),
    };
    let (mut res, session, stream) = match actix_ws::handle(&req, payload) {
        Ok(x) => x,
        Err(_) => {
            return Ok(detail(
                StatusCode::BAD_REQUEST,
                "Not a websocket upgrade request.",
            ));
        }
    };
    if subprotocol && let Ok(v) = actix_web::http::header::HeaderValue::from_str("prefect") {
        res.headers_mut()
            .insert(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let stream = stream
        .max_frame_size(MAX_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME);
    actix_web::rt::spawn(async move {
        let s = Socket {
            gw,
            ip,
            account_id,
            workspace_id,
            rest,
            query,
        };
        s.run(early, session, stream).await;
    });
    Ok(res)
}

struct Socket {
    gw: Gateway,
    ip: String,
    account_id: String,
    workspace_id: String,
    rest: String,
    query: String,
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Socket {
    async fn check(&self, key: &str, fresh: bool) -> Result<std::sync::Arc<Pass>, String> {
        let pass = self
            .gw
            .pass(
                Some(key),
                &self.ip,
                &self.account_id,
                &self.workspace_id,
                fresh,
            )
            .await
            .map_err(|_| "Invalid token".to_string())?;
        if let Gate::Scopes(scopes) = gate("GET", &self.rest)
            && let Some(missing) = scopes.iter().find(|s| !pass.scopes.contains(s))
        {
            return Err(format!("Missing workspace scope: {missing}"));
        }
        Ok(pass)
    }

    /// The client's auth message: `{"type": "auth", "token": "<key>"}`, its first text
    /// frame. Pings before it are answered (Prefect's subscriber pings and waits for the
    /// pong before it sends the message).
    async fn auth_message(
        session: &mut actix_ws::Session,
        stream: &mut actix_ws::AggregatedMessageStream,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + AUTH_WITHIN;
        let text = loop {
            match tokio::time::timeout_at(deadline, stream.recv())
                .await
                .ok()??
            {
                Ok(AggregatedMessage::Ping(b)) => session.pong(&b).await.ok()?,
                Ok(AggregatedMessage::Pong(_)) => {}
                Ok(AggregatedMessage::Text(text)) => break text,
                _ => return None,
            }
        };
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        (v.get("type")?.as_str()? == "auth")
            .then(|| v.get("token")?.as_str().map(str::to_string))?
    }

    async fn connect(&self, pass: &Pass) -> Result<(Upstream, Target), String> {
        let target = self
            .gw
            .target(pass)
            .await
            .map_err(|_| "No Prefect server is reachable".to_string())?;
        let base = url::Url::parse(&target.url).map_err(|_| "bad server address")?;
        let host = crate::egress::server_host(&base).map_err(|b| b.message())?;
        let port = base.port_or_known_default().unwrap_or(80);
        let addrs: Vec<std::net::SocketAddr> = if target.managed {
            // Atrium's own server on loopback.
            vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]
        } else {
            self.gw
                .upstream
                .egress
                .resolve(&host, port)
                .await
                .map_err(|b| b.message())?
        };
        let tcp = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&addrs[..]),
        )
        .await
        .map_err(|_| "timed out")?
        .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let scheme = if base.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        let mut url = format!(
            "{scheme}://{}{}/api/{}",
            base.host_str().unwrap_or(&host),
            base.port().map(|p| format!(":{p}")).unwrap_or_default(),
            self.rest
        );
        if base.path() != "/" {
            url = format!(
                "{scheme}://{}{}{}/api/{}",
                base.host_str().unwrap_or(&host),
                base.port().map(|p| format!(":{p}")).unwrap_or_default(),
                base.path().trim_end_matches('/'),
                self.rest
            );
        }
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.query);
        }
        use tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            tungstenite::http::HeaderValue::from_static("prefect"),
        );
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_frame_size(Some(MAX_FRAME))
            .max_message_size(Some(MAX_FRAME));
        let (mut up, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(config), None),
        )
        .await
        .map_err(|_| "timed out")?
        .map_err(|e| e.to_string())?;
        let auth = serde_json::json!({ "type": "auth", "token": target.auth }).to_string();
        up.send(Up::Text(auth.into()))
            .await
            .map_err(|e| e.to_string())?;
        Ok((up, target))
    }

    async fn run(
        self,
        early: Option<(std::sync::Arc<Pass>, String)>,
        mut session: actix_ws::Session,
        mut client: actix_ws::AggregatedMessageStream,
    ) {
        // Who asks: from the upgrade request, or the first message.
        let by_message = early.is_none();
        let (mut pass, key) = match early {
            Some(p) => p,
            None => {
                let Some(key) = Self::auth_message(&mut session, &mut client).await else {
                    let _ = session.close(close_reason("Invalid token")).await;
                    return;
                };
                match self.check(&key, false).await {
                    Ok(p) => (p, key),
                    Err(why) => {
                        let _ = session.close(close_reason(&why)).await;
                        return;
                    }
                }
            }
        };
        let mut up = match self.connect(&pass).await {
            Ok((u, _)) => u,
            Err(e) => {
                tracing::warn!("gateway: socket {} to the server failed: {e}", self.rest);
                if let Some(t) = &pass.target {
                    super::forward::note(&self.gw, t, false);
                }
                let _ = session
                    .close(Some(CloseReason {
                        code: CloseCode::Again,
                        description: Some("The workspace's Prefect server is unreachable.".into()),
                    }))
                    .await;
                return;
            }
        };
        let mut changes = self.gw.callers.changes();
        changes.borrow_and_update();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let (mut client_seen, mut up_seen) = (Instant::now(), Instant::now());
        // The server's answer to Atrium's auth message goes to a client that sent its own.
        let mut server_authed = false;
        let why: Option<String> = loop {
            tokio::select! {
                m = client.recv() => {
                    client_seen = Instant::now();
                    let out = match m {
                        Some(Ok(AggregatedMessage::Text(t))) => Up::Text(t.to_string().into()),
                        Some(Ok(AggregatedMessage::Binary(b))) => Up::Binary(b),
                        Some(Ok(AggregatedMessage::Ping(b))) => {
                            if session.pong(&b).await.is_err() { break None; }
                            continue;
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => continue,
                        Some(Ok(AggregatedMessage::Close(_))) | Some(Err(_)) | None => break None,
                    };
                    if up.send(out).await.is_err() { break None; }
                }
                m = up.next() => {
                    up_seen = Instant::now();
                    let sent = match m {
                        Some(Ok(Up::Text(t))) => {
                            if !server_authed {
                                server_authed = true;
                                if !by_message && t.as_str().contains("auth_success") {
                                    continue;
                                }
                            }
                            session.text(t.as_str().to_string()).await
                        }
                        Some(Ok(Up::Binary(b))) => session.binary(b).await,
                        Some(Ok(Up::Ping(_))) | Some(Ok(Up::Pong(_))) | Some(Ok(Up::Frame(_))) => Ok(()),
                        Some(Ok(Up::Close(frame))) => {
                            let reason = frame.map(|f| CloseReason {
                                code: CloseCode::from(u16::from(f.code)),
                                description: Some(f.reason.as_str().to_string()),
                            });
                            let _ = session.close(reason).await;
                            return;
                        }
                        Some(Err(_)) | None => break Some("The workspace's Prefect server closed the connection.".into()),
                    };
                    if sent.is_err() { break None; }
                }
                _ = ping.tick() => {
                    if client_seen.elapsed() > IDLE || up_seen.elapsed() > IDLE {
                        break Some("Idle".into());
                    }
                    if session.ping(b"").await.is_err() { break None; }
                    if up.send(Up::Ping(Default::default())).await.is_err() { break None; }
                }
                c = changes.changed() => {
                    if c.is_err() { break None; }
                    match self.check(&key, true).await {
                        Ok(p) => pass = p,
                        Err(why) => break Some(why),
                    }
                }
            }
        };
        let _ = up.close(None).await;
        let _ = session
            .close(why.map(|w| CloseReason {
                code: CloseCode::Policy,
                description: Some(w),
            }))
            .await;
        drop(pass);
    }
}
