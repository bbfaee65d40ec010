//! Workspace scopes (the reference document's `WorkspaceScopeName` catalog, 61 names), the
//! nesting rule, the built-in workspace roles, and the one function that computes an
//! actor's effective scopes on a workspace (DESIGN §1–§2).
//!
//! Pure: no database, no HTTP. The built-in roles and the nesting table are computed at
//! compile time; a misspelt scope name in a role list, or a built-in role that is not closed
//! under the nesting rule, does not compile.

use std::fmt;

use crate::authz::AccountRole;

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
const VARIABLES: &str = "Variables";
const POOLS: &str = "Work pools & workers";
const CONCURRENCY: &str = "Concurrency";
const EVENTS: &str = "Automations & events";
const NOTIFICATIONS: &str = "Notifications";
const ARTIFACTS: &str = "Artifacts & assets";
const INCIDENTS: &str = "Incidents";
const ADMIN: &str = "Workspace administration";
const MEX: &str = "Managed execution";

/// The feature groups, in display order.
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

const fn s(name: &'static str, title: &'static str, group: &'static str) -> ScopeInfo {
    ScopeInfo { name, title, group }
}

/// The catalog, in the reference document's order. A scope's position here is its bit in
/// [`ScopeSet`].
pub const SCOPES: [ScopeInfo; 61] = [
    s("see_flows", "See flows", FLOWS),
    s("manage_saved_search", "Manage saved searches", FLOWS),
    s("run_flows", "Run flows", FLOWS),
    s("manage_flows", "Manage flows", FLOWS),
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
        "Manage workspace settings (including deletion)",
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
    s("manage_acls", "Manage access control lists", ADMIN),
    s("see_incidents", "See incidents", INCIDENTS),
    s("write_incidents", "Edit incidents", INCIDENTS),
    s("manage_incidents", "Manage incidents", INCIDENTS),
    s(
        "manage_mex_storage",
        "Manage managed-execution storage",
        MEX,
    ),
    s(
        "manage_mex_deploy",
        "Manage managed-execution deployments",
        MEX,
    ),
    s("see_tags", "See tags", ARTIFACTS),
    s("manage_tags", "Manage tags", ARTIFACTS),
    s("see_assets", "See assets", ARTIFACTS),
    s("write_assets", "Edit assets", ARTIFACTS),
    s("manage_assets", "Manage assets", ARTIFACTS),
    s("see_webhooks", "See webhooks", EVENTS),
    s("manage_webhooks", "Manage webhooks", EVENTS),
];

/// The catalog grouped by feature, in display order (scopes in catalog order within a
/// group). Every scope is in exactly one group.
pub fn groups() -> Vec<(&'static str, Vec<&'static ScopeInfo>)> {
    GROUP_ORDER
        .iter()
        .map(|g| (*g, SCOPES.iter().filter(|s| s.group == *g).collect()))
        .collect()
}

/// Is `name` one of the 61 catalog scopes (exact, case-sensitive)?
pub fn is_scope(name: &str) -> bool {
    position(name).is_some()
}

// ---- compile-time helpers -------------------------------------------------------------

const N: usize = SCOPES.len();

/// Nesting order of the verbs: each includes those before it, for the same object.
const VERBS: [&str; 4] = ["see_", "run_", "write_", "manage_"];

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Catalog position of `name`.
const fn position(name: &str) -> Option<usize> {
    let mut i = 0;
    while i < N {
        if bytes_eq(SCOPES[i].name.as_bytes(), name.as_bytes()) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The verb level (index in [`VERBS`]) and object of a name: `write_work_pools` → (2,
/// `work_pools`).
const fn verb_and_object(name: &str) -> Option<(usize, &[u8])> {
    let bytes = name.as_bytes();
    let mut v = 0;
    while v < VERBS.len() {
        let prefix = VERBS[v].as_bytes();
        if bytes.len() > prefix.len() {
            let (head, object) = bytes.split_at(prefix.len());
            if bytes_eq(head, prefix) {
                return Some((v, object));
            }
        }
        v += 1;
    }
    None
}

/// `IMPLIES[i]`: scope `i` and every catalog scope it implies under the nesting rule (the
/// same object with a lower verb). Already transitive, so one lookup per scope closes a set.
const IMPLIES: [u64; N] = {
    let mut out = [0u64; N];
    let mut i = 0;
    while i < N {
        if let Some((level, object)) = verb_and_object(SCOPES[i].name) {
            // The same object at this level or below: the scope itself and what it implies.
            let mut j = 0;
            while j < N {
                if let Some((l, o)) = verb_and_object(SCOPES[j].name)
                    && l <= level
                    && bytes_eq(o, object)
                {
                    out[i] |= 1 << j;
                }
                j += 1;
            }
        } else {
            out[i] = 1 << i;
        }
        i += 1;
    }
    out
};

const ALL_BITS: u64 = (1 << N) - 1;

const fn close_bits(bits: u64) -> u64 {
    let mut out = 0;
    let mut i = 0;
    while i < N {
        if bits & (1 << i) != 0 {
            out |= IMPLIES[i];
        }
        i += 1;
    }
    out
}

/// The bits of the named scopes; an unknown name is a compile error (used in consts only).
const fn bits_of(names: &[&str]) -> u64 {
    let mut bits = 0;
    let mut k = 0;
    while k < names.len() {
        match position(names[k]) {
            Some(i) => bits |= 1 << i,
            None => panic!("not a workspace scope"),
        }
        k += 1;
    }
    bits
}

/// The bits of every scope with the given verb prefix.
const fn bits_with_verb(verb: usize) -> u64 {
    let mut bits = 0;
    let mut i = 0;
    while i < N {
        if let Some((v, _)) = verb_and_object(SCOPES[i].name)
            && v == verb
        {
            bits |= 1 << i;
        }
        i += 1;
    }
    bits
}

// ---- built-in role definitions (DESIGN §2, as written) ---------------------------------

const VIEWER_EXCLUDED: [&str; 4] = [
    "see_secret_blocks",
    "see_workspace_users",
    "see_workspace_service_accounts",
    "see_workspace_settings",
];

const DEVELOPER_EXCLUDED: [&str; 8] = [
    "write_workspace_settings",
    "manage_workspace_settings",
    "see_workspace_users",
    "manage_workspace_users",
    "see_workspace_service_accounts",
    "manage_workspace_service_accounts",
    "manage_workspace_teams",
    "manage_acls",
];

/// `see_events`: the worker and every flow run it starts subscribe to `events/out` to learn
/// that a run is being cancelled (docs/PREFECT.md, "The Worker role").
const WORKER_SCOPES: [&str; 15] = [
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
    "see_events",
];

const OWNER_BITS: u64 = ALL_BITS;
const VIEWER_BITS: u64 = bits_with_verb(0) & !bits_of(&VIEWER_EXCLUDED);
const RUNNER_BITS: u64 = VIEWER_BITS | close_bits(bits_of(&["run_deployments"]));
const DEVELOPER_BITS: u64 = ALL_BITS & !bits_of(&DEVELOPER_EXCLUDED);
const WORKER_BITS: u64 = bits_of(&WORKER_SCOPES);

/// Every name of `scopes` has a verb, and no name stands twice.
const fn catalog_is_sound(scopes: &[ScopeInfo]) -> bool {
    let mut i = 0;
    while i < scopes.len() {
        if verb_and_object(scopes[i].name).is_none() {
            return false;
        }
        let mut j = 0;
        while j < i {
            if bytes_eq(scopes[j].name.as_bytes(), scopes[i].name.as_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

// The catalog fits the bitset and is sound, and the built-in roles as written are already
// closed under nesting (closing them adds nothing).
const _: () = {
    assert!(N <= 64);
    assert!(catalog_is_sound(&SCOPES));
    assert!(close_bits(OWNER_BITS) == OWNER_BITS);
    assert!(close_bits(DEVELOPER_BITS) == DEVELOPER_BITS);
    assert!(close_bits(RUNNER_BITS) == RUNNER_BITS);
    assert!(close_bits(VIEWER_BITS) == VIEWER_BITS);
    assert!(close_bits(WORKER_BITS) == WORKER_BITS);
};

// ---- ScopeSet ---------------------------------------------------------------------------

/// A set of catalog scopes: a bitset by catalog position, iterated in catalog order. Copy,
/// and cheap to combine.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u64);

impl ScopeSet {
    pub const fn empty() -> Self {
        ScopeSet(0)
    }

    /// All 61 scopes.
    pub const fn all() -> Self {
        ScopeSet(ALL_BITS)
    }

    /// The named scopes, ignoring unknown names. Not closed under nesting: see [`close`].
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = ScopeSet::empty();
        for n in names {
            set.insert(n);
        }
        set
    }

    /// Adds `name`; returns whether it is a catalog scope (unknown names are ignored).
    pub fn insert(&mut self, name: &str) -> bool {
        match position(name) {
            Some(i) => {
                self.0 |= 1 << i;
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        position(name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub const fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0 | other.0)
    }

    /// Is every scope of `self` also in `other`?
    pub const fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// This set closed under the nesting rule (see [`close`]).
    pub const fn closed(&self) -> ScopeSet {
        ScopeSet(close_bits(self.0))
    }

    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub const fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// The names, in catalog order.
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + use<> {
        let bits = self.0;
        SCOPES
            .iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, s)| s.name)
    }

    /// The names, in catalog order.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().collect()
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The nesting rule (DESIGN §1): `see_` ⊂ `run_` ⊂ `write_` ⊂ `manage_` for the same object.
/// Returns the named scopes plus every catalog scope they imply (`manage_X` brings `write_X`,
/// `run_X` and `see_X` where those names exist; `run_tasks` brings nothing, as there is no
/// `see_tasks`). Unknown names are ignored.
pub fn close<'a>(scopes: impl IntoIterator<Item = &'a str>) -> ScopeSet {
    ScopeSet::from_names(scopes).closed()
}

// ---- built-in roles ---------------------------------------------------------------------

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
    /// Every built-in role, from most to least access (Worker last: it is for machines).
    pub const fn all() -> [BuiltinRole; 5] {
        [
            BuiltinRole::Owner,
            BuiltinRole::Developer,
            BuiltinRole::Runner,
            BuiltinRole::Viewer,
            BuiltinRole::Worker,
        ]
    }

    /// The stored name: `owner`, `developer`, `runner`, `viewer`, `worker`.
    pub const fn as_str(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Developer => "developer",
            BuiltinRole::Runner => "runner",
            BuiltinRole::Viewer => "viewer",
            BuiltinRole::Worker => "worker",
        }
    }

    /// The name shown to people.
    pub const fn label(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Owner",
            BuiltinRole::Developer => "Developer",
            BuiltinRole::Runner => "Runner",
            BuiltinRole::Viewer => "Viewer",
            BuiltinRole::Worker => "Worker",
        }
    }

    /// Parses a stored name or label (`owner`, `Owner`; surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        BuiltinRole::all()
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    pub const fn description(self) -> &'static str {
        match self {
            BuiltinRole::Owner => {
                "Everything in the workspace, including its settings, members and deletion."
            }
            BuiltinRole::Developer => {
                "Builds, runs and manages flows, deployments and their configuration, without workspace administration."
            }
            BuiltinRole::Runner => "Sees what a Viewer sees and can also run deployments.",
            BuiltinRole::Viewer => {
                "Sees flows, runs and configuration, but not secret values or workspace administration."
            }
            BuiltinRole::Worker => {
                "What a worker process needs: poll work pools and queues, run flows and tasks, watch for their cancellation, and record artifacts."
            }
        }
    }

    /// The role's scopes, exactly as DESIGN §2 lists them (already closed under nesting).
    pub const fn scopes(self) -> ScopeSet {
        ScopeSet(match self {
            BuiltinRole::Owner => OWNER_BITS,
            BuiltinRole::Developer => DEVELOPER_BITS,
            BuiltinRole::Runner => RUNNER_BITS,
            BuiltinRole::Viewer => VIEWER_BITS,
            BuiltinRole::Worker => WORKER_BITS,
        })
    }
}

// ---- effective scopes -------------------------------------------------------------------

/// What a role grants: a built-in role (`builtin: Some(b)`, nothing listed), or a custom
/// role's listed scopes plus an optional built-in role it inherits from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleScopes {
    pub builtin: Option<BuiltinRole>,
    pub listed: ScopeSet,
}

impl RoleScopes {
    /// DESIGN §2 rule 3: the listed scopes closed under nesting, plus the inherited built-in
    /// role's scopes as that role is defined at the time of the check (so inherited roles
    /// follow the built-in role as it changes).
    pub fn scopes(&self) -> ScopeSet {
        let listed = self.listed.closed();
        match self.builtin {
            Some(b) => listed.union(&b.scopes()),
            None => listed,
        }
    }
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ServiceAccount,
}

/// Everything that decides an actor's scopes on one workspace W of account C.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    pub actor: ActorKind,
    /// The actor's account role in C, if any (service accounts are always Member).
    pub account_role: Option<AccountRole>,
    /// The actor's own workspace role on W, if any.
    pub own_role: Option<&'a RoleScopes>,
    /// W's default role; `None` = No Access.
    pub default_role: Option<&'a RoleScopes>,
    /// The roles on W of every team of C the actor belongs to (teams hold people only).
    pub team_roles: &'a [RoleScopes],
}

/// THE function deciding workspace access (DESIGN §2):
///
/// 1. a user whose account role is Owner or Admin has every scope (implicit workspace
///    Owner); this never applies to service accounts, whatever `account_role` says;
/// 2. otherwise the union of the own role's scopes (if any) and — only for a user who is a
///    member of the account (Owner, Admin or Member; not a Collaborator, never a service
///    account) — the default role's scopes, unless the default is No Access, and the
///    scopes of the role of every team of theirs that has one on W;
/// 3. each role's scopes as [`RoleScopes::scopes`];
/// 4. an empty result means W does not exist for the actor: callers do not list it and
///    answer 404, not 403 (see [`can_see_workspace`]).
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
    let account_member = matches!(
        i.account_role,
        Some(AccountRole::Owner | AccountRole::Admin | AccountRole::Member)
    );
    let default = match i.default_role {
        Some(d) if is_user && account_member => d.scopes(),
        _ => ScopeSet::empty(),
    };
    let mut scopes = own.union(&default);
    if is_user && account_member {
        for team in i.team_roles {
            scopes = scopes.union(&team.scopes());
        }
    }
    scopes
}

/// DESIGN §2 guard: nobody gives (or changes, or takes away) a workspace role with scopes
/// they do not hold themselves. `own` is the granter's effective scopes on the workspace.
pub fn may_grant(own: &ScopeSet, role: &RoleScopes) -> bool {
    role.scopes().is_subset(own)
}

/// DESIGN §2 rule 4: a workspace exists for an actor only if they have at least one scope.
pub fn can_see_workspace(scopes: &ScopeSet) -> bool {
    !scopes.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `components.schemas.WorkspaceScopeName.enum` of the reference document, in order.
    const REFERENCE: [&str; 61] = [
        "see_flows",
        "manage_saved_search",
        "run_flows",
        "manage_flows",
        "run_tasks",
        "see_blocks",
        "see_secret_blocks",
        "manage_blocks",
        "see_deployments",
        "run_deployments",
        "write_deployments",
        "manage_deployments",
        "see_notifications",
        "write_notifications",
        "manage_notifications",
        "see_workspace_settings",
        "write_workspace_settings",
        "manage_workspace_settings",
        "see_workspace_users",
        "manage_workspace_users",
        "see_workspace_service_accounts",
        "manage_workspace_service_accounts",
        "manage_workspace_teams",
        "see_work_queues",
        "write_work_queues",
        "manage_work_queues",
        "see_concurrency_limits",
        "manage_concurrency_limits",
        "see_events",
        "manage_events",
        "see_event_publications",
        "manage_event_publications",
        "see_event_subscriptions",
        "manage_event_subscriptions",
        "see_automations",
        "manage_automations",
        "see_work_pools",
        "write_work_pools",
        "manage_work_pools",
        "see_workers",
        "write_workers",
        "manage_workers",
        "see_artifacts",
        "write_artifacts",
        "manage_artifacts",
        "see_variables",
        "write_variables",
        "manage_variables",
        "manage_acls",
        "see_incidents",
        "write_incidents",
        "manage_incidents",
        "manage_mex_storage",
        "manage_mex_deploy",
        "see_tags",
        "manage_tags",
        "see_assets",
        "write_assets",
        "manage_assets",
        "see_webhooks",
        "manage_webhooks",
    ];

    fn set(names: &[&str]) -> ScopeSet {
        let s = ScopeSet::from_names(names.iter().copied());
        assert_eq!(s.len(), names.len(), "all known: {names:?}");
        s
    }

    fn builtin(b: BuiltinRole) -> RoleScopes {
        RoleScopes {
            builtin: Some(b),
            listed: ScopeSet::empty(),
        }
    }

    #[test]
    fn nobody_grants_a_role_with_a_scope_they_do_not_hold() {
        let developer = BuiltinRole::Developer.scopes();
        let viewer = BuiltinRole::Viewer.scopes();
        assert!(may_grant(&developer, &builtin(BuiltinRole::Viewer)));
        assert!(may_grant(&developer, &builtin(BuiltinRole::Developer)));
        assert!(!may_grant(&developer, &builtin(BuiltinRole::Owner)));
        assert!(!may_grant(&viewer, &builtin(BuiltinRole::Runner)));
        assert!(may_grant(&ScopeSet::all(), &builtin(BuiltinRole::Owner)));
        let custom = RoleScopes {
            builtin: None,
            listed: set(&["manage_flows"]),
        };
        // A custom role counts with its listed scopes closed under nesting.
        assert!(may_grant(&custom.scopes(), &custom));
        assert!(!may_grant(&set(&["see_flows"]), &custom));
        assert!(!may_grant(
            &ScopeSet::empty(),
            &builtin(BuiltinRole::Viewer)
        ));
    }

    #[test]
    fn catalog_is_the_reference_list_in_order() {
        let names: Vec<&str> = SCOPES.iter().map(|s| s.name).collect();
        assert_eq!(names, REFERENCE);
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 61);
        assert!(REFERENCE.iter().all(|n| is_scope(n)));
        assert!(!is_scope("see_tasks") && !is_scope("SEE_FLOWS") && !is_scope(""));
    }

    #[test]
    fn every_scope_has_a_title_and_one_group_in_display_order() {
        for s in &SCOPES {
            let verb = s.name.split('_').next().unwrap_or_default();
            let expected = match verb {
                "see" => "See ",
                "run" => "Run ",
                "write" => "Edit ",
                _ => "Manage ",
            };
            assert!(s.title.starts_with(expected), "{}: {}", s.name, s.title);
            assert!(GROUP_ORDER.contains(&s.group), "{}", s.name);
        }
        let groups = groups();
        let titles: Vec<&str> = groups.iter().map(|(g, _)| *g).collect();
        assert_eq!(titles, GROUP_ORDER);
        assert!(groups.iter().all(|(_, v)| !v.is_empty()));
        assert_eq!(groups.iter().map(|(_, v)| v.len()).sum::<usize>(), 61);
        let group_of = |name: &str| {
            groups
                .iter()
                .find(|(_, v)| v.iter().any(|s| s.name == name))
                .map(|(g, _)| *g)
        };
        assert_eq!(group_of("manage_saved_search"), Some("Flows & runs"));
        assert_eq!(group_of("see_work_queues"), Some("Work pools & workers"));
        assert_eq!(group_of("manage_webhooks"), Some("Automations & events"));
        assert_eq!(group_of("see_tags"), Some("Artifacts & assets"));
        assert_eq!(group_of("manage_acls"), Some("Workspace administration"));
        assert_eq!(group_of("manage_mex_deploy"), Some("Managed execution"));
    }

    #[test]
    fn the_compile_time_catalog_check_refuses_a_missing_verb_and_a_repeated_name() {
        assert!(catalog_is_sound(&SCOPES));
        let named = |name| ScopeInfo {
            name,
            title: "",
            group: "",
        };
        assert!(!catalog_is_sound(&[
            named("see_flows"),
            named("deploy_flows")
        ]));
        assert!(!catalog_is_sound(&[
            named("see_flows"),
            named("run_flows"),
            named("see_flows")
        ]));
    }

    #[test]
    fn closing_keeps_each_scope_and_ignores_bits_outside_the_catalog() {
        for (i, scope) in SCOPES.iter().enumerate() {
            assert_ne!(close_bits(1 << i) & (1 << i), 0, "{}", scope.name);
        }
        assert_eq!(close_bits(1 << N), 0);
        assert_eq!(close_bits(ALL_BITS), ALL_BITS);
    }

    #[test]
    fn a_name_is_a_verb_prefix_and_an_object() {
        assert_eq!(
            verb_and_object("write_work_pools"),
            Some((2, &b"work_pools"[..]))
        );
        assert_eq!(verb_and_object("manage_x"), Some((3, &b"x"[..])));
        // A bare prefix names no object; a name without a known verb has no level.
        assert_eq!(verb_and_object("see_"), None);
        assert_eq!(verb_and_object("deploy_flows"), None);
        assert_eq!(verb_and_object(""), None);
    }

    #[test]
    fn scope_set_operations() {
        let mut a = ScopeSet::empty();
        assert!(a.is_empty());
        assert_eq!(a.len(), 0);
        assert!(a.insert("see_webhooks"));
        assert!(a.insert("see_flows"));
        assert!(!a.insert("nonsense"));
        assert_eq!(
            a.names(),
            vec!["see_flows", "see_webhooks"],
            "catalog order"
        );
        assert!(a.contains("see_flows") && !a.contains("run_flows") && !a.contains("x"));
        let b = ScopeSet::from_names(["run_flows", "unknown"]);
        assert_eq!(b.len(), 1);
        let u = a.union(&b);
        assert_eq!(u.len(), 3);
        assert!(a.is_subset(&u) && b.is_subset(&u) && !u.is_subset(&a));
        assert_eq!(ScopeSet::all().len(), 61);
        assert_eq!(ScopeSet::all().names(), REFERENCE);
        assert_eq!(ScopeSet::from_names(REFERENCE), ScopeSet::all());
        assert_eq!(format!("{b:?}"), r#"{"run_flows"}"#);
    }

    #[test]
    fn manage_implies_write_run_and_see_of_the_same_object() {
        assert_eq!(
            close(["manage_deployments"]),
            set(&[
                "see_deployments",
                "run_deployments",
                "write_deployments",
                "manage_deployments"
            ])
        );
        assert_eq!(
            close(["write_deployments"]),
            set(&["see_deployments", "run_deployments", "write_deployments"])
        );
        assert_eq!(
            close(["run_deployments"]),
            set(&["see_deployments", "run_deployments"])
        );
        assert_eq!(
            close(["manage_flows"]),
            set(&["see_flows", "run_flows", "manage_flows"])
        );
        assert_eq!(
            close(["manage_workspace_users"]),
            set(&["see_workspace_users", "manage_workspace_users"])
        );
        assert_eq!(
            close(["manage_work_pools"]),
            set(&["see_work_pools", "write_work_pools", "manage_work_pools"])
        );
    }

    #[test]
    fn nesting_implies_only_existing_names_of_the_same_object() {
        assert_eq!(close(["run_tasks"]), set(&["run_tasks"]));
        assert_eq!(close(["manage_acls"]), set(&["manage_acls"]));
        assert_eq!(
            close(["manage_workspace_teams"]),
            set(&["manage_workspace_teams"])
        );
        // `secret_blocks` is another object than `blocks`.
        assert_eq!(
            close(["manage_blocks"]),
            set(&["see_blocks", "manage_blocks"])
        );
        // `workspace_settings` is not `workspace_service_accounts` or `workspace_users`.
        assert_eq!(
            close(["manage_workspace_settings"]),
            set(&[
                "see_workspace_settings",
                "write_workspace_settings",
                "manage_workspace_settings"
            ])
        );
        assert!(close(["nonsense", "see_"]).is_empty());
        assert_eq!(close(REFERENCE), ScopeSet::all());
        // Closing twice adds nothing; closing the see_ scopes adds nothing.
        for s in &SCOPES {
            let c = close([s.name]);
            assert_eq!(c.closed(), c, "{}", s.name);
            if s.name.starts_with("see_") {
                assert_eq!(c.len(), 1, "{}", s.name);
            }
        }
    }

    #[test]
    fn builtin_roles_as_written_are_closed_under_nesting() {
        for r in BuiltinRole::all() {
            assert_eq!(close(r.scopes().iter()), r.scopes(), "{r:?}");
            assert_eq!(builtin(r).scopes(), r.scopes(), "{r:?}");
        }
    }

    #[test]
    fn builtin_role_sizes() {
        let sizes: Vec<(&str, usize)> = BuiltinRole::all()
            .iter()
            .map(|r| (r.as_str(), r.scopes().len()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                ("owner", 61),
                ("developer", 53),
                ("runner", 19),
                ("viewer", 18),
                ("worker", 15)
            ]
        );
    }

    #[test]
    fn owner_has_every_scope() {
        assert_eq!(BuiltinRole::Owner.scopes(), ScopeSet::all());
    }

    #[test]
    fn viewer_sees_all_but_secrets_and_administration() {
        let viewer = BuiltinRole::Viewer.scopes();
        for s in &SCOPES {
            let expected = s.name.starts_with("see_")
                && ![
                    "see_secret_blocks",
                    "see_workspace_users",
                    "see_workspace_service_accounts",
                    "see_workspace_settings",
                ]
                .contains(&s.name);
            assert_eq!(viewer.contains(s.name), expected, "{}", s.name);
        }
        assert!(viewer.contains("see_flows") && viewer.contains("see_webhooks"));
        assert!(!viewer.contains("run_flows") && !viewer.contains("see_secret_blocks"));
    }

    #[test]
    fn runner_is_viewer_plus_run_deployments() {
        let (viewer, runner) = (BuiltinRole::Viewer.scopes(), BuiltinRole::Runner.scopes());
        assert!(viewer.is_subset(&runner));
        assert_eq!(runner, viewer.union(&set(&["run_deployments"])));
        assert!(!runner.contains("run_flows") && !runner.contains("write_deployments"));
    }

    #[test]
    fn developer_has_everything_but_workspace_administration() {
        let dev = BuiltinRole::Developer.scopes();
        let excluded = [
            "write_workspace_settings",
            "manage_workspace_settings",
            "see_workspace_users",
            "manage_workspace_users",
            "see_workspace_service_accounts",
            "manage_workspace_service_accounts",
            "manage_workspace_teams",
            "manage_acls",
        ];
        for s in &SCOPES {
            assert_eq!(
                dev.contains(s.name),
                !excluded.contains(&s.name),
                "{}",
                s.name
            );
        }
        assert!(dev.contains("see_workspace_settings") && dev.contains("see_secret_blocks"));
        assert!(dev.contains("manage_deployments") && dev.contains("manage_mex_deploy"));
        assert!(BuiltinRole::Runner.scopes().is_subset(&dev));
    }

    #[test]
    fn worker_has_exactly_its_fifteen_scopes() {
        let worker = BuiltinRole::Worker.scopes();
        assert_eq!(
            worker,
            set(&[
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
                "see_events",
            ])
        );
        assert!(!worker.contains("run_deployments") && !worker.contains("manage_events"));
    }

    #[test]
    fn builtin_role_names_round_trip() {
        for r in BuiltinRole::all() {
            assert_eq!(BuiltinRole::parse(r.as_str()), Some(r));
            assert_eq!(BuiltinRole::parse(r.label()), Some(r));
            assert!(r.description().ends_with('.'));
        }
        assert_eq!(BuiltinRole::parse(" Runner "), Some(BuiltinRole::Runner));
        assert_eq!(BuiltinRole::parse("admin"), None);
        assert_eq!(BuiltinRole::parse(""), None);
    }

    #[test]
    fn custom_role_gets_listed_scopes_closed_plus_the_inherited_role() {
        let r = RoleScopes {
            builtin: Some(BuiltinRole::Viewer),
            listed: set(&["write_variables"]),
        };
        let s = r.scopes();
        assert!(s.contains("write_variables") && s.contains("see_variables"));
        assert!(s.contains("see_flows") && !s.contains("manage_variables"));
        // The inherited part is read from the built-in definition at check time.
        assert_eq!(
            s,
            close(["write_variables"]).union(&BuiltinRole::Viewer.scopes())
        );
        assert_eq!(s.len(), BuiltinRole::Viewer.scopes().len() + 1);

        let plain = RoleScopes {
            builtin: None,
            listed: set(&["manage_tags", "run_tasks"]),
        };
        assert_eq!(
            plain.scopes(),
            set(&["see_tags", "manage_tags", "run_tasks"])
        );
        let nothing = RoleScopes {
            builtin: None,
            listed: ScopeSet::empty(),
        };
        assert!(nothing.scopes().is_empty());
    }

    fn user(
        account_role: Option<AccountRole>,
        own: Option<&RoleScopes>,
        default: Option<&RoleScopes>,
    ) -> ScopeSet {
        effective_scopes(&Inputs {
            actor: ActorKind::User,
            account_role,
            own_role: own,
            default_role: default,
            team_roles: &[],
        })
    }

    fn bot(
        account_role: Option<AccountRole>,
        own: Option<&RoleScopes>,
        default: Option<&RoleScopes>,
    ) -> ScopeSet {
        effective_scopes(&Inputs {
            actor: ActorKind::ServiceAccount,
            account_role,
            own_role: own,
            default_role: default,
            team_roles: &[],
        })
    }

    #[test]
    fn account_owners_and_admins_have_every_scope() {
        let viewer = builtin(BuiltinRole::Viewer);
        for role in [AccountRole::Owner, AccountRole::Admin] {
            assert_eq!(user(Some(role), None, None), ScopeSet::all());
            assert_eq!(user(Some(role), Some(&viewer), None), ScopeSet::all());
        }
    }

    #[test]
    fn member_without_own_role_gets_the_default_role() {
        let viewer = builtin(BuiltinRole::Viewer);
        assert_eq!(
            user(Some(AccountRole::Member), None, Some(&viewer)),
            BuiltinRole::Viewer.scopes()
        );
    }

    #[test]
    fn member_gets_own_role_and_default_role_together() {
        let (viewer, runner) = (builtin(BuiltinRole::Viewer), builtin(BuiltinRole::Runner));
        assert_eq!(
            user(Some(AccountRole::Member), Some(&runner), Some(&viewer)),
            BuiltinRole::Runner.scopes()
        );
        let worker = builtin(BuiltinRole::Worker);
        assert_eq!(
            user(Some(AccountRole::Member), Some(&worker), Some(&viewer)),
            BuiltinRole::Worker
                .scopes()
                .union(&BuiltinRole::Viewer.scopes())
        );
    }

    #[test]
    fn member_with_no_role_and_no_access_default_cannot_see_the_workspace() {
        let scopes = user(Some(AccountRole::Member), None, None);
        assert!(scopes.is_empty());
        assert!(!can_see_workspace(&scopes));
        let viewer = builtin(BuiltinRole::Viewer);
        assert!(can_see_workspace(&user(
            Some(AccountRole::Member),
            None,
            Some(&viewer)
        )));
    }

    #[test]
    fn collaborator_does_not_get_the_default_role() {
        let (viewer, runner) = (builtin(BuiltinRole::Viewer), builtin(BuiltinRole::Runner));
        let collab = Some(AccountRole::Collaborator);
        assert!(user(collab, None, Some(&viewer)).is_empty());
        assert_eq!(
            user(
                collab,
                Some(&runner),
                Some(&builtin(BuiltinRole::Developer))
            ),
            BuiltinRole::Runner.scopes()
        );
        // Not in the account at all: no default role either.
        assert!(user(None, None, Some(&viewer)).is_empty());
    }

    #[test]
    fn service_account_gets_only_its_own_role() {
        let (worker, dev) = (
            builtin(BuiltinRole::Worker),
            builtin(BuiltinRole::Developer),
        );
        let member = Some(AccountRole::Member);
        assert_eq!(
            bot(member, Some(&worker), Some(&dev)),
            BuiltinRole::Worker.scopes()
        );
        assert!(bot(member, None, Some(&dev)).is_empty());
    }

    fn in_teams(
        account_role: Option<AccountRole>,
        own: Option<&RoleScopes>,
        teams: &[RoleScopes],
        actor: ActorKind,
    ) -> ScopeSet {
        effective_scopes(&Inputs {
            actor,
            account_role,
            own_role: own,
            default_role: None,
            team_roles: teams,
        })
    }

    #[test]
    fn a_member_gets_the_union_of_own_default_and_team_roles() {
        let member = Some(AccountRole::Member);
        let (viewer, worker, runner) = (
            builtin(BuiltinRole::Viewer),
            builtin(BuiltinRole::Worker),
            builtin(BuiltinRole::Runner),
        );
        // Through a team only.
        assert_eq!(
            in_teams(member, None, std::slice::from_ref(&runner), ActorKind::User),
            BuiltinRole::Runner.scopes()
        );
        // Own role and two teams: the union.
        let got = in_teams(
            member,
            Some(&viewer),
            &[worker.clone(), runner.clone()],
            ActorKind::User,
        );
        assert_eq!(
            got,
            BuiltinRole::Viewer
                .scopes()
                .union(&BuiltinRole::Worker.scopes())
                .union(&BuiltinRole::Runner.scopes())
        );
        // With the default role too.
        let with_default = effective_scopes(&Inputs {
            actor: ActorKind::User,
            account_role: member,
            own_role: None,
            default_role: Some(&viewer),
            team_roles: std::slice::from_ref(&worker),
        });
        assert_eq!(
            with_default,
            BuiltinRole::Viewer
                .scopes()
                .union(&BuiltinRole::Worker.scopes())
        );
    }

    #[test]
    fn team_roles_count_only_for_members_of_the_account() {
        let runner = builtin(BuiltinRole::Runner);
        for role in [None, Some(AccountRole::Collaborator)] {
            assert!(
                in_teams(role, None, std::slice::from_ref(&runner), ActorKind::User).is_empty()
            );
        }
        assert!(
            in_teams(
                Some(AccountRole::Member),
                None,
                std::slice::from_ref(&runner),
                ActorKind::ServiceAccount
            )
            .is_empty()
        );
    }

    #[test]
    fn rule_one_is_for_users_only() {
        let worker = builtin(BuiltinRole::Worker);
        let dev = builtin(BuiltinRole::Developer);
        for role in [AccountRole::Admin, AccountRole::Owner] {
            assert_eq!(
                bot(Some(role), Some(&worker), Some(&dev)),
                BuiltinRole::Worker.scopes()
            );
            assert!(bot(Some(role), None, None).is_empty());
        }
    }
}
