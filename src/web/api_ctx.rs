//! The API's request contexts: [`ApiCaller`] (the holder of the bearer API key),
//! [`ApiAccount`] and [`ApiWorkspace`] (the caller's account role and permissions from
//! `authz::account`, workspace scopes from `workspaces::access`) — the same functions the
//! pages' contexts (`web::ctx`) use, refusing the same way ([`super::ctx::gate`]). Missing,
//! malformed, unknown, expired or deleted keys answer 401
//! `{"detail": "Invalid authentication credentials"}`; failures are recorded in the audit
//! log at most once a minute per client address.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;

use super::api_error::{ApiError, api_db as db};
use super::ctx::gate;
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::apikeys::{self, KeyHolder};
use crate::audit::{Actor, Event};
use crate::authn::who::WhoCache;
use crate::authz::account::{AccountPerm, PermSet, account_permissions};
use crate::authz::workspace::ScopeSet;
use crate::db::Pool;
use crate::outcome::Refusal;
use crate::workspaces::access::{ActorRef, Loaded, load};
use crate::workspaces::model::{Workspace, WorkspaceRole};

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
pub fn record_failure(
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
        Event::new(
            "atrium.api_key.authentication_failed",
            Actor::Anonymous {
                label: ip.to_string(),
            },
            "api_key",
            None,
            presented
                .filter(|k| apikeys::well_formed(k))
                .map(|k| format!("{}…{}", &k[..4], &k[k.len() - 4..]))
                .unwrap_or_default(),
        )
        .ip(ip.to_string())
        .payload(serde_json::json!({ "key": shape }))
        .record(c)?;
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

/// The caller inside `/api/accounts/{account_id}/…`.
/// An API call as an operation sees it: owned copies of the account, the key's holder, who
/// the audit log names and the client's address, so a handler hands them to the operation
/// in one value instead of cloning each before the call ([`ApiAccount::op`]).
#[derive(Clone)]
pub struct AccountScene {
    pub account: Account,
    pub holder: KeyHolder,
    pub actor: Actor,
    pub ip: String,
}

/// [`AccountScene`] with the workspace of the path ([`ApiWorkspace::op`]).
#[derive(Clone)]
pub struct WorkspaceScene {
    pub account: Account,
    pub workspace: Workspace,
    pub holder: KeyHolder,
    pub actor: Actor,
    pub ip: String,
}

pub struct ApiAccount {
    pub caller: ApiCaller,
    pub account: Account,
    pub role: AccountRole,
    pub perms: PermSet,
}

impl ApiAccount {
    pub fn scene(&self) -> AccountScene {
        AccountScene {
            account: self.account.clone(),
            holder: self.caller.holder.clone(),
            actor: self.caller.audit_actor(),
            ip: self.caller.ip.clone(),
        }
    }

    /// Runs one operation for this call off the async threads; a refusal is the API's error.
    pub async fn op<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &AccountScene) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        Ok(self.try_op(f).await??)
    }

    /// [`Self::op`], handing the refusal back (to map its fields, say).
    pub async fn try_op<T, F>(&self, f: F) -> Result<crate::outcome::OpResult<T>, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &AccountScene) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        let scene = self.scene();
        db(&self.caller.pool, move |c| Ok(f(c, &scene))).await
    }

    /// 403 unless the caller has `p`.
    pub fn require(&self, p: AccountPerm) -> Result<(), Refusal> {
        gate(self.perms.has(p), Refusal::Forbidden(None))
    }

    /// 404 unless the caller has `p` (what one may not see does not exist).
    pub fn require_to_see(&self, p: AccountPerm) -> Result<(), Refusal> {
        gate(self.perms.has(p), Refusal::NotFound)
    }
}

/// The caller's role in `account_id`: a user's membership, or Member for a service
/// account of that account. `None`: the account does not exist for the caller.
pub fn account_role(
    c: &mut crate::db::DbConn,
    holder: &KeyHolder,
    account_id: &str,
) -> Result<Option<AccountRole>, ApiError> {
    Ok(match holder {
        KeyHolder::User(u) => crate::members::model::role_of(c, account_id, &u.id)?,
        KeyHolder::ServiceAccount(s) => (s.account_id == account_id).then_some(AccountRole::Member),
    })
}

/// A UUID path segment, as lowercase hyphenated text (how ids are stored); `None` for
/// anything else (callers answer 404).
pub fn path_id(req: &HttpRequest, name: &str) -> Option<String> {
    req.match_info()
        .get(name)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(|u| u.to_string())
}

impl FromRequest for ApiAccount {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = ApiCaller::from_request(req, payload);
        let account_id = path_id(req, "account_id");
        Box::pin(async move {
            let caller = caller.await?;
            let account_id = account_id.ok_or(ApiError::NotFound)?;
            let holder = caller.holder.clone();
            let found = db(&caller.pool, move |c| {
                let role = account_role(c, &holder, &account_id)?;
                let Some((role, perms)) = account_permissions(role) else {
                    return Ok(None);
                };
                Ok(accounts::find(c, &account_id)?.map(|a| (a, role, perms)))
            })
            .await?;
            let (account, role, perms) = found.ok_or(ApiError::NotFound)?;
            Ok(ApiAccount {
                caller,
                account,
                role,
                perms,
            })
        })
    }
}

/// The caller inside `/api/accounts/{account_id}/workspaces/{workspace_id}/…`, with their
/// effective scopes. No scopes: 404.
pub struct ApiWorkspace {
    pub caller: ApiCaller,
    pub account: Account,
    pub account_role: Option<AccountRole>,
    pub perms: PermSet,
    pub workspace: Workspace,
    pub own_role: Option<WorkspaceRole>,
    pub scopes: ScopeSet,
}

impl ApiWorkspace {
    pub fn scene(&self) -> WorkspaceScene {
        WorkspaceScene {
            account: self.account.clone(),
            workspace: self.workspace.clone(),
            holder: self.caller.holder.clone(),
            actor: self.caller.audit_actor(),
            ip: self.caller.ip.clone(),
        }
    }

    /// Runs one operation for this call off the async threads; a refusal is the API's error.
    pub async fn op<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &WorkspaceScene) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        Ok(self.try_op(f).await??)
    }

    /// [`Self::op`], handing the refusal back (to map its fields, say).
    pub async fn try_op<T, F>(&self, f: F) -> Result<crate::outcome::OpResult<T>, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &WorkspaceScene) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        let scene = self.scene();
        db(&self.caller.pool, move |c| Ok(f(c, &scene))).await
    }

    /// 403 unless the caller has `scope`.
    pub fn require(&self, scope: &str) -> Result<(), Refusal> {
        gate(self.scopes.contains(scope), Refusal::Forbidden(None))
    }

    /// 404 unless the caller has `scope`.
    pub fn require_to_see(&self, scope: &str) -> Result<(), Refusal> {
        gate(self.scopes.contains(scope), Refusal::NotFound)
    }
}

impl FromRequest for ApiWorkspace {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = ApiCaller::from_request(req, payload);
        let ids = path_id(req, "account_id").zip(path_id(req, "workspace_id"));
        Box::pin(async move {
            let caller = caller.await?;
            let (account_id, workspace_id) = ids.ok_or(ApiError::NotFound)?;
            let holder = caller.holder.clone();
            let loaded = db(&caller.pool, move |c| {
                let actor = holder.actor_ref();
                Ok(load(c, &account_id, &workspace_id, actor)?)
            })
            .await?;
            let Some(Loaded {
                account,
                account_role,
                workspace,
                own_role,
                scopes,
                ..
            }) = loaded
            else {
                return Err(ApiError::NotFound);
            };
            if scopes.is_empty() {
                return Err(ApiError::NotFound);
            }
            let perms = account_permissions(account_role)
                .map(|(_, p)| p)
                .unwrap_or_else(|| PermSet::of_role(AccountRole::Collaborator));
            Ok(ApiWorkspace {
                caller,
                account,
                account_role,
                perms,
                workspace,
                own_role,
                scopes,
            })
        })
    }
}
