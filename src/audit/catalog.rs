//! Every event Atrium records: its name, the group the audit log's action filter lists it
//! under, a short label, and the sentence the log shows for it.
//!
//! A sentence has placeholders: `{actor}` (who did it), `{target}` (the resource's name),
//! `{ws}` (the workspace's name), `{team}` (the team a membership event is about), `{change}` (" from A to B" when the payload says so, for
//! role changes) and `{role}` (" as R" when the payload names a role).

/// A group of the action filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Authentication,
    Account,
    Members,
    Invitations,
    Workspaces,
    Access,
    Roles,
    ServiceAccounts,
    Teams,
    ApiKeys,
    Transfers,
    Mail,
    Orchestration,
}

impl Group {
    pub const ALL: [Group; 13] = [
        Group::Authentication,
        Group::Account,
        Group::Members,
        Group::Invitations,
        Group::Workspaces,
        Group::Access,
        Group::Roles,
        Group::ServiceAccounts,
        Group::Teams,
        Group::ApiKeys,
        Group::Transfers,
        Group::Mail,
        Group::Orchestration,
    ];

    /// The value the filter form sends for "everything in this group".
    pub fn key(self) -> &'static str {
        match self {
            Group::Authentication => "group:authentication",
            Group::Account => "group:account",
            Group::Members => "group:members",
            Group::Invitations => "group:invitations",
            Group::Workspaces => "group:workspaces",
            Group::Access => "group:access",
            Group::Roles => "group:roles",
            Group::ServiceAccounts => "group:service_accounts",
            Group::Teams => "group:teams",
            Group::ApiKeys => "group:api_keys",
            Group::Transfers => "group:transfers",
            Group::Mail => "group:mail",
            Group::Orchestration => "group:orchestration",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Group::Authentication => "Authentication",
            Group::Account => "Account",
            Group::Members => "Members",
            Group::Invitations => "Invitations",
            Group::Workspaces => "Workspaces",
            Group::Access => "Workspace access",
            Group::Roles => "Roles",
            Group::ServiceAccounts => "Service accounts",
            Group::Teams => "Teams",
            Group::ApiKeys => "API keys",
            Group::Transfers => "Transfers",
            Group::Mail => "E-mail",
            Group::Orchestration => "Deployments, work pools, blocks…",
        }
    }

    pub fn from_key(key: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.key() == key)
    }

    /// The names of the events in this group.
    pub fn actions(self) -> impl Iterator<Item = &'static ActionInfo> {
        ACTIONS.iter().filter(move |a| a.group == self)
    }
}

/// One kind of event.
#[derive(Debug)]
pub struct ActionInfo {
    pub name: &'static str,
    pub group: Group,
    pub label: &'static str,
    pub sentence: &'static str,
}

const fn a(
    name: &'static str,
    group: Group,
    label: &'static str,
    sentence: &'static str,
) -> ActionInfo {
    ActionInfo {
        name,
        group,
        label,
        sentence,
    }
}

use Group::*;

/// Every event name Atrium records (a test fails when one is recorded that is not here).
pub const ACTIONS: &[ActionInfo] = &[
    a(
        "atrium.workspace.server_connected",
        Workspaces,
        "Prefect server connected",
        "{actor} connected a Prefect server to workspace {ws}",
    ),
    a(
        "atrium.workspace.server_disconnected",
        Workspaces,
        "Prefect server disconnected",
        "{actor} disconnected the Prefect server of workspace {ws}",
    ),
    a(
        "atrium.workspace.server_restarted",
        Workspaces,
        "Prefect server restarted",
        "{actor} restarted the managed Prefect server of workspace {ws}",
    ),
    a(
        "prefect.deployment.created",
        Orchestration,
        "Deployment created",
        "{actor} created deployment {target} in workspace {ws}",
    ),
    a(
        "prefect.deployment.updated",
        Orchestration,
        "Deployment updated",
        "{actor} updated deployment {target} in workspace {ws}",
    ),
    a(
        "prefect.deployment.deleted",
        Orchestration,
        "Deployment deleted",
        "{actor} deleted deployment {target} in workspace {ws}",
    ),
    a(
        "prefect.deployment.changed",
        Orchestration,
        "Deployment acted on",
        "{actor} acted on deployment {target} in workspace {ws}",
    ),
    a(
        "prefect.work_pool.created",
        Orchestration,
        "Work pool created",
        "{actor} created work pool {target} in workspace {ws}",
    ),
    a(
        "prefect.work_pool.updated",
        Orchestration,
        "Work pool updated",
        "{actor} updated work pool {target} in workspace {ws}",
    ),
    a(
        "prefect.work_pool.deleted",
        Orchestration,
        "Work pool deleted",
        "{actor} deleted work pool {target} in workspace {ws}",
    ),
    a(
        "prefect.work_pool.changed",
        Orchestration,
        "Work pool acted on",
        "{actor} acted on work pool {target} in workspace {ws}",
    ),
    a(
        "prefect.work_queue.created",
        Orchestration,
        "Work queue created",
        "{actor} created work queue {target} in workspace {ws}",
    ),
    a(
        "prefect.work_queue.updated",
        Orchestration,
        "Work queue updated",
        "{actor} updated work queue {target} in workspace {ws}",
    ),
    a(
        "prefect.work_queue.deleted",
        Orchestration,
        "Work queue deleted",
        "{actor} deleted work queue {target} in workspace {ws}",
    ),
    a(
        "prefect.work_queue.changed",
        Orchestration,
        "Work queue acted on",
        "{actor} acted on work queue {target} in workspace {ws}",
    ),
    a(
        "prefect.block.created",
        Orchestration,
        "Block created",
        "{actor} created block {target} in workspace {ws}",
    ),
    a(
        "prefect.block.updated",
        Orchestration,
        "Block updated",
        "{actor} updated block {target} in workspace {ws}",
    ),
    a(
        "prefect.block.deleted",
        Orchestration,
        "Block deleted",
        "{actor} deleted block {target} in workspace {ws}",
    ),
    a(
        "prefect.block.changed",
        Orchestration,
        "Block acted on",
        "{actor} acted on block {target} in workspace {ws}",
    ),
    a(
        "prefect.variable.created",
        Orchestration,
        "Variable created",
        "{actor} created variable {target} in workspace {ws}",
    ),
    a(
        "prefect.variable.updated",
        Orchestration,
        "Variable updated",
        "{actor} updated variable {target} in workspace {ws}",
    ),
    a(
        "prefect.variable.deleted",
        Orchestration,
        "Variable deleted",
        "{actor} deleted variable {target} in workspace {ws}",
    ),
    a(
        "prefect.variable.changed",
        Orchestration,
        "Variable acted on",
        "{actor} acted on variable {target} in workspace {ws}",
    ),
    a(
        "prefect.automation.created",
        Orchestration,
        "Automation created",
        "{actor} created automation {target} in workspace {ws}",
    ),
    a(
        "prefect.automation.updated",
        Orchestration,
        "Automation updated",
        "{actor} updated automation {target} in workspace {ws}",
    ),
    a(
        "prefect.automation.deleted",
        Orchestration,
        "Automation deleted",
        "{actor} deleted automation {target} in workspace {ws}",
    ),
    a(
        "prefect.automation.changed",
        Orchestration,
        "Automation acted on",
        "{actor} acted on automation {target} in workspace {ws}",
    ),
    a(
        "prefect.concurrency_limit.created",
        Orchestration,
        "Concurrency limit created",
        "{actor} created concurrency limit {target} in workspace {ws}",
    ),
    a(
        "prefect.concurrency_limit.updated",
        Orchestration,
        "Concurrency limit updated",
        "{actor} updated concurrency limit {target} in workspace {ws}",
    ),
    a(
        "prefect.concurrency_limit.deleted",
        Orchestration,
        "Concurrency limit deleted",
        "{actor} deleted concurrency limit {target} in workspace {ws}",
    ),
    a(
        "prefect.concurrency_limit.changed",
        Orchestration,
        "Concurrency limit acted on",
        "{actor} acted on concurrency limit {target} in workspace {ws}",
    ),
    a(
        "prefect.webhook.created",
        Orchestration,
        "Webhook created",
        "{actor} created webhook {target} in workspace {ws}",
    ),
    a(
        "prefect.webhook.updated",
        Orchestration,
        "Webhook updated",
        "{actor} updated webhook {target} in workspace {ws}",
    ),
    a(
        "prefect.webhook.deleted",
        Orchestration,
        "Webhook deleted",
        "{actor} deleted webhook {target} in workspace {ws}",
    ),
    a(
        "prefect.webhook.changed",
        Orchestration,
        "Webhook acted on",
        "{actor} acted on webhook {target} in workspace {ws}",
    ),
    a(
        "atrium.user.signed_up",
        Authentication,
        "Signed up",
        "{actor} signed up",
    ),
    a(
        "atrium.user.logged_in",
        Authentication,
        "Logged in",
        "{actor} logged in",
    ),
    a(
        "atrium.user.login_failed",
        Authentication,
        "Failed log-in",
        "A log-in as {target} failed",
    ),
    a(
        "atrium.user.logged_out",
        Authentication,
        "Logged out",
        "{actor} logged out",
    ),
    a(
        "atrium.user.password_changed",
        Authentication,
        "Password changed",
        "{actor} changed their password",
    ),
    a(
        "atrium.user.updated",
        Authentication,
        "Profile updated",
        "{actor} updated their profile",
    ),
    a(
        "atrium.user.verification_sent",
        Authentication,
        "Verification e-mail sent again",
        "{actor} asked for a new link to verify their e-mail address",
    ),
    a(
        "atrium.user.email_verified",
        Authentication,
        "E-mail address verified",
        "{actor} verified their e-mail address with the link sent to it",
    ),
    a(
        "atrium.user.email_change_requested",
        Authentication,
        "E-mail change asked for",
        "{actor} asked to change their e-mail address; a link went to the new one",
    ),
    a(
        "atrium.user.email_changed",
        Authentication,
        "E-mail address changed",
        "{actor} changed their e-mail address with the link sent to the new one",
    ),
    a(
        "atrium.user.replaced",
        Authentication,
        "Unverified user replaced",
        "{actor} proved the e-mail address of the unverified user {target}, who was removed with their accounts",
    ),
    a(
        "atrium.user.password_reset_requested",
        Authentication,
        "Password reset asked for",
        "Someone asked for a link to set a new password for {target}",
    ),
    a(
        "atrium.user.password_reset",
        Authentication,
        "Password reset",
        "{actor} set a new password with a link sent by e-mail; every session was logged out",
    ),
    a(
        "atrium.user.password_confirmed",
        Authentication,
        "Password confirmed",
        "{actor} entered their password again for a sensitive action",
    ),
    a(
        "atrium.user.password_confirm_failed",
        Authentication,
        "Password confirmation failed",
        "{actor} entered a wrong password when asked to confirm it",
    ),
    a(
        "atrium.user.two_factor_setup_started",
        Authentication,
        "Two-factor set-up started",
        "{actor} started setting up two-factor authentication",
    ),
    a(
        "atrium.user.two_factor_enabled",
        Authentication,
        "Two-factor turned on",
        "{actor} turned on two-factor authentication",
    ),
    a(
        "atrium.user.two_factor_disabled",
        Authentication,
        "Two-factor turned off",
        "{actor} turned off two-factor authentication (or cancelled its set-up)",
    ),
    a(
        "atrium.user.recovery_codes_regenerated",
        Authentication,
        "Recovery codes regenerated",
        "{actor} made new two-factor recovery codes; the old ones stopped working",
    ),
    a(
        "atrium.user.recovery_code_used",
        Authentication,
        "Recovery code used",
        "{actor} logged in with a two-factor recovery code",
    ),
    a(
        "atrium.user.two_factor_failed",
        Authentication,
        "Failed two-factor code",
        "A wrong two-factor code was given for {target} after the right password",
    ),
    a(
        "atrium.session.ended",
        Authentication,
        "Session ended",
        "{actor} ended one of their other sessions from the sessions page",
    ),
    a(
        "atrium.session.ended_others",
        Authentication,
        "Other sessions ended",
        "{actor} ended all their other sessions from the sessions page",
    ),
    a(
        "atrium.account.created",
        Account,
        "Account created",
        "{actor} created the account {target}",
    ),
    a(
        "atrium.account.updated",
        Account,
        "Account settings changed",
        "{actor} changed the settings of the account {target}",
    ),
    a(
        "atrium.account.deleted",
        Account,
        "Account deleted",
        "{actor} deleted the account {target}",
    ),
    a(
        "atrium.member.role_changed",
        Members,
        "Member role changed",
        "{actor} changed {target}'s account role{change}",
    ),
    a(
        "atrium.member.removed",
        Members,
        "Member removed",
        "{actor} removed {target} from the account",
    ),
    a(
        "atrium.member.left",
        Members,
        "Member left",
        "{actor} left the account",
    ),
    a(
        "atrium.invitation.created",
        Invitations,
        "Invitation sent",
        "{actor} invited {target}{role}",
    ),
    a(
        "atrium.invitation.resent",
        Invitations,
        "Invitation resent",
        "{actor} resent the invitation to {target}",
    ),
    a(
        "atrium.invitation.revoked",
        Invitations,
        "Invitation revoked",
        "{actor} revoked the invitation to {target}",
    ),
    a(
        "atrium.invitation.accepted",
        Invitations,
        "Invitation accepted",
        "{actor} accepted the invitation{role}",
    ),
    a(
        "atrium.invitation.declined",
        Invitations,
        "Invitation declined",
        "{actor} declined the invitation",
    ),
    a(
        "atrium.workspace.created",
        Workspaces,
        "Workspace created",
        "{actor} created workspace {ws}",
    ),
    a(
        "atrium.workspace.updated",
        Workspaces,
        "Workspace settings changed",
        "{actor} changed the settings of workspace {ws}",
    ),
    a(
        "atrium.workspace.default_role_changed",
        Workspaces,
        "Default role changed",
        "{actor} changed the default role of workspace {ws}{change}",
    ),
    a(
        "atrium.workspace.deleted",
        Workspaces,
        "Workspace deleted",
        "{actor} deleted workspace {ws}",
    ),
    a(
        "atrium.workspace_access.granted",
        Access,
        "Access granted",
        "{actor} gave {target} access to workspace {ws}{change}",
    ),
    a(
        "atrium.workspace_access.role_changed",
        Access,
        "Workspace role changed",
        "{actor} changed {target}'s role in workspace {ws}{change}",
    ),
    a(
        "atrium.workspace_access.revoked",
        Access,
        "Access removed",
        "{actor} removed {target}'s access to workspace {ws}",
    ),
    a(
        "atrium.sso.configured",
        Account,
        "SSO configured",
        "{actor} configured single sign-on through {target}",
    ),
    a(
        "atrium.sso.updated",
        Account,
        "SSO changed",
        "{actor} changed the single sign-on settings ({target})",
    ),
    a(
        "atrium.sso.deleted",
        Account,
        "SSO removed",
        "{actor} removed the identity provider {target}",
    ),
    a(
        "atrium.sso.domain_claimed",
        Account,
        "Domain claimed",
        "{actor} claimed the domain {target} (a link was e-mailed to prove it)",
    ),
    a(
        "atrium.sso.domain_verified",
        Account,
        "Domain confirmed",
        "{actor} confirmed the domain {target}",
    ),
    a(
        "atrium.sso.domain_removed",
        Account,
        "Domain removed",
        "{actor} removed the domain {target}",
    ),
    a(
        "atrium.sso.logged_in",
        Authentication,
        "Signed in with SSO",
        "{actor} signed in through the account's identity provider",
    ),
    a(
        "atrium.sso.user_provisioned",
        Members,
        "User provisioned by SSO",
        "{actor} joined through the account's identity provider{role}",
    ),
    a(
        "atrium.sso.identity_linked",
        Authentication,
        "SSO identity linked",
        "{actor} linked their user to the account's identity provider",
    ),
    a(
        "atrium.team.created",
        Teams,
        "Team created",
        "{actor} created the team {target}",
    ),
    a(
        "atrium.team.renamed",
        Teams,
        "Team renamed",
        "{actor} renamed the team {target}{change}",
    ),
    a(
        "atrium.team.updated",
        Teams,
        "Team description changed",
        "{actor} changed the description of the team {target}",
    ),
    a(
        "atrium.team.deleted",
        Teams,
        "Team deleted",
        "{actor} deleted the team {target}",
    ),
    a(
        "atrium.team.member_added",
        Teams,
        "Team member added",
        "{actor} added {target} to the team {team}",
    ),
    a(
        "atrium.team.member_removed",
        Teams,
        "Team member removed",
        "{actor} removed {target} from the team {team}",
    ),
    a(
        "atrium.team_access.granted",
        Access,
        "Team access granted",
        "{actor} gave the team {target} access to workspace {ws}{change}",
    ),
    a(
        "atrium.team_access.role_changed",
        Access,
        "Team's workspace role changed",
        "{actor} changed the team {target}'s role in workspace {ws}{change}",
    ),
    a(
        "atrium.team_access.revoked",
        Access,
        "Team access removed",
        "{actor} removed the team {target}'s access to workspace {ws}",
    ),
    a(
        "atrium.role.created",
        Roles,
        "Role created",
        "{actor} created the role {target}",
    ),
    a(
        "atrium.role.updated",
        Roles,
        "Role changed",
        "{actor} changed the role {target}",
    ),
    a(
        "atrium.role.deleted",
        Roles,
        "Role deleted",
        "{actor} deleted the role {target}",
    ),
    a(
        "atrium.service_account.created",
        ServiceAccounts,
        "Service account created",
        "{actor} created the service account {target}",
    ),
    a(
        "atrium.service_account.renamed",
        ServiceAccounts,
        "Service account renamed",
        "{actor} renamed the service account {target}{change}",
    ),
    a(
        "atrium.service_account.deleted",
        ServiceAccounts,
        "Service account deleted",
        "{actor} deleted the service account {target}",
    ),
    a(
        "atrium.api_key.created",
        ApiKeys,
        "API key created",
        "{actor} created the API key {target}",
    ),
    a(
        "atrium.api_key.rotated",
        ApiKeys,
        "API key rotated",
        "{actor} rotated the API key {target}",
    ),
    a(
        "atrium.api_key.deleted",
        ApiKeys,
        "API key deleted",
        "{actor} deleted the API key {target}",
    ),
    a(
        "atrium.api_key.authentication_failed",
        ApiKeys,
        "API authentication failed",
        "A call to the API with an invalid key ({target}) was refused",
    ),
    a(
        "atrium.workspace.transferred",
        Transfers,
        "Workspace transferred",
        "{actor} transferred workspace {ws}",
    ),
    a(
        "atrium.workspace.transfer_requested",
        Transfers,
        "Transfer requested",
        "{actor} asked to transfer workspace {target}",
    ),
    a(
        "atrium.workspace.transfer_approved",
        Transfers,
        "Transfer approved",
        "{actor} approved the transfer of workspace {target}",
    ),
    a(
        "atrium.workspace.transfer_declined",
        Transfers,
        "Transfer declined",
        "{actor} declined the transfer of workspace {target}",
    ),
    a(
        "atrium.workspace.transfer_cancelled",
        Transfers,
        "Transfer cancelled",
        "{actor} cancelled the transfer of workspace {target}",
    ),
    a(
        "atrium.workspace.transfer_failed",
        Transfers,
        "Transfer failed",
        "The transfer of workspace {target} failed",
    ),
    a(
        "atrium.workspace.transfer_expired",
        Transfers,
        "Transfer expired",
        "The request to transfer workspace {target} expired",
    ),
    a(
        "atrium.email.delivery_failed",
        Mail,
        "E-mail not delivered",
        "An e-mail to {target} could not be delivered",
    ),
];

/// The entry for `name`, if Atrium records such events.
pub fn find(name: &str) -> Option<&'static ActionInfo> {
    ACTIONS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_group_has_events() {
        let mut names: Vec<_> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for g in Group::ALL {
            assert!(g.actions().next().is_some(), "{g:?} is empty");
            assert_eq!(Group::from_key(g.key()), Some(g));
        }
        assert!(ACTIONS.iter().all(|a| (a.name.starts_with("atrium.")
            || a.name.starts_with("prefect."))
            && a.sentence.contains('{')
            || a.sentence.starts_with("An ")));
    }
}
