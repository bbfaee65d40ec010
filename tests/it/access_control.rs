//! Access-control sweep (issue #9, point 7): every route read from the sources × every
//! kind of caller, with the answer each must get. The table is made of rules by route
//! class (public, signed-in, account permission, workspace scope), so a new route without
//! a rule fails `every_route_has_an_access_rule`, and a handler that forgets its check
//! fails the sweep.
//!
//! Callers: anonymous, an expired session / key, the account's Owner, Admin, Member and
//! Collaborator (Viewer on `prod`), a Member holding Developer on `prod` (a workspace role
//! holder), a user of another account, and a service account of the account (API only,
//! Viewer on `prod`). `prod`'s default role is No Access, so a plain Member does not reach it.
//!
//! Refusals are sent and checked exactly (pages: 303 to /auth/login when not signed in,
//! 404 for what the caller may not see, 403 for what they see but may not do; API: 401,
//! 404, 403). Allowed reads are sent and must not be refused; allowed changes are not sent
//! here (they would change the world the other rows run against): each has its scenario in
//! the domain tests and in `audit_coverage`.

use crate::support::text;
use std::collections::BTreeMap;

use atrium::authz::AccountRole;
use atrium::authz::account::{AccountPerm, PermSet};
use atrium::authz::workspace::{BuiltinRole, ScopeSet};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_support::{DEVELOPER_ROLE, VIEWER_ROLE, bot, call, grant, grant_bot, user_key};
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::routes::{CHANGING, all_routes};
use crate::support::{Client, TestApp};
use crate::workspaces::create_ws;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Caller {
    Anonymous,
    Expired,
    Outsider,
    Collaborator,
    Member,
    Developer,
    Admin,
    Owner,
    Bot,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::Expired,
    Caller::Outsider,
    Caller::Bot,
    Caller::Collaborator,
    Caller::Member,
    Caller::Developer,
    Caller::Admin,
    Caller::Owner,
];

impl Caller {
    /// The caller's role in the account under test.
    fn role(self) -> Option<AccountRole> {
        match self {
            Caller::Owner => Some(AccountRole::Owner),
            Caller::Admin => Some(AccountRole::Admin),
            Caller::Member | Caller::Developer | Caller::Bot => Some(AccountRole::Member),
            Caller::Collaborator => Some(AccountRole::Collaborator),
            _ => None,
        }
    }

    fn has(self, p: AccountPerm) -> bool {
        self.role().is_some_and(|r| PermSet::of_role(r).has(p))
    }

    /// The caller's scopes on `prod` (DESIGN §2: Owners and Admins all; otherwise the own
    /// role, the default being No Access).
    fn scopes(self) -> ScopeSet {
        match self {
            Caller::Owner | Caller::Admin => BuiltinRole::Owner.scopes(),
            Caller::Developer => BuiltinRole::Developer.scopes(),
            Caller::Collaborator | Caller::Bot => BuiltinRole::Viewer.scopes(),
            _ => ScopeSet::from_names([]),
        }
    }

    fn signed_in(self) -> bool {
        !matches!(self, Caller::Anonymous | Caller::Expired)
    }
}

/// What a route asks of its caller.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// Anyone, signed in or not (log-in, sign-up, the invitee's pages, static files).
    Public,
    /// The log-in's second step (two-factor): only a browser whose password was just right
    /// has one; every caller here is sent to the log-in page (303), GET and POST alike.
    SecondStep,
    /// A signed-in user (pages) or any valid key (API); nothing of an account.
    SignedIn,
    /// Only the holder of the personal key (or the user of the session) in the path.
    OwnKey,
    /// A person's key: a service account's key gets 403 (the API's `/me`).
    UserKey,
    /// A member of the account: 404 without `see` (None: any member, Collaborators too),
    /// 403 without `act` (set for changes, and for the pages of a form for one).
    Account(Option<AccountPerm>, Option<AccountPerm>),
    /// A caller with a scope on the workspace: 404 without `see`, 403 without `act` (a
    /// scope) or `account` (an account permission, e.g. `delete:workspace` to move it).
    /// `see_flows`, held by every built-in role, stands for "reaches the workspace".
    Workspace(&'static str, Option<&'static str>, Option<AccountPerm>),
}

use AccountPerm as P;

/// The rules: (method or "*", path prefix or exact path, what it needs). The first rule
/// whose method matches and whose path is the route's path (exact, or prefix when it ends
/// with `*`) decides.
#[rustfmt::skip]
const RULES: &[(&str, &str, Need)] = &[
    // Pages: public and signed-in -------------------------------------------------------
    ("*", "/auth/login", Need::Public),
    ("*", "/auth/signup", Need::Public),
    ("*", "/auth/forgot", Need::Public),
    ("*", "/auth/verify/{verify_id}", Need::Public),
    ("*", "/auth/reset/{reset_id}", Need::Public),
    ("*", "/auth/confirm", Need::SignedIn),
    ("*", "/auth/two-factor", Need::SecondStep),
    ("*", "/healthz", Need::Public),
    ("*", "/static/{name}", Need::Public),
    ("GET", "/invitations/{invitation_id}", Need::Public),
    ("*", "/invitations/{invitation_id}/decline", Need::Public),
    ("*", "/invitations/{invitation_id}/signup", Need::Public),
    ("*", "/invitations/{invitation_id}/accept", Need::SignedIn),
    ("*", "/profile/api-keys/{key_id}/delete", Need::OwnKey),
    ("*", "/profile/sessions/{session_id}/end", Need::OwnKey),
    ("*", "/", Need::SignedIn),
    ("*", "/auth/logout", Need::SignedIn),
    ("*", "/onboarding*", Need::SignedIn),
    ("*", "/profile*", Need::SignedIn),
    ("*", "/accounts/new", Need::SignedIn),
    ("*", "/switcher", Need::SignedIn),
    // Pages of an account ---------------------------------------------------------------
    ("GET", "/account/{account_id}", Need::Account(None, None)),
    ("*", "/account/{account_id}/leave", Need::Account(None, None)),
    ("GET", "/account/{account_id}/workspaces", Need::Account(None, None)),
    ("POST", "/account/{account_id}/workspaces", Need::Account(None, Some(P::CreateWorkspace))),
    ("GET", "/account/{account_id}/settings", Need::Account(Some(P::ReadAccount), None)),
    ("POST", "/account/{account_id}/settings", Need::Account(Some(P::ReadAccount), Some(P::UpdateAccount))),
    ("POST", "/account/{account_id}/delete", Need::Account(Some(P::ReadAccount), Some(P::DeleteAccount))),
    ("GET", "/account/{account_id}/delete", Need::Account(Some(P::ReadAccount), None)),
    ("GET", "/account/{account_id}/members", Need::Account(Some(P::ReadMembership), None)),
    ("GET", "/account/{account_id}/members/invitations", Need::Account(Some(P::ReadInvitation), None)),
    ("POST", "/account/{account_id}/members/{user_id}/role", Need::Account(Some(P::ReadMembership), Some(P::UpdateMembership))),
    ("POST", "/account/{account_id}/members/{user_id}/remove", Need::Account(Some(P::ReadMembership), Some(P::DeleteMembership))),
    ("GET", "/account/{account_id}/members/{user_id}/remove", Need::Account(Some(P::ReadMembership), Some(P::DeleteMembership))),
    ("GET", "/account/{account_id}/members/{user_id}/role", Need::Account(Some(P::ReadMembership), Some(P::UpdateMembership))),
    ("POST", "/account/{account_id}/invitations", Need::Account(Some(P::ReadMembership), Some(P::CreateInvitation))),
    ("GET", "/account/{account_id}/invitations", Need::Account(Some(P::ReadMembership), None)),
    ("POST", "/account/{account_id}/invitations/*", Need::Account(Some(P::ReadInvitation), Some(P::UpdateInvitation))),
    ("GET", "/account/{account_id}/roles", Need::Account(Some(P::ReadWorkspaceRole), None)),
    ("GET", "/account/{account_id}/roles/*", Need::Account(Some(P::ReadWorkspaceRole), Some(P::CreateWorkspaceRole))),
    ("POST", "/account/{account_id}/roles*", Need::Account(Some(P::ReadWorkspaceRole), Some(P::CreateWorkspaceRole))),
    ("GET", "/account/{account_id}/service-accounts", Need::Account(Some(P::ReadBot), None)),
    ("GET", "/account/{account_id}/service-accounts/{sa_id}", Need::Account(Some(P::ReadBot), None)),
    ("POST", "/account/{account_id}/service-accounts", Need::Account(Some(P::ReadBot), Some(P::CreateBot))),
    ("POST", "/account/{account_id}/service-accounts/{sa_id}/delete", Need::Account(Some(P::ReadBot), Some(P::DeleteBot))),
    ("POST", "/account/{account_id}/service-accounts/*", Need::Account(Some(P::ReadBot), Some(P::UpdateBot))),
    // Single sign-on (issue #26): Owners and Admins see and change it; Members do not see it.
    ("GET", "/account/{account_id}/settings/sso", Need::Account(Some(P::ReadSso), None)),
    ("POST", "/account/{account_id}/settings/sso*", Need::Account(Some(P::ReadSso), Some(P::AdministrateSso))),
    ("*", "/sso/domains/verify", Need::Public),
    ("*", "/auth/sso", Need::Public),
    ("*", "/auth/sso/callback", Need::Public),
    ("*", "/auth/sso/link", Need::Public),
    ("*", "/auth/sso/account/{account_id}", Need::SignedIn),
    // Teams (issue #25): Members read them; Owners and Admins change them.
    ("GET", "/account/{account_id}/teams", Need::Account(Some(P::ReadTeam), None)),
    ("POST", "/account/{account_id}/teams", Need::Account(Some(P::ReadTeam), Some(P::CreateTeam))),
    ("GET", "/account/{account_id}/teams/{team_id}", Need::Account(Some(P::ReadTeam), None)),
    ("*", "/account/{account_id}/teams/{team_id}/delete", Need::Account(Some(P::ReadTeam), Some(P::DeleteTeam))),
    ("GET", "/account/{account_id}/teams/{team_id}/candidates", Need::Account(Some(P::ReadTeam), Some(P::UpdateTeam))),
    ("POST", "/account/{account_id}/teams/{team_id}/*", Need::Account(Some(P::ReadTeam), Some(P::UpdateTeam))),
    ("GET", "/account/{account_id}/audit-log*", Need::Account(Some(P::ReadAuditEvent), None)),
    // Transfer requests are for those who may move workspaces in or out (Owners, Admins).
    ("GET", "/account/{account_id}/transfers", Need::Account(Some(P::CreateWorkspace), None)),
    ("POST", "/account/{account_id}/transfers/{transfer_id}/cancel", Need::Account(Some(P::CreateWorkspace), Some(P::DeleteWorkspace))),
    ("POST", "/account/{account_id}/transfers/*", Need::Account(Some(P::CreateWorkspace), Some(P::CreateWorkspace))),
    // Pages of a workspace --------------------------------------------------------------
    ("GET", "/account/{account_id}/workspace/{workspace_id}/dashboard", Need::Workspace("see_flows", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/settings/members", Need::Workspace("see_workspace_users", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/settings/members/candidates", Need::Workspace("see_workspace_users", Some("manage_workspace_users"), None)),
    ("POST", "/account/{account_id}/workspace/{workspace_id}/settings/members*", Need::Workspace("see_workspace_users", Some("manage_workspace_users"), None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts", Need::Workspace("see_workspace_service_accounts", None, None)),
    ("POST", "/account/{account_id}/workspace/{workspace_id}/settings/service-accounts*", Need::Workspace("see_workspace_service_accounts", Some("manage_workspace_service_accounts"), None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/teams", Need::Workspace("see_workspace_users", None, None)),
    ("POST", "/account/{account_id}/workspace/{workspace_id}/teams*", Need::Workspace("see_workspace_users", Some("manage_workspace_teams"), None)),
    ("*", "/account/{account_id}/workspace/{workspace_id}/settings/transfer*", Need::Workspace("see_workspace_settings", None, Some(P::DeleteWorkspace))),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/settings", Need::Workspace("see_workspace_settings", None, None)),
    ("POST", "/account/{account_id}/workspace/{workspace_id}/settings", Need::Workspace("see_workspace_settings", Some("write_workspace_settings"), None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/settings/server", Need::Workspace("see_workspace_settings", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/runs/flow-run/{object_id}", Need::Workspace("see_flows", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/flows/flow/{object_id}", Need::Workspace("see_flows", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/deployments/deployment/{object_id}", Need::Workspace("see_deployments", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/work-pools/work-pool/{object_id}", Need::Workspace("see_work_pools", None, None)),
    // Prefect's UI (issue #23): every other address below a workspace, and its settings.
    ("GET", "/account/{account_id}/workspace/{workspace_id}/ui-settings", Need::Workspace("see_flows", None, None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/{tail:.*}", Need::Workspace("see_flows", None, None)),
    // The UI's icons at the site's root.
    ("GET", "/ico/{name}", Need::Public),
    ("GET", "/favicon.ico", Need::Public),
    ("GET", "/favicon-dark.ico", Need::Public),
    ("*", "/account/{account_id}/workspace/{workspace_id}/settings/server*", Need::Workspace("see_workspace_settings", Some("manage_workspace_settings"), None)),
    ("POST", "/account/{account_id}/workspace/{workspace_id}/delete", Need::Workspace("see_workspace_settings", Some("manage_workspace_settings"), None)),
    ("GET", "/account/{account_id}/workspace/{workspace_id}/delete", Need::Workspace("see_workspace_settings", None, None)),
    // The API ---------------------------------------------------------------------------
    ("GET", "/api/openapi.json", Need::Public),
    ("GET", "/api/me/workspaces/{workspace_id}/scopes", Need::Workspace("see_flows", None, None)),
    ("GET", "/api/me", Need::UserKey),
    ("*", "/api/me*", Need::SignedIn),
    ("*", "/api/workspace_scopes", Need::SignedIn),
    ("*", "/api/accounts/permissions", Need::SignedIn),
    ("GET", "/api/accounts/{account_id}", Need::Account(Some(P::ReadAccount), None)),
    ("*", "/api/accounts/{account_id}/account_memberships/filter", Need::Account(Some(P::ReadMembership), None)),
    ("PATCH", "/api/accounts/{account_id}/account_memberships/{id}", Need::Account(Some(P::ReadMembership), Some(P::UpdateMembership))),
    ("DELETE", "/api/accounts/{account_id}/account_memberships/{id}", Need::Account(Some(P::ReadMembership), Some(P::DeleteMembership))),
    ("*", "/api/accounts/{account_id}/invitations/filter", Need::Account(Some(P::ReadInvitation), None)),
    ("POST", "/api/accounts/{account_id}/invitations", Need::Account(Some(P::ReadMembership), Some(P::CreateInvitation))),
    ("POST", "/api/accounts/{account_id}/invitations/{id}/revoke", Need::Account(Some(P::ReadInvitation), Some(P::UpdateInvitation))),
    ("*", "/api/accounts/{account_id}/events/filter*", Need::Account(Some(P::ReadAuditEvent), None)),
    ("*", "/api/accounts/{account_id}/bots/filter", Need::Account(Some(P::ReadBot), None)),
    ("GET", "/api/accounts/{account_id}/bots/*", Need::Account(Some(P::ReadBot), None)),
    ("POST", "/api/accounts/{account_id}/bots", Need::Account(Some(P::ReadBot), Some(P::CreateBot))),
    ("DELETE", "/api/accounts/{account_id}/bots/{id}", Need::Account(Some(P::ReadBot), Some(P::DeleteBot))),
    ("*", "/api/accounts/{account_id}/bots/*", Need::Account(Some(P::ReadBot), Some(P::UpdateBot))),
    ("*", "/api/accounts/{account_id}/workspace_roles/filter", Need::Account(Some(P::ReadWorkspaceRole), None)),
    ("GET", "/api/accounts/{account_id}/workspace_roles/{id}", Need::Account(Some(P::ReadWorkspaceRole), None)),
    ("*", "/api/accounts/{account_id}/workspace_roles*", Need::Account(Some(P::ReadWorkspaceRole), Some(P::CreateWorkspaceRole))),
    ("GET", "/api/accounts/{account_id}/sso/integrations", Need::Account(Some(P::ReadSso), None)),
    ("*", "/api/accounts/{account_id}/sso/*", Need::Account(Some(P::ReadSso), Some(P::AdministrateSso))),
    ("*", "/api/accounts/{account_id}/teams/filter", Need::Account(Some(P::ReadTeam), None)),
    ("GET", "/api/accounts/{account_id}/teams/{id}", Need::Account(Some(P::ReadTeam), None)),
    ("POST", "/api/accounts/{account_id}/teams", Need::Account(Some(P::ReadTeam), Some(P::CreateTeam))),
    ("DELETE", "/api/accounts/{account_id}/teams/{id}", Need::Account(Some(P::ReadTeam), Some(P::DeleteTeam))),
    ("*", "/api/accounts/{account_id}/teams/*", Need::Account(Some(P::ReadTeam), Some(P::UpdateTeam))),
    // The workspaces a member reaches (a Collaborator too), as on the account's page.
    ("*", "/api/accounts/{account_id}/workspaces/filter", Need::Account(None, None)),
    ("POST", "/api/accounts/{account_id}/workspaces", Need::Account(None, Some(P::CreateWorkspace))),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/filter", Need::Workspace("see_workspace_users", None, None)),
    ("GET", "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}", Need::Workspace("see_workspace_users", None, None)),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access*", Need::Workspace("see_workspace_users", Some("manage_workspace_users"), None)),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/filter", Need::Workspace("see_workspace_service_accounts", None, None)),
    ("GET", "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}", Need::Workspace("see_workspace_service_accounts", None, None)),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access*", Need::Workspace("see_workspace_service_accounts", Some("manage_workspace_service_accounts"), None)),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/filter", Need::Workspace("see_workspace_users", None, None)),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access*", Need::Workspace("see_workspace_users", Some("manage_workspace_teams"), None)),
    // Moving a workspace is an action on the workspace: whoever reaches it gets 403 without
    // `delete:workspace` (the page lives under the settings, hence 404 there for Viewers).
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/validate_transfer", Need::Workspace("see_flows", None, Some(P::DeleteWorkspace))),
    ("*", "/api/accounts/{account_id}/workspaces/{workspace_id}/transfer", Need::Workspace("see_flows", None, Some(P::DeleteWorkspace))),
    ("GET", "/api/accounts/{account_id}/workspaces/{workspace_id}", Need::Workspace("see_flows", None, None)),
    ("PATCH", "/api/accounts/{account_id}/workspaces/{workspace_id}", Need::Workspace("see_workspace_settings", Some("write_workspace_settings"), None)),
    ("DELETE", "/api/accounts/{account_id}/workspaces/{workspace_id}", Need::Workspace("see_workspace_settings", Some("manage_workspace_settings"), None)),
];

fn rule_for(method: &str, path: &str) -> Option<Need> {
    RULES.iter().find_map(|(m, p, need)| {
        let method_ok = *m == "*" || *m == method;
        let path_ok = match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => *p == path,
        };
        (method_ok && path_ok).then_some(*need)
    })
}

/// The answer a caller must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Pages: 303 to /auth/login.
    Login,
    Status(u16),
    /// Not refused (any answer but 401, 403, 404, a log-in redirect or a 5xx).
    Allowed,
    /// Not sent (a bot has no session; an allowed change is not made here).
    NotSent,
}

fn expect(method: &str, path: &str, need: Need, who: Caller) -> Expect {
    let api = path.starts_with("/api/");
    let changing = CHANGING.contains(&method);
    if !api && who == Caller::Bot {
        return Expect::NotSent;
    }
    let verdict = match need {
        Need::Public => Expect::Allowed,
        Need::SecondStep => return Expect::Login,
        _ if !who.signed_in() => {
            if api {
                Expect::Status(401)
            } else {
                Expect::Login
            }
        }
        Need::SignedIn => Expect::Allowed,
        Need::UserKey => {
            if who == Caller::Bot {
                Expect::Status(403)
            } else {
                Expect::Allowed
            }
        }
        Need::OwnKey => {
            if who == Caller::Owner {
                Expect::Allowed
            } else {
                Expect::Status(404)
            }
        }
        Need::Account(see, act) => {
            if who.role().is_none() || see.is_some_and(|p| !who.has(p)) {
                Expect::Status(404)
            } else if act.is_some_and(|p| !who.has(p)) {
                Expect::Status(403)
            } else {
                Expect::Allowed
            }
        }
        Need::Workspace(see, act, account) => {
            let scopes = who.scopes();
            if !scopes.contains(see) {
                Expect::Status(404)
            } else if act.is_some_and(|s| !scopes.contains(s))
                || account.is_some_and(|p| !who.has(p))
            {
                Expect::Status(403)
            } else {
                Expect::Allowed
            }
        }
    };
    if verdict == Expect::Allowed && changing {
        Expect::NotSent
    } else {
        verdict
    }
}

struct World {
    pages: BTreeMap<Caller, Client>,
    keys: BTreeMap<Caller, String>,
    params: BTreeMap<&'static str, String>,
    /// `{id}` under the API, by the path's resource.
    api_ids: Vec<(&'static str, String)>,
    /// The invitation's code (the invitee's pages need it).
    code: String,
    /// The codes of the e-mailed links (path prefix, code): verification and reset.
    link_codes: Vec<(&'static str, String)>,
}

fn exec(app: &TestApp, sql: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn world(app: &TestApp) -> World {
    let mut pages = BTreeMap::new();
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&owner, "Acme", "acme").await;
    let prod = create_ws(&owner, &acme, "Prod", "prod")
        .await
        .split('/')
        .nth(4)
        .expect("workspace id")
        .to_string();
    exec(
        app,
        &format!("UPDATE workspaces SET default_role_id = NULL WHERE id = '{prod}'"),
    );
    for (who, handle, role) in [
        (Caller::Admin, "ada", "admin"),
        (Caller::Member, "mel", "member"),
        (Caller::Developer, "dev", "member"),
        (Caller::Collaborator, "col", "collaborator"),
        (Caller::Outsider, "out", ""),
        (Caller::Expired, "exp", "member"),
    ] {
        let c = app
            .signup(&format!("{handle}@example.com"), handle, PW)
            .await;
        if !role.is_empty() {
            add_member(app, &acme, handle, role);
        }
        pages.insert(who, c);
    }
    // Somebody to act on: a Member with Viewer on prod.
    app.signup("tim@example.com", "tim", PW).await;
    add_member(app, &acme, "tim", "member");
    grant(app, &prod, "tim", VIEWER_ROLE);
    grant(app, &prod, "col", VIEWER_ROLE);
    grant(app, &prod, "dev", DEVELOPER_ROLE);
    // The outsider has an account of their own, with a workspace.
    let other = create_org(&pages[&Caller::Outsider], "Other", "other").await;
    create_ws(&pages[&Caller::Outsider], &other, "Theirs", "theirs").await;

    let mut keys = BTreeMap::new();
    for (who, handle) in [
        (Caller::Owner, "ana"),
        (Caller::Admin, "ada"),
        (Caller::Member, "mel"),
        (Caller::Developer, "dev"),
        (Caller::Collaborator, "col"),
        (Caller::Outsider, "out"),
        (Caller::Expired, "exp"),
    ] {
        keys.insert(who, user_key(app, handle));
    }
    let (robot, robot_key) = bot(app, &acme, "robot");
    grant_bot(app, &prod, &robot, VIEWER_ROLE);
    keys.insert(Caller::Bot, robot_key);
    // Expired: the session and the key of a Member, both past their end.
    let exp = user_id(app, "exp");
    exec(
        app,
        &format!("UPDATE sessions SET expires_at = '2000-01-01 00:00:00' WHERE user_id = '{exp}'"),
    );
    exec(
        app,
        &format!("UPDATE api_keys SET expires_at = '2000-01-01 00:00:00' WHERE user_id = '{exp}'"),
    );
    pages.insert(Caller::Owner, owner);

    // What the paths name.
    let (target_sa, _) = bot(app, &acme, "target");
    grant_bot(app, &prod, &target_sa, VIEWER_ROLE);
    let r = pages[&Caller::Owner]
        .post_form(
            &format!("/account/{acme}/invitations"),
            &[("emails", "bob@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "invite: {}", r.text);
    let invitation = text(
        app,
        "SELECT id AS t FROM invitations WHERE email_normalized = 'bob@example.com'",
    );
    let link =
        crate::audit_coverage::invitation_link(&pages[&Caller::Owner], &acme, &invitation).await;
    let code = link
        .split("code=")
        .nth(1)
        .expect("the link's code")
        .to_string();
    let role = uuid::Uuid::new_v4().to_string();
    let now = atrium::db::now().format("%Y-%m-%d %H:%M:%S");
    exec(
        app,
        &format!(
            "INSERT INTO workspace_roles (id, account_id, builtin, name, description, scopes,
                 inherited_role, created_at, updated_at)
             VALUES ('{role}', '{acme}', NULL, 'Custom', '', '[]', 'viewer', '{now}', '{now}')"
        ),
    );
    // A transfer request into acme from the outsider's account (source ≠ target).
    let theirs = text(
        app,
        "SELECT id AS t FROM workspaces WHERE handle = 'theirs'",
    );
    let transfer = uuid::Uuid::new_v4().to_string();
    exec(
        app,
        &format!(
            "INSERT INTO workspace_transfers (id, workspace_id, workspace_name, workspace_handle,
                 source_account_id, target_account_id, status, requested_by_name, created_at,
                 expires_at)
             VALUES ('{transfer}', '{theirs}', 'Theirs', 'theirs', '{other}', '{acme}',
                 'pending', 'Out', '{now}', '2999-01-01 00:00:00')"
        ),
    );
    let tim = user_id(app, "tim");
    let ana_key_id = text(
        app,
        &format!(
            "SELECT id AS t FROM api_keys WHERE user_id = '{}'",
            user_id(app, "ana")
        ),
    );
    let mut params = BTreeMap::new();
    params.insert("account_id", acme.clone());
    params.insert("workspace_id", prod.clone());
    params.insert("user_id", tim.clone());
    params.insert("invitation_id", invitation.clone());
    params.insert("sa_id", target_sa.clone());
    params.insert("role_id", role.clone());
    params.insert("transfer_id", transfer);
    params.insert("key_id", ana_key_id);
    // One of the Owner's sessions (the sessions page).
    let ana_session = text(
        app,
        &format!(
            "SELECT MIN(id) AS t FROM sessions WHERE user_id = '{}'",
            user_id(app, "ana")
        ),
    );
    params.insert("session_id", ana_session);
    // A Prefect object's id or name (the workspace has no server here: the pages say so).
    params.insert("object_id", "4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13".into());
    // The e-mailed links: ana's verification link from sign-up, and a reset link.
    let mut link_codes = Vec::new();
    let forgot = app
        .new_client()
        .post_form("/auth/forgot", &[("email", "ana@example.com")])
        .await;
    assert_eq!(forgot.status, StatusCode::OK);
    for (param, prefix, kind) in [
        ("verify_id", "/auth/verify/", "verify_email"),
        ("reset_id", "/auth/reset/", "password_reset"),
    ] {
        let link = crate::account_security::mailed_link(app, kind, "ana@example.com");
        let (path, code) = link.split_once("?code=").expect("code in the link");
        params.insert(param, path.trim_start_matches(prefix).to_string());
        link_codes.push((prefix, code.to_string()));
    }
    params.insert("name", "atrium.css".to_string());
    // Prefect's UI: one of its pages.
    params.insert("tail:.*", "runs".to_string());
    let membership = text(
        app,
        &format!(
            "SELECT id AS t FROM account_memberships WHERE account_id = '{acme}' AND user_id = '{tim}'"
        ),
    );
    let user_access = text(
        app,
        &format!(
            "SELECT id AS t FROM workspace_access WHERE workspace_id = '{prod}' AND user_id = '{tim}'"
        ),
    );
    let bot_access = text(
        app,
        &format!(
            "SELECT id AS t FROM workspace_bot_access WHERE workspace_id = '{prod}' AND service_account_id = '{target_sa}'"
        ),
    );
    // A team of acme with tim in it (the API's `/teams/{id}`, `{team_id}`, `{actor_id}`).
    let api_team = {
        let mut c = app.conn();
        let team = atrium::teams::model::insert(&mut c, &acme, "Sweep API team", "").expect("team");
        atrium::teams::model::add_member(&mut c, &team.id, &tim).expect("team member");
        team.id
    };
    params.insert("team_id", api_team.clone());
    // SSO: ids nobody has (the refused callers are refused before they are looked up).
    params.insert("integration_id", uuid::Uuid::new_v4().to_string());
    params.insert("domain_id", uuid::Uuid::new_v4().to_string());
    params.insert("actor_id", tim.clone());
    let api_ids = vec![
        ("/account_memberships/", membership),
        ("/invitations/", invitation),
        ("/workspace_roles/", role),
        ("/bots/", target_sa),
        ("/user_access/", user_access),
        ("/bot_access/", bot_access),
        ("/teams/", api_team),
    ];
    World {
        pages,
        keys,
        params,
        api_ids,
        code,
        link_codes,
    }
}

fn concrete(w: &World, path: &str) -> String {
    let mut out = path.to_string();
    for (k, v) in &w.params {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    if out.contains("{id}") {
        let id = w
            .api_ids
            .iter()
            .find(|(seg, _)| out.contains(seg))
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("no {{id}} for {path}"));
        out = out.replace("{id}", &id);
    }
    assert!(!out.contains('{'), "unfilled parameter in {path}");
    out
}

/// Sends the request as `who`; returns (status, where a redirect goes).
async fn send(app: &TestApp, w: &World, who: Caller, method: &str, path: &str) -> (u16, String) {
    if path.starts_with("/api/") {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let body = matches!(method, "POST" | "PATCH" | "PUT").then(|| json!({}));
        let key = w.keys.get(&who).map(String::as_str);
        let r = call(app, key, m, path, body).await;
        return (r.status.as_u16(), String::new());
    }
    let anon;
    let c = match w.pages.get(&who) {
        Some(c) => c,
        None => {
            anon = app.new_client();
            &anon
        }
    };
    let r = match method {
        "GET" if path.starts_with("/invitations/") => {
            c.get(&format!("{path}?code={}", w.code)).await
        }
        "GET" if w.link_codes.iter().any(|(p, _)| path.starts_with(p)) => {
            let code = w
                .link_codes
                .iter()
                .find(|(p, _)| path.starts_with(p))
                .map(|(_, code)| code.as_str())
                .unwrap_or_default();
            c.get(&format!("{path}?code={code}")).await
        }
        "GET" => c.get(path).await,
        "POST" => c.post_form(path, &[]).await,
        other => panic!("pages use GET and POST, not {other}"),
    };
    (r.status.as_u16(), r.location().unwrap_or_default())
}

fn meets(e: Expect, status: u16, location: &str) -> bool {
    let to_login = status == 303 && location.starts_with("/auth/login");
    match e {
        Expect::Login => to_login,
        Expect::Status(s) => status == s,
        Expect::Allowed => !matches!(status, 401 | 403 | 404) && status < 500 && !to_login,
        Expect::NotSent => true,
    }
}

#[test]
fn every_route_has_an_access_rule() {
    let missing: Vec<String> = all_routes()
        .into_iter()
        .filter(|(m, p)| rule_for(m, p).is_none())
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a rule in tests/it/access_control.rs:\n{}",
        missing.join("\n")
    );
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_rules_say() {
    let ui = crate::prefect_ui::fixture_bundle();
    let app = crate::support::spawn_app_with(move |s| s.prefect_ui_dir = Some(ui)).await;
    let w = world(&app).await;
    let mut wrong = Vec::new();
    let (mut sent, mut skipped) = (0, 0);
    for (method, route) in all_routes() {
        let Some(need) = rule_for(&method, &route) else {
            continue; // reported by every_route_has_an_access_rule
        };
        let path = concrete(&w, &route);
        for who in CALLERS {
            let e = expect(&method, &route, need, who);
            if e == Expect::NotSent {
                skipped += 1;
                continue;
            }
            let (status, location) = send(&app, &w, who, &method, &path).await;
            sent += 1;
            if !meets(e, status, &location) {
                wrong.push(format!(
                    "{method} {route} as {who:?}: expected {e:?}, got {status} {location}"
                ));
            }
        }
    }
    eprintln!("access sweep: {sent} requests checked, {skipped} allowed changes not sent");
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
}
