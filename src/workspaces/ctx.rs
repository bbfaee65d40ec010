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
#[derive(Clone)]
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
) -> diesel::QueryResult<Option<Loaded>> {
    let Some(account) = accounts::find(c, account_id)? else {
        return Ok(None);
    };
    match actor {
        ActorRef::User(user_id) => {
            let account_role = accounts::role_of(c, account_id, user_id)?;
            load_for_user(c, account, account_role, workspace_id, user_id)
        }
        ActorRef::ServiceAccount {
            id,
            account_id: home,
        } => {
            if home != account_id {
                return Ok(None);
            }
            let Some(ws) = workspaces::find(c, account_id, workspace_id)? else {
                return Ok(None);
            };
            let own = crate::service_accounts::model::own_role(c, &ws.id, id)?;
            Ok(Some(scoped(
                ActorKind::ServiceAccount,
                account,
                Some(AccountRole::Member),
                ws,
                own,
                None,
            )))
        }
    }
}

/// [`load`] for a user whose role in the account is already known (the signed-in user's
/// memberships come with the user): the workspace and both roles in one statement.
pub fn load_for_user(
    c: &mut crate::db::DbConn,
    account: Account,
    account_role: Option<AccountRole>,
    workspace_id: &str,
    user_id: &str,
) -> diesel::QueryResult<Option<Loaded>> {
    let Some((ws, own, default)) =
        workspaces::find_with_roles(c, &account.id, workspace_id, user_id)?
    else {
        return Ok(None);
    };
    Ok(Some(scoped(
        ActorKind::User,
        account,
        account_role,
        ws,
        own,
        default,
    )))
}

/// The workspace `workspace_id` of `account_id` for the signed-in user, whose accounts
/// (`memberships`) were read with them: the account and their role come from those, the
/// workspace and both roles in one statement. Used where the session loads (one trip for
/// who asks) and, failing that, by [`WorkspaceCtx`].
pub fn workspace_for(
    c: &mut crate::db::DbConn,
    user_id: &str,
    memberships: &crate::authn::extract::Memberships,
    account_id: &str,
    workspace_id: &str,
) -> diesel::QueryResult<Option<Loaded>> {
    match memberships.iter().find(|(a, _)| a.id == account_id) {
        Some((account, role)) => {
            load_for_user(c, account.clone(), Some(*role), workspace_id, user_id)
        }
        None => load(c, account_id, workspace_id, ActorRef::User(user_id)),
    }
}

fn scoped(
    kind: ActorKind,
    account: Account,
    account_role: Option<AccountRole>,
    workspace: Workspace,
    own_role: Option<WorkspaceRole>,
    default_role: Option<WorkspaceRole>,
) -> Loaded {
    let own_scopes = own_role.as_ref().map(WorkspaceRole::scopes);
    let default_scopes = default_role.as_ref().map(WorkspaceRole::scopes);
    let scopes = effective_scopes(&Inputs {
        actor: kind,
        account_role,
        own_role: own_scopes.as_ref(),
        default_role: default_scopes.as_ref(),
    });
    Loaded {
        account,
        account_role,
        workspace,
        own_role,
        default_role,
        scopes,
    }
}

impl FromRequest for WorkspaceCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ids = req
                .match_info()
                .get("account_id")
                .zip(req.match_info().get("workspace_id"))
                .filter(|(a, w)| {
                    uuid::Uuid::parse_str(a).is_ok() && uuid::Uuid::parse_str(w).is_ok()
                })
                .map(|(a, w)| (a.to_string(), w.to_string()));
            // Usually read with the session (one trip for who asks and what they may do);
            // otherwise one more trip here.
            let (auth, memberships) = Auth::identify(&req).await?;
            let Some((account_id, workspace_id)) = ids else {
                return Err(AppError::NotFound);
            };
            let loaded = match crate::authn::session_store::take_preloaded_workspace(
                &auth.user.id,
                &account_id,
                &workspace_id,
            ) {
                Some(loaded) => loaded,
                None => {
                    let (uid, a, w) = (
                        auth.user.id.clone(),
                        account_id.clone(),
                        workspace_id.clone(),
                    );
                    db(&auth.pool, move |c| {
                        Ok(workspace_for(c, &uid, &memberships, &a, &w)?)
                    })
                    .await?
                }
            };
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
