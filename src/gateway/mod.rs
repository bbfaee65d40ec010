//! The workspace gateway (DESIGN §7, issue #21): every call under
//! `/api/accounts/{account_id}/workspaces/{workspace_id}/<rest>` that Atrium does not serve
//! itself goes to the workspace's Prefect server at `/api/<rest>`, for a caller whose key
//! passes ([`caller`]) and who holds the scopes the operation needs (one table:
//! `authz::gateway`). HTTP is streamed both ways ([`forward`]); websockets are relayed
//! after the key was checked ([`socket`]); changes to deployments, work pools, blocks and
//! the like are recorded in the account's audit log ([`record`]).
//!
//! Errors have Prefect Cloud's shape, `{"detail": …}`: 401 for a missing or bad key, 404
//! when the key has no access to the workspace (or it does not exist), 403 naming the
//! missing scope, 403 for an operation outside the table (fail closed, logged), 503 with
//! `Retry-After` when the server is unreachable or none is connected, 413 above
//! [`crate::settings::Settings::gateway_max_body`].

pub mod caller;
pub mod forward;
pub mod record;
pub mod session;
pub mod socket;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api::ApiError;
use crate::authz::gateway::{Gate, gate};
use crate::egress::Upstream;
use crate::settings::AppConfig;
use caller::{Callers, Pass};

/// The routes, inside the `/api` scope, after Atrium's own (which win).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/accounts/{account_id}/workspaces/{workspace_id}/{rest:.*}").to(routed),
    );
}

/// `{"detail": …}` with a status (and `Retry-After` on 503).
pub fn detail(status: StatusCode, msg: impl Into<String>) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        b.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
    }
    b.json(serde_json::json!({ "detail": msg.into() }))
}

/// The rest of the raw path after `/api/accounts/{a}/workspaces/{w}/`, as sent (still
/// percent-encoded), or `None` for a shorter path.
pub fn raw_rest(path: &str) -> Option<&str> {
    let mut idx = 0;
    for _ in 0..6 {
        idx += path[idx..].find('/')? + 1;
    }
    Some(&path[idx..])
}

/// The bearer key of a request: `Authorization: Bearer <key>` (any case of the scheme).
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

/// What the gateway's handlers share.
#[derive(Clone)]
pub struct Gateway {
    pub pool: crate::db::Pool,
    pub callers: Arc<Callers>,
    pub config: web::Data<AppConfig>,
    pub upstream: web::Data<Upstream>,
    pub spawner: Arc<crate::servers::spawner::Spawner>,
}

impl Gateway {
    pub fn of(req: &HttpRequest) -> Result<Gateway, ApiError> {
        let missing = || ApiError::Internal(anyhow::anyhow!("gateway state missing"));
        Ok(Gateway {
            pool: req
                .app_data::<web::Data<crate::db::Pool>>()
                .ok_or_else(missing)?
                .get_ref()
                .clone(),
            callers: req
                .app_data::<web::Data<Callers>>()
                .ok_or_else(missing)?
                .clone()
                .into_inner(),
            config: req
                .app_data::<web::Data<AppConfig>>()
                .ok_or_else(missing)?
                .clone(),
            upstream: req
                .app_data::<web::Data<Upstream>>()
                .ok_or_else(missing)?
                .clone(),
            spawner: req
                .app_data::<web::Data<crate::servers::spawner::Spawner>>()
                .ok_or_else(missing)?
                .clone()
                .into_inner(),
        })
    }

    /// The pass of `key` for the workspace: remembered, or read (then remembered). 401 for
    /// a key that is not live (recorded at most once a minute per address), 404 when it has
    /// no access to the workspace. `fresh` skips the memo (sockets re-checking).
    pub async fn pass(
        &self,
        key: Option<&str>,
        ip: &str,
        account_id: &str,
        workspace_id: &str,
        fresh: bool,
    ) -> Result<Arc<Pass>, ApiError> {
        let Some(key) = key.filter(|k| crate::apikeys::well_formed(k)) else {
            let (ip, k) = (ip.to_string(), key.map(str::to_string));
            crate::api::db(&self.pool, move |c| {
                crate::web::api_ctx::record_failure(c, &ip, k.as_deref())
            })
            .await?;
            return Err(ApiError::Unauthorized);
        };
        let digest = crate::authn::digest(key);
        if !fresh {
            self.callers.catch_up(&self.pool).await;
        }
        if !fresh
            && let Some(p) = self.callers.get(&digest, workspace_id)
            && p.account_id == account_id
        {
            return Ok(p);
        }
        let version = self.callers.current();
        let (k, ip, a, w) = (
            key.to_string(),
            ip.to_string(),
            account_id.to_string(),
            workspace_id.to_string(),
        );
        let sealer = self.config.sealer.clone();
        let read = crate::api::db(&self.pool, move |c| {
            let Some(found) = crate::apikeys::authenticate(c, &k)? else {
                crate::web::api_ctx::record_failure(c, &ip, Some(&k))?;
                return Ok(Err(ApiError::Unauthorized));
            };
            let loaded = crate::workspaces::access::load(c, &a, &w, found.holder.actor_ref())?;
            let Some(l) = loaded.filter(|l| !l.scopes.is_empty()) else {
                return Ok(Err(ApiError::NotFound));
            };
            let target = crate::servers::ops::find(c, &l.workspace.id)?
                .and_then(|s| caller::target_of(&s, &sealer));
            Ok(Ok(Pass::from(
                found,
                l.account.id,
                l.workspace.id,
                l.scopes,
                target,
            )))
        })
        .await??;
        let pass = Arc::new(read);
        self.callers.put(digest, version, pass.clone());
        Ok(pass)
    }
}

impl Gateway {
    /// Where the workspace's calls go: the server connected by hand, or else its managed
    /// server (started, and waited for, when it is not running). A 503 with `Retry-After`
    /// when there is none.
    pub async fn target(&self, pass: &Pass) -> Result<caller::Target, HttpResponse> {
        if let Some(t) = &pass.target {
            return Ok(t.clone());
        }
        if !self.spawner.enabled() {
            return Err(detail(StatusCode::SERVICE_UNAVAILABLE, forward::NO_SERVER));
        }
        match self.spawner.hold(&pass.workspace_id).await {
            Ok((a, lease)) => Ok(caller::Target {
                workspace_id: pass.workspace_id.clone(),
                basic: crate::servers::probe::basic(&a.auth),
                url: a.url,
                auth: a.auth,
                managed: true,
                lease: lease.map(std::sync::Arc::new),
            }),
            Err(e) => {
                tracing::warn!("gateway: workspace {}: {e}", pass.workspace_id);
                Err(detail(StatusCode::SERVICE_UNAVAILABLE, forward::STARTING))
            }
        }
    }
}

/// What an operation needs, checked against a pass: `None` when it may go on.
pub fn refusal(
    g: Gate,
    pass: &Pass,
    method: &str,
    rest: &str,
    query: &str,
) -> Option<HttpResponse> {
    match g {
        Gate::Atrium => Some(detail(StatusCode::NOT_FOUND, "Not Found")),
        Gate::Refused(why) => {
            tracing::warn!(
                "gateway: refused {method} {rest} for key {} ({why})",
                pass.key_id
            );
            Some(detail(StatusCode::FORBIDDEN, why))
        }
        Gate::Scopes(scopes) => {
            let secrets =
                crate::authz::gateway::reads_secrets(query).then_some("see_secret_blocks");
            let missing = scopes
                .iter()
                .copied()
                .chain(secrets)
                .find(|s| !pass.scopes.contains(s))?;
            Some(detail(
                StatusCode::FORBIDDEN,
                format!("Missing workspace scope: {missing}"),
            ))
        }
    }
}

/// The account and workspace ids a path below `/api/accounts/{a}/workspaces/{w}/` names
/// (as stored: lowercase hyphenated), `None` when either is not a UUID.
pub fn path_ids(path: &str) -> Option<(String, String)> {
    let mut s = path.split('/');
    let (_, _, _, a, _, w) = (s.next(), s.next(), s.next(), s.next()?, s.next(), s.next()?);
    let id = |t: &str| uuid::Uuid::parse_str(t).ok().map(|u| u.to_string());
    id(a).zip(id(w))
}

/// The part after the workspace when `path` is below `/api/accounts/{a}/workspaces/{w}/`.
fn below_a_workspace(path: &str) -> Option<&str> {
    let mut s = path.split('/');
    (s.next() == Some("")
        && s.next() == Some("api")
        && s.next() == Some("accounts")
        && s.next().is_some()
        && s.next() == Some("workspaces"))
    .then(|| raw_rest(path))
    .flatten()
}

/// Middleware, innermost (after sessions and the CSRF guard, before routing): a call below
/// a workspace that the table maps to Prefect's scopes goes to the gateway at once. Routed,
/// it would first be tried against each of the API's own routes, a regular expression
/// each: a third of Atrium's CPU per gateway call (`perf record` during `bench/gateway`).
/// Atrium's own operations (`Gate::Atrium`), refused and unknown ones are routed as before.
pub async fn shortcut(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::FromRequest;
    let prefect_operation = below_a_workspace(req.path())
        .map(|rest| gate(req.method().as_str(), rest))
        .filter(|g| matches!(g, Gate::Scopes(_)))
        .filter(|_| crate::api::openapi::documented_methods(req.path()).is_none());
    let Some(g) = prefect_operation else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (http, mut pl) = req.into_parts();
    let payload = web::Payload::from_request(&http, &mut pl).await?;
    let res = match handle(http.clone(), payload, Some(g)).await {
        Ok(r) => r,
        Err(e) => actix_web::ResponseError::error_response(&e),
    };
    Ok(actix_web::dev::ServiceResponse::new(http, res))
}

/// A gateway call that went through routing (Atrium's own, refused and unknown operations).
async fn routed(req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    handle(req, payload, None).await
}

/// One gateway call: the key (401/404), the operation's scopes (403), then the server.
/// `known`: what the operation needs when the caller already looked it up.
async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    known: Option<Gate>,
) -> Result<HttpResponse, ApiError> {
    let gw = Gateway::of(&req)?;
    let path = req.uri().path().to_string();
    let ids = path_ids(&path);
    let rest = raw_rest(&path).unwrap_or("").to_string();
    let method = req.method().as_str().to_string();
    let is_socket = req
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let ip = crate::web::client_ip(&req);
    if is_socket && method == "GET" {
        return socket::open(req, payload, gw, ids, rest, ip).await;
    }
    let key = bearer(&req);
    // 401 before 404: an unknown workspace is not told to a caller without a live key.
    let Some((account_id, workspace_id)) = ids else {
        gw.pass(key.as_deref(), &ip, "-", "-", true).await?;
        return Err(ApiError::NotFound);
    };
    // Prefect's UI calls with the browser's session instead of a key.
    let session_user = key.is_none().then(|| session::user_of(&req)).flatten();
    let pass = match session_user {
        Some(uid) => {
            if let Some(why) = session::forgery(&req) {
                tracing::warn!("gateway: refused a session call {method} {rest}: {why}");
                return Ok(detail(StatusCode::FORBIDDEN, why));
            }
            let came_through =
                crate::web::ctx::sso_accounts(&actix_session::SessionExt::get_session(&req));
            session::pass(&gw, uid, came_through, &account_id, &workspace_id).await?
        }
        None => {
            gw.pass(key.as_deref(), &ip, &account_id, &workspace_id, false)
                .await?
        }
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let g = known.unwrap_or_else(|| gate(&method, &rest));
    if let Some(r) = refusal(g, &pass, &method, &rest, &query) {
        return Ok(r);
    }
    Ok(forward::forward(&req, payload, &gw, &pass, g, &rest, &query).await)
}

#[cfg(test)]
mod tests {
    use super::{below_a_workspace, path_ids, raw_rest};

    #[test]
    fn the_ids_and_the_rest_are_read_off_the_path() {
        let (a, w) = (
            "7D4F2BD6-7C4A-4A4E-9A53-5B1E4B1F8D11",
            "0b7e4f8e-2f0c-4c2a-9d7a-3e2a1f0c9b8d",
        );
        let p = format!("/api/accounts/{a}/workspaces/{w}/flows/filter");
        assert_eq!(
            path_ids(&p),
            Some((a.to_lowercase(), w.to_string())),
            "stored lowercase"
        );
        assert_eq!(below_a_workspace(&p), Some("flows/filter"));
        assert_eq!(
            path_ids(&format!("/api/accounts/{a}/workspaces/x/flows")),
            None
        );
        assert_eq!(
            below_a_workspace(&format!("/api/accounts/{a}/bots/{w}/x")),
            None
        );
        assert_eq!(below_a_workspace("/api/me/workspaces/a/b/c"), None);
        assert_eq!(
            below_a_workspace(&format!("/api/accounts/{a}/workspaces/{w}")),
            None
        );
    }

    #[test]
    fn the_rest_of_the_path_is_what_follows_the_workspace() {
        assert_eq!(
            raw_rest("/api/accounts/a/workspaces/w/flows/filter"),
            Some("flows/filter")
        );
        assert_eq!(raw_rest("/api/accounts/a/workspaces/w/"), Some(""));
        assert_eq!(
            raw_rest("/api/accounts/a/workspaces/w/x%2Fy/"),
            Some("x%2Fy/")
        );
        assert_eq!(raw_rest("/api/accounts/a/workspaces/w"), None);
    }
}
