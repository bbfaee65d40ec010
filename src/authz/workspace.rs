//! Workspace scopes (the reference document's `WorkspaceScopeName` catalog, 61 names), the
//! nesting rule, the built-in workspace roles, and the one function that computes an
//! actor's effective scopes on a workspace (DESIGN §2).

use crate::accounts::model::AccountRole;

/// One scope of the catalog, with its title and feature group (for the role editor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    pub name: &'static str,
    pub title: &'static str,
    pub group: &'static str,
}

const FLOWS: &str = "Flows & runs";
const DEPLOYMENTS: &str = "Deployments";
const BLOCKS: &str = "Blocks";
const NOTIFICATIONS: &str = "Notifications";
const ADMIN: &str = "Workspace administration";
const POOLS: &str = "Work pools & workers";
const CONCURRENCY: &str = "Concurrency";
const EVENTS: &str = "Automations & events";
const ARTIFACTS: &str = "Artifacts & assets";
const VARIABLES: &str = "Variables";
const INCIDENTS: &str = "Incidents";
const MEX: &str = "Managed execution";

const fn s(name: &'static str, title: &'static str, group: &'static str) -> ScopeInfo {
    ScopeInfo { name, title, group }
}

/// The catalog, in the reference document's order.
pub const SCOPES: [ScopeInfo; 61] = [
    s("see_flows", "See flows and runs", FLOWS),
    s("manage_saved_search", "Manage saved searches", FLOWS),
    s("run_flows", "Run flows", FLOWS),
    s("manage_flows", "Manage flows and runs", FLOWS),
    s("run_tasks", "Run tasks", FLOWS),
    s("see_blocks", "See blocks", BLOCKS),
    s("see_secret_blocks", "See secret block values", BLOCKS),
    s("manage_blocks", "Manage blocks", BLOCKS),
    s("see_deployments", "See deployments", DEPLOYMENTS),
    s("run_deployments", "Run deployments", DEPLOYMENTS),
    s("write_deployments", "Edit deployments", DEPLOYMENTS),
    s("manage_deployments", "Manage deployments", DEPLOYMENTS),
    s("see_notifications", "See notifications", NOTIFICATIONS),
    s("write_notifications", "Edit notifications", NOTIFICATIONS),
    s(
        "manage_notifications",
        "Manage notifications",
        NOTIFICATIONS,
    ),
    s("see_workspace_settings", "See workspace settings", ADMIN),
    s("write_workspace_settings", "Edit workspace settings", ADMIN),
    s(
        "manage_workspace_settings",
        "Manage (and delete) the workspace",
        ADMIN,
    ),
    s("see_workspace_users", "See workspace members", ADMIN),
    s("manage_workspace_users", "Manage workspace members", ADMIN),
    s(
        "see_workspace_service_accounts",
        "See workspace service accounts",
        ADMIN,
    ),
    s(
        "manage_workspace_service_accounts",
        "Manage workspace service accounts",
        ADMIN,
    ),
    s("manage_workspace_teams", "Manage workspace teams", ADMIN),
    s("see_work_queues", "See work queues", POOLS),
    s("write_work_queues", "Edit work queues", POOLS),
    s("manage_work_queues", "Manage work queues", POOLS),
    s(
        "see_concurrency_limits",
        "See concurrency limits",
        CONCURRENCY,
    ),
    s(
        "manage_concurrency_limits",
        "Manage concurrency limits",
        CONCURRENCY,
    ),
    s("see_events", "See events", EVENTS),
    s("manage_events", "Manage events", EVENTS),
    s("see_event_publications", "See event publications", EVENTS),
    s(
        "manage_event_publications",
        "Manage event publications",
        EVENTS,
    ),
    s("see_event_subscriptions", "See event subscriptions", EVENTS),
    s(
        "manage_event_subscriptions",
        "Manage event subscriptions",
        EVENTS,
    ),
    s("see_automations", "See automations", EVENTS),
    s("manage_automations", "Manage automations", EVENTS),
    s("see_work_pools", "See work pools", POOLS),
    s("write_work_pools", "Edit work pools", POOLS),
    s("manage_work_pools", "Manage work pools", POOLS),
    s("see_workers", "See workers", POOLS),
    s("write_workers", "Edit workers", POOLS),
    s("manage_workers", "Manage workers", POOLS),
    s("see_artifacts", "See artifacts", ARTIFACTS),
    s("write_artifacts", "Edit artifacts", ARTIFACTS),
    s("manage_artifacts", "Manage artifacts", ARTIFACTS),
    s("see_variables", "See variables", VARIABLES),
    s("write_variables", "Edit variables", VARIABLES),
    s("manage_variables", "Manage variables", VARIABLES),
    s("manage_acls", "Manage object access lists", ADMIN),
    s("see_incidents", "See incidents", INCIDENTS),
    s("write_incidents", "Edit incidents", INCIDENTS),
    s("manage_incidents", "Manage incidents", INCIDENTS),
    s(
        "manage_mex_storage",
        "Manage managed-execution storage",
        MEX,
    ),
    s("manage_mex_deploy", "Manage managed-execution deploys", MEX),
    s("see_tags", "See tags", ARTIFACTS),
    s("manage_tags", "Manage tags", ARTIFACTS),
    s("see_assets", "See assets", ARTIFACTS),
    s("write_assets", "Edit assets", ARTIFACTS),
    s("manage_assets", "Manage assets", ARTIFACTS),
    s("see_webhooks", "See webhooks", EVENTS),
    s("manage_webhooks", "Manage webhooks", EVENTS),
];

const GROUP_ORDER: [&str; 12] = [
    FLOWS,
    DEPLOYMENTS,
    BLOCKS,
    VARIABLES,
    POOLS,
    CONCURRENCY,
    EVENTS,
    NOTIFICATIONS,
    ARTIFACTS,
    INCIDENTS,
    ADMIN,
    MEX,
];

/// The catalog grouped by feature, in display order.
pub fn groups() -> Vec<(&'static str, Vec<&'static ScopeInfo>)> {
    GROUP_ORDER
        .iter()
        .map(|g| (*g, SCOPES.iter().filter(|s| s.group == *g).collect()))
        .collect()
}

fn index_of(name: &str) -> Option<usize> {
    SCOPES.iter().position(|s| s.name == name)
}

pub fn is_scope(name: &str) -> bool {
    index_of(name).is_some()
}

/// A set of catalog scopes (a bitset by catalog position).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u64);

impl ScopeSet {
    pub fn empty() -> Self {
        ScopeSet(0)
    }

    pub fn all() -> Self {
        ScopeSet((1u64 << SCOPES.len()) - 1)
    }

    /// The named scopes, ignoring unknown names (not closed under nesting).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = ScopeSet::empty();
        for n in names {
            set.insert(n);
        }
        set
    }

    pub fn insert(&mut self, name: &str) -> bool {
        match index_of(name) {
            Some(i) => {
                self.0 |= 1 << i;
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        index_of(name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The names, in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        SCOPES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, s)| s.name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.iter().collect()
    }
}

const VERBS: [&str; 4] = ["see_", "run_", "write_", "manage_"];

/// The nesting rule: `manage_X` ⊃ `write_X` ⊃ `run_X` ⊃ `see_X`, for the names that exist.
pub fn close<'a>(scopes: impl IntoIterator<Item = &'a str>) -> ScopeSet {
    let mut set = ScopeSet::empty();
    for name in scopes {
        if !set.insert(name) {
            continue;
        }
        if let Some((level, object)) = VERBS
            .iter()
            .enumerate()
            .find_map(|(i, v)| name.strip_prefix(v).map(|o| (i, o)))
        {
            for lower in &VERBS[..level] {
                set.insert(&format!("{lower}{object}"));
            }
        }
    }
    set
}

/// The built-in workspace roles (DESIGN §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuiltinRole {
    Owner,
    Developer,
    Runner,
    Viewer,
    Worker,
}

impl BuiltinRole {
    pub fn all() -> [BuiltinRole; 5] {
        [
            BuiltinRole::Owner,
            BuiltinRole::Developer,
            BuiltinRole::Runner,
            BuiltinRole::Viewer,
            BuiltinRole::Worker,
        ]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Developer => "developer",
            BuiltinRole::Runner => "runner",
            BuiltinRole::Viewer => "viewer",
            BuiltinRole::Worker => "worker",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Owner",
            BuiltinRole::Developer => "Developer",
            BuiltinRole::Runner => "Runner",
            BuiltinRole::Viewer => "Viewer",
            BuiltinRole::Worker => "Worker",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        BuiltinRole::all()
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinRole::Owner => {
                "Everything in the workspace, including its settings, members and deletion."
            }
            BuiltinRole::Developer => {
                "Builds and runs flows and deployments; no workspace administration."
            }
            BuiltinRole::Runner => "Sees everything a Viewer sees and runs deployments.",
            BuiltinRole::Viewer => {
                "Sees flows, runs and configuration, but not secrets or administration."
            }
            BuiltinRole::Worker => "What a worker process needs: poll work pools and run flows.",
        }
    }

    pub fn scopes(self) -> ScopeSet {
        match self {
            BuiltinRole::Owner => ScopeSet::all(),
            BuiltinRole::Viewer => {
                ScopeSet::from_names(SCOPES.iter().map(|s| s.name).filter(|n| {
                    n.starts_with("see_")
                        && !matches!(
                            *n,
                            "see_secret_blocks"
                                | "see_workspace_users"
                                | "see_workspace_service_accounts"
                                | "see_workspace_settings"
                        )
                }))
            }
            BuiltinRole::Runner => BuiltinRole::Viewer
                .scopes()
                .union(&close(["run_deployments"])),
            BuiltinRole::Developer => {
                ScopeSet::from_names(SCOPES.iter().map(|s| s.name).filter(|n| {
                    !matches!(
                        *n,
                        "write_workspace_settings"
                            | "manage_workspace_settings"
                            | "see_workspace_users"
                            | "manage_workspace_users"
                            | "see_workspace_service_accounts"
                            | "manage_workspace_service_accounts"
                            | "manage_workspace_teams"
                            | "manage_acls"
                    )
                }))
            }
            BuiltinRole::Worker => ScopeSet::from_names([
                "see_flows",
                "see_deployments",
                "see_work_pools",
                "see_work_queues",
                "see_workers",
                "write_workers",
                "run_flows",
                "run_tasks",
                "see_blocks",
                "see_secret_blocks",
                "see_variables",
                "see_concurrency_limits",
                "see_artifacts",
                "write_artifacts",
            ]),
        }
    }
}

/// What a role grants: a built-in role, or a custom role's listed scopes plus an optional
/// built-in role it inherits from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleScopes {
    pub builtin: Option<BuiltinRole>,
    pub listed: ScopeSet,
}

impl RoleScopes {
    /// Listed scopes closed under nesting, plus the inherited built-in role's scopes as that
    /// role is defined now (inherited roles follow the built-in role as it changes).
    pub fn scopes(&self) -> ScopeSet {
        let listed = close(self.listed.iter());
        match self.builtin {
            Some(b) => listed.union(&b.scopes()),
            None => listed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ServiceAccount,
}

/// What decides an actor's scopes on one workspace.
pub struct Inputs<'a> {
    pub actor: ActorKind,
    /// The actor's account role (service accounts are always Member).
    pub account_role: Option<AccountRole>,
    /// The actor's own role on the workspace, if any.
    pub own_role: Option<&'a RoleScopes>,
    /// The workspace's default role; `None` = No Access.
    pub default_role: Option<&'a RoleScopes>,
}

/// THE function deciding workspace access (DESIGN §2):
/// 1. a user who is account Owner or Admin has every scope;
/// 2. otherwise the union of the own role's scopes and — only for users who are members of
///    the account (Owner, Admin, Member; not Collaborators, never service accounts) — the
///    workspace's default role;
/// 3. roles as [`RoleScopes::scopes`];
/// 4. an empty result means the workspace does not exist for the actor: callers answer 404.
pub fn effective_scopes(i: &Inputs<'_>) -> ScopeSet {
    let is_user = i.actor == ActorKind::User;
    if is_user
        && matches!(
            i.account_role,
            Some(AccountRole::Owner | AccountRole::Admin)
        )
    {
        return ScopeSet::all();
    }
    let own = i.own_role.map(RoleScopes::scopes).unwrap_or_default();
    let member = matches!(
        i.account_role,
        Some(AccountRole::Owner | AccountRole::Admin | AccountRole::Member)
    );
    let default = match i.default_role {
        Some(d) if is_user && member => d.scopes(),
        _ => ScopeSet::empty(),
    };
    own.union(&default)
}

pub fn can_see_workspace(scopes: &ScopeSet) -> bool {
    !scopes.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_the_reference_list() {
        assert_eq!(SCOPES.len(), 61);
        let mut names: Vec<&str> = SCOPES.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 61);
        assert_eq!(groups().iter().map(|(_, v)| v.len()).sum::<usize>(), 61);
    }

    #[test]
    fn verbs_nest() {
        let c = close(["manage_deployments"]);
        for n in [
            "manage_deployments",
            "write_deployments",
            "run_deployments",
            "see_deployments",
        ] {
            assert!(c.contains(n), "{n}");
        }
        assert!(close(["manage_workspace_users"]).contains("see_workspace_users"));
        assert_eq!(close(["run_tasks"]).names(), vec!["run_tasks"]);
        assert!(close(["nonsense"]).is_empty());
    }

    #[test]
    fn builtin_roles_follow_the_design_and_are_closed() {
        for r in BuiltinRole::all() {
            assert_eq!(close(r.scopes().iter()), r.scopes(), "{r:?} is closed");
        }
        assert_eq!(BuiltinRole::Owner.scopes().len(), 61);
        let viewer = BuiltinRole::Viewer.scopes();
        assert!(viewer.contains("see_flows") && !viewer.contains("see_secret_blocks"));
        let runner = BuiltinRole::Runner.scopes();
        assert_eq!(
            runner,
            viewer.union(&ScopeSet::from_names(["run_deployments"]))
        );
        let dev = BuiltinRole::Developer.scopes();
        assert!(!dev.contains("manage_workspace_settings") && !dev.contains("see_workspace_users"));
        assert!(dev.contains("see_workspace_settings") && dev.contains("manage_deployments"));
        assert_eq!(BuiltinRole::Worker.scopes().len(), 14);
    }

    #[test]
    fn custom_roles_add_inherited_scopes() {
        let r = RoleScopes {
            builtin: Some(BuiltinRole::Viewer),
            listed: ScopeSet::from_names(["write_variables"]),
        };
        let s = r.scopes();
        assert!(
            s.contains("write_variables") && s.contains("see_variables") && s.contains("see_flows")
        );
        assert_eq!(
            s,
            close(["write_variables"]).union(&BuiltinRole::Viewer.scopes())
        );
    }

    #[test]
    fn effective_scopes_follow_the_four_rules() {
        let viewer = RoleScopes {
            builtin: Some(BuiltinRole::Viewer),
            listed: ScopeSet::empty(),
        };
        let runner = RoleScopes {
            builtin: Some(BuiltinRole::Runner),
            listed: ScopeSet::empty(),
        };
        let worker = RoleScopes {
            builtin: Some(BuiltinRole::Worker),
            listed: ScopeSet::empty(),
        };
        let dev = RoleScopes {
            builtin: Some(BuiltinRole::Developer),
            listed: ScopeSet::empty(),
        };
        let user = |role, own, default| {
            effective_scopes(&Inputs {
                actor: ActorKind::User,
                account_role: Some(role),
                own_role: own,
                default_role: default,
            })
        };
        assert_eq!(user(AccountRole::Admin, None, None), ScopeSet::all());
        assert_eq!(user(AccountRole::Owner, None, None), ScopeSet::all());
        assert_eq!(
            user(AccountRole::Member, None, Some(&viewer)),
            BuiltinRole::Viewer.scopes()
        );
        assert_eq!(
            user(AccountRole::Member, Some(&runner), Some(&viewer)),
            BuiltinRole::Runner.scopes()
        );
        assert!(user(AccountRole::Member, None, None).is_empty());
        assert!(user(AccountRole::Collaborator, None, Some(&viewer)).is_empty());
        let bot = |role, own, default| {
            effective_scopes(&Inputs {
                actor: ActorKind::ServiceAccount,
                account_role: Some(role),
                own_role: own,
                default_role: default,
            })
        };
        assert_eq!(
            bot(AccountRole::Member, Some(&worker), Some(&dev)),
            BuiltinRole::Worker.scopes()
        );
        assert_eq!(
            bot(AccountRole::Admin, Some(&worker), None),
            BuiltinRole::Worker.scopes()
        );
    }
}
