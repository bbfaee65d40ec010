//! The API's account and workspace contexts: the caller's account role and permissions
//! (`authz::account`) and workspace scopes (`workspaces::ctx::load`, i.e.
//! `authz::workspace::effective_scopes`) — the same functions the pages use. Whatever the
//! caller may not see answers 404; what they may see but not do answers 403.

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::{ApiCaller, ApiError, db};
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::apikeys::KeyHolder;
use crate::authz::account::{AccountPerm, PermSet, account_permissions};
use crate::authz::workspace::ScopeSet;
use crate::workspaces::ctx::{Loaded, load};
use crate::workspaces::model::{Workspace, WorkspaceRole};

/// The caller inside `/api/accounts/{account_id}/…`.
pub struct ApiAccount {
    pub caller: ApiCaller,
    pub account: Account,
    pub role: AccountRole,
    pub perms: PermSet,
}

impl ApiAccount {
    /// 403 unless the caller has `p`.
    pub fn require(&self, p: AccountPerm) -> Result<(), ApiError> {
        if self.perms.has(p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// 404 unless the caller has `p` (what one may not see does not exist).
    pub fn require_to_see(&self, p: AccountPerm) -> Result<(), ApiError> {
        if self.perms.has(p) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
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
        KeyHolder::User(u) => accounts::role_of(c, account_id, &u.id)?,
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
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn require_to_see(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
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
