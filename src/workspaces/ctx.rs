//! `WorkspaceCtx`: a logged-in user inside `/account/{account_id}/workspace/{workspace_id}/…`
//! with their effective scopes. No scopes: the workspace does not exist for them (404).

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::model::{self as workspaces, Workspace, WorkspaceRole};
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::authn::Auth;
use crate::authz::workspace::{ActorKind, Inputs, ScopeSet, effective_scopes};
use crate::web::{AppError, db};

pub struct WorkspaceCtx {
    pub auth: Auth,
    pub account: Account,
    pub account_role: Option<AccountRole>,
    pub workspace: Workspace,
    pub own_role: Option<WorkspaceRole>,
    pub default_role: Option<WorkspaceRole>,
    pub scopes: ScopeSet,
}

impl WorkspaceCtx {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// 404 unless the user has `scope` (pages they may not see do not exist for them).
    pub fn require_to_see(&self, scope: &str) -> Result<(), AppError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// 403 unless the user has `scope`.
    pub fn require(&self, scope: &str) -> Result<(), AppError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The role the page shows as "your role".
    pub fn role_label(&self) -> String {
        match self.account_role {
            Some(AccountRole::Owner) => "Owner (as account Owner)".into(),
            Some(AccountRole::Admin) => "Owner (as account Admin)".into(),
            _ => match (&self.own_role, &self.default_role) {
                (Some(own), _) => own.name.clone(),
                (None, Some(d)) => format!("{} (everyone in the account)", d.name),
                (None, None) => "No access".into(),
            },
        }
    }
}

/// A workspace with what decides the user's scopes on it.
pub struct Loaded {
    pub account: Account,
    pub account_role: Option<AccountRole>,
    pub workspace: Workspace,
    pub own_role: Option<WorkspaceRole>,
    pub default_role: Option<WorkspaceRole>,
    pub scopes: ScopeSet,
}

/// Who is asking about a workspace: a user, or a service account of some account.
#[derive(Clone, Copy, Debug)]
pub enum ActorRef<'a> {
    User(&'a str),
    ServiceAccount { id: &'a str, account_id: &'a str },
}

/// Loads the workspace and computes the actor's scopes on it with
/// [`effective_scopes`] — the one place every page and API call gets them from.
pub fn load(
    c: &mut crate::db::DbConn,
    account_id: &str,
    workspace_id: &str,
    actor: ActorRef<'_>,
) -> Result<Option<Loaded>, AppError> {
    let Some(account) = accounts::find(c, account_id)? else {
        return Ok(None);
    };
    let Some(ws) = workspaces::find(c, account_id, workspace_id)? else {
        return Ok(None);
    };
    let (kind, account_role, own) = match actor {
        ActorRef::User(user_id) => (
            ActorKind::User,
            accounts::role_of(c, account_id, user_id)?,
            workspaces::own_role(c, &ws.id, user_id)?,
        ),
        ActorRef::ServiceAccount {
            id,
            account_id: home,
        } => {
            if home != account_id {
                return Ok(None);
            }
            (
                ActorKind::ServiceAccount,
                Some(AccountRole::Member),
                crate::service_accounts::model::own_role(c, &ws.id, id)?,
            )
        }
    };
    let default = match (&ws.default_role_id, kind) {
        (Some(id), ActorKind::User) => workspaces::role(c, id)?,
        _ => None,
    };
    let own_scopes = own.as_ref().map(WorkspaceRole::scopes);
    let default_scopes = default.as_ref().map(WorkspaceRole::scopes);
    let scopes = effective_scopes(&Inputs {
        actor: kind,
        account_role,
        own_role: own_scopes.as_ref(),
        default_role: default_scopes.as_ref(),
    });
    Ok(Some(Loaded {
        account,
        account_role,
        workspace: ws,
        own_role: own,
        default_role: default,
        scopes,
    }))
}

impl FromRequest for WorkspaceCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth_fut = Auth::from_request(req, payload);
        let account_id = req.match_info().get("account_id").map(str::to_string);
        let workspace_id = req.match_info().get("workspace_id").map(str::to_string);
        Box::pin(async move {
            let auth = auth_fut.await?;
            let (Some(account_id), Some(workspace_id)) = (account_id, workspace_id) else {
                return Err(AppError::NotFound);
            };
            if uuid::Uuid::parse_str(&account_id).is_err()
                || uuid::Uuid::parse_str(&workspace_id).is_err()
            {
                return Err(AppError::NotFound);
            }
            let uid = auth.user.id.clone();
            let (a, w) = (account_id.clone(), workspace_id.clone());
            let loaded = db(&auth.pool, move |c| load(c, &a, &w, ActorRef::User(&uid))).await?;
            let Some(Loaded {
                account,
                account_role,
                workspace,
                own_role,
                default_role,
                scopes,
            }) = loaded
            else {
                return Err(AppError::NotFound);
            };
            if scopes.is_empty() {
                return Err(AppError::NotFound);
            }
            let mut auth = auth;
            auth.shell = auth.shell.in_account(&account_id);
            auth.shell.workspace = Some(crate::web::shell::WorkspaceLink {
                account_id: account_id.clone(),
                id: workspace.id.clone(),
                name: workspace.name.clone(),
                see_settings: scopes.contains("see_workspace_settings"),
                see_members: scopes.contains("see_workspace_users"),
                see_service_accounts: scopes.contains("see_workspace_service_accounts"),
            });
            Ok(WorkspaceCtx {
                auth,
                account,
                account_role,
                workspace,
                own_role,
                default_role,
                scopes,
            })
        })
    }
}
