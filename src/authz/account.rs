//! Account permissions (the reference document's `AccountPermission` catalog, 47 names)
//! and what each built-in account role grants (DESIGN §1).

use crate::authz::AccountRole;

/// Every account permission, in the reference document's order.
pub const ACCOUNT_PERMISSIONS: [&str; 47] = [
    "read:account",
    "update:account",
    "delete:account",
    "read:account_membership",
    "update:account_membership",
    "delete:account_membership",
    "create:account_role",
    "read:account_role",
    "update:account_role",
    "delete:account_role",
    "add:account_member",
    "read:sso",
    "administrate:sso",
    "bypass:sso",
    "read:billing",
    "update:billing",
    "create:bot",
    "read:bot",
    "update:bot",
    "delete:bot",
    "create:team",
    "read:team",
    "update:team",
    "delete:team",
    "create:invitation",
    "read:invitation",
    "update:invitation",
    "create:workspace_invitation",
    "read:workspace_invitation",
    "update:workspace_invitation",
    "administrate:workspace",
    "create:workspace",
    "read:workspace",
    "delete:workspace",
    "create:workspace_role",
    "read:workspace_role",
    "update:workspace_role",
    "delete:workspace_role",
    "create:audit_event",
    "read:audit_event",
    "update:ip_allowlist",
    "read:ip_allowlist",
    "read:mex-storage",
    "update:mex-storage",
    "delete:mex-storage",
    "read:integrations",
    "update:integrations",
];

/// The permissions handlers ask about, typed so a typo does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountPerm {
    ReadAccount,
    UpdateAccount,
    DeleteAccount,
    ReadMembership,
    UpdateMembership,
    DeleteMembership,
    CreateInvitation,
    ReadInvitation,
    UpdateInvitation,
    CreateWorkspace,
    ReadWorkspace,
    DeleteWorkspace,
    CreateBot,
    ReadBot,
    UpdateBot,
    DeleteBot,
    ReadWorkspaceRole,
    CreateWorkspaceRole,
    ReadAuditEvent,
    CreateTeam,
    ReadTeam,
    UpdateTeam,
    DeleteTeam,
    ReadSso,
    AdministrateSso,
    BypassSso,
}

impl AccountPerm {
    pub fn name(self) -> &'static str {
        match self {
            AccountPerm::ReadAccount => "read:account",
            AccountPerm::UpdateAccount => "update:account",
            AccountPerm::DeleteAccount => "delete:account",
            AccountPerm::ReadMembership => "read:account_membership",
            AccountPerm::UpdateMembership => "update:account_membership",
            AccountPerm::DeleteMembership => "delete:account_membership",
            AccountPerm::CreateInvitation => "create:invitation",
            AccountPerm::ReadInvitation => "read:invitation",
            AccountPerm::UpdateInvitation => "update:invitation",
            AccountPerm::CreateWorkspace => "create:workspace",
            AccountPerm::ReadWorkspace => "read:workspace",
            AccountPerm::DeleteWorkspace => "delete:workspace",
            AccountPerm::CreateBot => "create:bot",
            AccountPerm::ReadBot => "read:bot",
            AccountPerm::UpdateBot => "update:bot",
            AccountPerm::DeleteBot => "delete:bot",
            AccountPerm::ReadWorkspaceRole => "read:workspace_role",
            AccountPerm::CreateWorkspaceRole => "create:workspace_role",
            AccountPerm::ReadAuditEvent => "read:audit_event",
            AccountPerm::CreateTeam => "create:team",
            AccountPerm::ReadTeam => "read:team",
            AccountPerm::UpdateTeam => "update:team",
            AccountPerm::DeleteTeam => "delete:team",
            AccountPerm::ReadSso => "read:sso",
            AccountPerm::AdministrateSso => "administrate:sso",
            AccountPerm::BypassSso => "bypass:sso",
        }
    }
}

const MEMBER_PERMISSIONS: [&str; 7] = [
    "read:account",
    "read:account_membership",
    "read:account_role",
    "read:bot",
    "read:team",
    "read:workspace",
    "read:workspace_role",
];

const NOT_FOR_ADMIN: [&str; 3] = ["bypass:sso", "delete:account", "update:billing"];

/// A set of account permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermSet(Vec<&'static str>);

impl PermSet {
    pub fn of_role(role: AccountRole) -> PermSet {
        let names: Vec<&'static str> = match role {
            AccountRole::Owner => ACCOUNT_PERMISSIONS.to_vec(),
            AccountRole::Admin => ACCOUNT_PERMISSIONS
                .iter()
                .copied()
                .filter(|p| !NOT_FOR_ADMIN.contains(p))
                .collect(),
            AccountRole::Member => MEMBER_PERMISSIONS.to_vec(),
            AccountRole::Collaborator => Vec::new(),
        };
        PermSet(names)
    }

    pub fn has(&self, p: AccountPerm) -> bool {
        self.has_name(p.name())
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.0.contains(&name)
    }

    pub fn names(&self) -> &[&'static str] {
        &self.0
    }
}

/// The one answer to "what may this user do in this account": their role and its
/// permissions, or `None` when they are not a member (the account does not exist for them).
pub fn account_permissions(role: Option<AccountRole>) -> Option<(AccountRole, PermSet)> {
    role.map(|r| (r, PermSet::of_role(r)))
}

/// May `actor` (with `actor_role`) give `target_role` to someone, or change/remove someone
/// who holds `current`? Nobody grants above their own role; only Owners touch Owners.
pub fn may_assign(actor_role: AccountRole, target_role: AccountRole) -> bool {
    target_role <= actor_role && actor_role >= AccountRole::Admin
}

/// May someone with `role` change how long the account keeps its audit events? Only
/// Owners: an Admin could otherwise shorten it to erase the trail of their own actions.
pub fn may_set_audit_retention(role: AccountRole) -> bool {
    role == AccountRole::Owner
}

/// Does an account that may require SSO keep out a session? Yes when it requires it, the
/// person lacks `bypass:sso`, and the session did not come through its provider. The one
/// rule for its pages (`web::ctx::sso_gate`) and its workspaces' API called with a session
/// (`gateway::session::pass`).
pub fn sso_keeps_out(sso_required: bool, perms: &PermSet, came_through: bool) -> bool {
    sso_required && !perms.has(AccountPerm::BypassSso) && !came_through
}

/// May someone with `role` change how long the account's Prefect servers keep flow runs?
/// Only Owners: a shorter period deletes the runs of every workspace of the account.
pub fn may_set_run_retention(role: AccountRole) -> bool {
    role == AccountRole::Owner
}

/// Only Owners decide whether members must use two-factor authentication (an Admin could
/// otherwise lock out, or let in, people the Owners chose otherwise).
pub fn may_require_two_factor(role: AccountRole) -> bool {
    role == AccountRole::Owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_permissions_follow_the_design() {
        assert_eq!(PermSet::of_role(AccountRole::Owner).names().len(), 47);
        let admin = PermSet::of_role(AccountRole::Admin);
        assert_eq!(admin.names().len(), 44);
        assert!(!admin.has(AccountPerm::DeleteAccount));
        assert!(admin.has(AccountPerm::CreateInvitation));
        let member = PermSet::of_role(AccountRole::Member);
        assert!(member.has(AccountPerm::ReadMembership));
        assert!(!member.has(AccountPerm::CreateInvitation));
        assert!(
            PermSet::of_role(AccountRole::Collaborator)
                .names()
                .is_empty()
        );
    }

    #[test]
    fn a_non_member_has_no_permissions_and_a_member_those_of_the_role() {
        assert_eq!(account_permissions(None), None);
        for role in [
            AccountRole::Owner,
            AccountRole::Admin,
            AccountRole::Member,
            AccountRole::Collaborator,
        ] {
            assert_eq!(
                account_permissions(Some(role)),
                Some((role, PermSet::of_role(role)))
            );
        }
    }

    #[test]
    fn nobody_grants_above_their_own_role() {
        assert!(may_assign(AccountRole::Owner, AccountRole::Owner));
        assert!(may_assign(AccountRole::Admin, AccountRole::Member));
        assert!(may_assign(AccountRole::Admin, AccountRole::Admin));
        assert!(!may_assign(AccountRole::Admin, AccountRole::Owner));
        assert!(!may_assign(AccountRole::Member, AccountRole::Member));
    }
}
