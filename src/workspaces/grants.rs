//! "Nobody gives what they do not hold" (DESIGN §2), for **every** write that widens or
//! narrows what someone may do in a workspace: a person's access (sharing panel and
//! `user_access` API), a service account's access (panel, `bots` API, a new service
//! account's first workspace role), a workspace invitation (when it is sent and again when
//! it is accepted), and the default role "Anyone at …" (its old and its new value).
//!
//! Decided here and only here, inside the writer's transaction with the account locked:
//! [`Granter::load`] reads the granter's scopes again at that point, because what the
//! request's context read before the transaction may no longer hold (a concurrent change
//! of the granter's own role commits first, then this write sees it).

use super::access::{ActorRef, load};
use super::model::{self as workspaces, Workspace, WorkspaceRole};
use crate::authz::workspace::{ScopeSet, may_grant};
use crate::db::DbConn;

/// The refusal every such write shows (beside the role field on pages, 403 on the API).
pub const ABOVE_OWN: &str = "You cannot give a role with permissions you do not have yourself.";

/// Someone about to set roles on one workspace, with their scopes there as read inside
/// the transaction.
pub struct Granter {
    workspace: Workspace,
    scopes: ScopeSet,
}

impl Granter {
    /// The granter's scopes on `workspace_id` of `account_id`, read now (call inside the
    /// writer's transaction, after `accounts::model::lock`). `None`: the workspace does
    /// not exist, or not for them (no scopes).
    pub fn load(
        c: &mut DbConn,
        account_id: &str,
        workspace_id: &str,
        granter: ActorRef<'_>,
    ) -> diesel::QueryResult<Option<Granter>> {
        Ok(load(c, account_id, workspace_id, granter)?
            .filter(|l| !l.scopes.is_empty())
            .map(|l| Granter {
                workspace: l.workspace,
                scopes: l.scopes,
            }))
    }

    /// The workspace as read inside the transaction (its current default role included).
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// May they give this role (or take it away)?
    pub fn may_give(&self, role: &WorkspaceRole) -> bool {
        may_grant(&self.scopes, &role.scopes())
    }

    /// May they replace or take away the role `role_id` (a role that no longer exists
    /// holds nothing)? `None` (no role before) is always allowed.
    pub fn may_replace(&self, c: &mut DbConn, role_id: Option<&str>) -> diesel::QueryResult<bool> {
        Ok(match role_id {
            Some(id) => workspaces::role(c, id)?.is_none_or(|r| self.may_give(&r)),
            None => true,
        })
    }

    /// May they change the workspace's default role from its current value to
    /// `new_role_id` (`None` = No Access)? Both the old and the new role must be within
    /// their scopes; keeping the current value is always allowed.
    pub fn may_set_default(
        &self,
        c: &mut DbConn,
        new_role_id: Option<&str>,
    ) -> diesel::QueryResult<bool> {
        let current = self.workspace.default_role_id.clone();
        if current.as_deref() == new_role_id {
            return Ok(true);
        }
        Ok(self.may_replace(c, current.as_deref())? && self.may_replace(c, new_role_id)?)
    }
}
