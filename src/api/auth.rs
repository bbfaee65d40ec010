//! `ApiCaller`: the holder of the bearer API key. Missing, malformed, unknown, expired or
//! deleted keys answer 401 `{"detail": "Invalid authentication credentials"}`; failures
//! are recorded in the audit log at most once a minute per client address.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;

use super::{ApiError, db};
use crate::apikeys::{self, KeyHolder};
use crate::audit::{self, Actor, Event, Resource};
use crate::authn::who::WhoCache;
use crate::db::Pool;
use crate::workspaces::ctx::ActorRef;

pub struct ApiCaller {
    pub pool: Pool,
    pub holder: KeyHolder,
    pub key_id: String,
    pub ip: String,
}

impl ApiCaller {
    pub fn actor_ref(&self) -> ActorRef<'_> {
        self.holder.actor_ref()
    }

    /// Who the audit log names.
    pub fn audit_actor(&self) -> Actor {
        self.holder.audit_actor()
    }

    pub fn user(&self) -> Option<&crate::users::model::User> {
        match &self.holder {
            KeyHolder::User(u) => Some(u),
            KeyHolder::ServiceAccount(_) => None,
        }
    }
}

/// The key from `Authorization: Bearer <key>`.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

/// Records a failed API authentication, at most once a minute per address.
fn record_failure(
    c: &mut crate::db::DbConn,
    ip: &str,
    presented: Option<&str>,
) -> Result<(), ApiError> {
    use crate::authn::rate_limit;
    let bucket = format!("api:{ip}");
    crate::db::write_tx(c, |c| {
        if rate_limit::recent(c, &bucket, chrono::TimeDelta::minutes(1))? {
            return Ok(());
        }
        rate_limit::record_failure(c, &bucket, "api-key")?;
        let shape = match presented {
            None => "missing",
            Some(k) if apikeys::well_formed(k) => "unknown, expired or deleted",
            Some(_) => "malformed",
        };
        audit::record(
            c,
            Event {
                action: "atrium.api_key.authentication_failed",
                actor: Actor::Anonymous {
                    label: ip.to_string(),
                },
                resource: Resource {
                    kind: "api_key",
                    id: None,
                    name: presented
                        .filter(|k| apikeys::well_formed(k))
                        .map(|k| format!("{}…{}", &k[..4], &k[k.len() - 4..]))
                        .unwrap_or_default(),
                },
                account_id: None,
                workspace_id: None,
                ip: Some(ip.to_string()),
                payload: serde_json::json!({ "key": shape }),
            },
        )?;
        Ok(())
    })
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = bearer(req);
        let ip = crate::web::client_ip(req);
        let pool = req
            .app_data::<web::Data<Pool>>()
            .map(|p| p.get_ref().clone());
        let who = req.app_data::<web::Data<WhoCache>>().cloned();
        Box::pin(async move {
            let pool = pool.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no pool")))?;
            // A key this process still knows (SQLite: `authn::who`) needs no trip.
            let remembered = match (&who, &presented) {
                (Some(who), Some(k)) if who.is_on() && apikeys::well_formed(k) => {
                    let epoch = who.epoch();
                    let id = crate::authn::digest(k);
                    match who.key(&id, epoch) {
                        Some(found) => {
                            return Ok(ApiCaller {
                                pool,
                                holder: found.holder,
                                key_id: found.key.id,
                                ip,
                            });
                        }
                        None => Some((who.clone(), id, epoch)),
                    }
                }
                _ => None,
            };
            let (p, ip2) = (presented.clone(), ip.clone());
            let found = db(&pool, move |c| {
                let found = match &p {
                    Some(k) => apikeys::authenticate(c, k)?,
                    None => None,
                };
                if found.is_none() {
                    record_failure(c, &ip2, p.as_deref())?;
                }
                Ok(found)
            })
            .await?;
            let Some(found) = found else {
                return Err(ApiError::Unauthorized);
            };
            if let Some((who, id, epoch)) = remembered {
                who.put_key(id, epoch, found.clone());
            }
            Ok(ApiCaller {
                pool,
                holder: found.holder,
                key_id: found.key.id,
                ip,
            })
        })
    }
}
