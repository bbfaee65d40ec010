//! Who reaches a workspace with which scopes: the workspace and the roles that decide an
//! actor's scopes on it (own, default, and their teams' roles), read in one trip (two for
//! someone a team gives a role there), and the scopes computed by the one permission
//! function (`authz::workspace::effective_scopes`). The pages' `WorkspaceCtx` and the
//! API's `ApiWorkspace` (`web::ctx`, `web::api_ctx`), the session's preload
//! (`authn::session_store`) and every operation that re-checks inside its transaction
//! (`workspaces::grants`) read them from here.

use super::model::{self as workspaces, Workspace, WorkspaceRole};
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::authz::workspace::{ActorKind, Inputs, ScopeSet, effective_scopes};

/// A workspace with what decides the user's scopes on it.
#[derive(Clone)]
pub struct Loaded {
    pub account: Account,
    pub account_role: Option<AccountRole>,
    pub workspace: Workspace,
    pub own_role: Option<WorkspaceRole>,
    pub default_role: Option<WorkspaceRole>,
    /// The roles on the workspace of the user's teams that have one.
    pub team_roles: Vec<WorkspaceRole>,
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
            let account_role = crate::members::model::role_of(c, account_id, user_id)?;
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
                Vec::new(),
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
    let Some((ws, own, default, in_team)) =
        workspaces::find_with_roles(c, &account.id, workspace_id, user_id)?
    else {
        return Ok(None);
    };
    // A second read only for someone a team of theirs gives a role here.
    let team_roles = if in_team {
        crate::teams::model::team_roles_of_user(c, &ws.id, user_id)?
    } else {
        Vec::new()
    };
    Ok(Some(scoped(
        ActorKind::User,
        account,
        account_role,
        ws,
        own,
        default,
        team_roles,
    )))
}

/// The workspace `workspace_id` of `account_id` for the signed-in user, whose accounts
/// (`memberships`) were read with them: the account and their role come from those, the
/// workspace and both roles in one statement. Used where the session loads (one trip for
/// who asks) and, failing that, by [`WorkspaceCtx`].
pub fn workspace_for(
    c: &mut crate::db::DbConn,
    user_id: &str,
    memberships: &crate::users::model::Memberships,
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
    team_roles: Vec<WorkspaceRole>,
) -> Loaded {
    let own_scopes = own_role.as_ref().map(WorkspaceRole::scopes);
    let default_scopes = default_role.as_ref().map(WorkspaceRole::scopes);
    let team_scopes: Vec<_> = team_roles.iter().map(WorkspaceRole::scopes).collect();
    let scopes = effective_scopes(&Inputs {
        actor: kind,
        account_role,
        own_role: own_scopes.as_ref(),
        default_role: default_scopes.as_ref(),
        team_roles: &team_scopes,
    });
    Loaded {
        account,
        account_role,
        workspace,
        own_role,
        default_role,
        team_roles,
        scopes,
    }
}
