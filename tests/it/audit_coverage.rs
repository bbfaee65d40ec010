//! Audit coverage (issue #7, point 1): every state-changing route records its event, in
//! the same transaction as the change.
//!
//! - `every_state_changing_route_has_a_scenario` reads the route table out of `src/` (no
//!   hand-copied list) and compares it with [`COVERED`] and [`EXEMPT`]: a new POST/PUT/
//!   PATCH/DELETE route without a scenario fails here, and so does a scenario for a route
//!   that is gone.
//! - `every_route_records_its_event` drives each of those routes over HTTP against the real
//!   application (session + CSRF for pages, a bearer key for `/api`) and checks the rows
//!   that appeared in `audit_events` for that request: action, actor, target, account and
//!   workspace. Refused changes (validation errors) must record nothing. At the end every
//!   action name in the table must be in `audit::catalog::ACTIONS`.

use crate::support::text;
use std::collections::BTreeSet;

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::{
    ACCOUNT_ADMIN, ACCOUNT_MEMBER, DEVELOPER_ROLE, OWNER_ROLE, VIEWER_ROLE, bot, call, grant_bot,
    membership_id, user_key,
};
use crate::members::{PW, add_member, user_id};
use crate::support::routes::discovered_routes;
use crate::support::{Client, Page, TestApp, spawn_app_with};

// ---------------------------------------------------------------------------------------
// The route table, read from the sources
// ---------------------------------------------------------------------------------------

/// Every state-changing route that has a scenario in `every_route_records_its_event`
/// (method and path as registered; a path registered with and without a trailing slash
/// is one route).
const COVERED: &[&str] = &[
    // Authentication and profile
    "POST /auth/signup",
    "POST /auth/login",
    "POST /auth/logout",
    "POST /profile",
    "POST /profile/password",
    "POST /profile/api-keys",
    "POST /profile/api-keys/{key_id}/delete",
    "POST /profile/sessions/{session_id}/end",
    "POST /profile/sessions/end-others",
    "POST /profile/email",
    "POST /profile/email/verify",
    "POST /auth/verify/{verify_id}",
    "POST /auth/forgot",
    "POST /auth/reset/{reset_id}",
    "POST /auth/confirm",
    // Two-factor authentication
    "POST /auth/two-factor",
    "POST /profile/two-factor/setup",
    "POST /profile/two-factor/confirm",
    "POST /profile/two-factor/recovery-codes",
    "POST /profile/two-factor/disable",
    // Accounts and members
    "POST /accounts/new",
    "POST /account/{account_id}/settings",
    "POST /account/{account_id}/delete",
    "POST /account/{account_id}/members/{user_id}/role",
    "POST /account/{account_id}/members/{user_id}/remove",
    "POST /account/{account_id}/leave",
    // Invitations
    "POST /account/{account_id}/invitations",
    "POST /account/{account_id}/invitations/{invitation_id}/resend",
    "POST /account/{account_id}/invitations/{invitation_id}/revoke",
    "POST /invitations/{invitation_id}/accept",
    "POST /invitations/{invitation_id}/decline",
    "POST /invitations/{invitation_id}/signup",
    // Workspaces, default role, people's access
    "POST /onboarding/workspace",
    "POST /account/{account_id}/workspaces",
    "POST /account/{account_id}/workspace/{workspace_id}/settings",
    "POST /account/{account_id}/workspace/{workspace_id}/delete",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/server",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/server/disconnect",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/server/restart",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/members",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/members/invite",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/role",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/remove",
    // Roles
    "POST /account/{account_id}/roles/new",
    "POST /account/{account_id}/roles/{role_id}/edit",
    "POST /account/{account_id}/roles/{role_id}/delete",
    // Service accounts
    "POST /account/{account_id}/service-accounts",
    "POST /account/{account_id}/service-accounts/{sa_id}/rename",
    "POST /account/{account_id}/service-accounts/{sa_id}/rotate",
    "POST /account/{account_id}/service-accounts/{sa_id}/delete",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/role",
    "POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/remove",
    // Single sign-on (issue #26; `sso_scenarios`)
    "POST /account/{account_id}/settings/sso",
    "POST /account/{account_id}/settings/sso/delete",
    "POST /account/{account_id}/settings/sso/domains",
    "POST /account/{account_id}/settings/sso/domains/{domain_id}/remove",
    "POST /sso/domains/verify",
    "POST /auth/sso/link",
    "DELETE /api/accounts/{account_id}/sso/integrations/{integration_id}",
    // Teams (pages)
    "POST /account/{account_id}/teams",
    "POST /account/{account_id}/teams/{team_id}/edit",
    "POST /account/{account_id}/teams/{team_id}/members",
    "POST /account/{account_id}/teams/{team_id}/members/{user_id}/remove",
    "POST /account/{account_id}/teams/{team_id}/delete",
    "POST /account/{account_id}/workspace/{workspace_id}/teams",
    "POST /account/{account_id}/workspace/{workspace_id}/teams/{team_id}/role",
    "POST /account/{account_id}/workspace/{workspace_id}/teams/{team_id}/remove",
    // Transfers
    "POST /account/{account_id}/workspace/{workspace_id}/settings/transfer",
    "POST /account/{account_id}/transfers/{transfer_id}/approve",
    "POST /account/{account_id}/transfers/{transfer_id}/decline",
    "POST /account/{account_id}/transfers/{transfer_id}/cancel",
    // The JSON API
    "PATCH /api/accounts/{account_id}/account_memberships/{id}",
    "DELETE /api/accounts/{account_id}/account_memberships/{id}",
    "POST /api/accounts/{account_id}/invitations",
    "POST /api/accounts/{account_id}/invitations/{id}/revoke",
    "POST /api/accounts/{account_id}/workspaces",
    "PATCH /api/accounts/{account_id}/workspaces/{workspace_id}",
    "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}",
    "POST /api/accounts/{account_id}/workspace_roles",
    "PATCH /api/accounts/{account_id}/workspace_roles/{id}",
    "DELETE /api/accounts/{account_id}/workspace_roles/{id}",
    "POST /api/accounts/{account_id}/workspaces/{workspace_id}/user_access",
    "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
    "POST /api/accounts/{account_id}/workspaces/{workspace_id}/transfer",
    "POST /api/accounts/{account_id}/bots",
    "PATCH /api/accounts/{account_id}/bots/{id}",
    "DELETE /api/accounts/{account_id}/bots/{id}",
    "POST /api/accounts/{account_id}/bots/{id}/rotate_api_key",
    "POST /api/accounts/{account_id}/workspaces/{workspace_id}/bot_access",
    "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}",
    "POST /api/accounts/{account_id}/teams",
    "PUT /api/accounts/{account_id}/teams/{id}",
    "DELETE /api/accounts/{account_id}/teams/{id}",
    "PUT /api/accounts/{account_id}/teams/{id}/members",
    "DELETE /api/accounts/{account_id}/teams/{team_id}/members/{actor_id}",
    "PUT /api/accounts/{account_id}/workspaces/{workspace_id}/team_access",
    "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/team_access/{team_id}",
];

/// State-changing methods whose routes change nothing persistent, with the reason. Besides
/// these, every path ending in `/filter` or `/filter/next` is exempt: those are POSTs only
/// because the filter travels in a JSON body (Prefect Cloud's API), and they only read.
const EXEMPT: &[(&str, &str)] = &[
    (
        "POST /auth/sso",
        "sends the browser to the provider; nothing is written (the sign-in is recorded at the callback: tests/it/sso.rs)",
    ),
    (
        "POST /api/accounts/{account_id}/sso/validate",
        "reads the provider's discovery document; nothing is written",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/validate_transfer",
        "computes the transfer preview and answers it; nothing is written",
    ),
];

fn exempt_by_rule(path: &str) -> bool {
    path.ends_with("/filter") || path.ends_with("/filter/next")
}

#[test]
fn every_state_changing_route_has_a_scenario() {
    let found = discovered_routes();
    // A sanity check of the scanner: it sees pages and the API.
    assert!(
        found.contains("POST /auth/login")
            && found.contains("POST /api/accounts/{account_id}/bots")
    );
    let covered: BTreeSet<String> = COVERED.iter().map(|s| s.to_string()).collect();
    let exempt: BTreeSet<String> = EXEMPT.iter().map(|(r, _)| r.to_string()).collect();
    let mut problems = Vec::new();
    for r in &found {
        let path = r.split_once(' ').map(|(_, p)| p).unwrap_or_default();
        if !covered.contains(r) && !exempt.contains(r) && !exempt_by_rule(path) {
            problems.push(format!("{r} has no audit coverage scenario"));
        }
    }
    for r in covered.iter().chain(exempt.iter()) {
        if !found.contains(r) {
            problems.push(format!(
                "{r} is listed in tests/it/audit_coverage.rs but no such route is registered"
            ));
        }
    }
    for r in &covered {
        if exempt.contains(r) {
            problems.push(format!("{r} is both covered and exempt"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Expected events and the check of one request
// ---------------------------------------------------------------------------------------

/// Who is expected to have done it.
#[derive(Clone, Debug)]
enum Who {
    User(String),
    Bot(String),
    Anonymous,
    System,
}

impl Who {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            Who::User(id) => ("user", Some(id.clone())),
            Who::Bot(id) => ("service_account", Some(id.clone())),
            Who::Anonymous => ("anonymous", None),
            Who::System => ("system", None),
        }
    }
}

/// One expected row: (action, actor kind, actor id, resource kind, resource id, account,
/// workspace).
type Row = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn ev(
    action: &str,
    who: &Who,
    target: (&str, Option<&str>),
    account: Option<&str>,
    workspace: Option<&str>,
) -> Row {
    let (kind, id) = who.parts();
    (
        action.to_string(),
        kind.to_string(),
        id,
        target.0.to_string(),
        target.1.map(str::to_string),
        account.map(str::to_string),
        workspace.map(str::to_string),
    )
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    action: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    actor_kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    actor_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    resource_kind: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    resource_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    account_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    workspace_id: Option<String>,
}

/// Events the background mail sender records on its own (a delivery that failed for good),
/// outside any request. They can land at any moment, so they are not counted against the
/// request under test. (In these tests mail goes to outbox files and does not fail.)
const BACKGROUND: &[&str] = &["atrium.email.delivery_failed"];

/// Collects what every scenario found, so that one run reports every gap at once.
struct Audit<'a> {
    app: &'a TestApp,
    exercised: BTreeSet<String>,
    failures: Vec<String>,
}

impl<'a> Audit<'a> {
    fn new(app: &'a TestApp) -> Self {
        Audit {
            app,
            exercised: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// The newest event id now: the rows of a request are those above it.
    fn mark(&self) -> i64 {
        self.app
            .count("SELECT COALESCE(MAX(id), 0) AS n FROM audit_events")
    }

    fn rows_since(&self, since: i64) -> Vec<EventRow> {
        let mut c = self.app.conn();
        diesel::sql_query(format!(
            "SELECT action, actor_kind, actor_id, resource_kind, resource_id, account_id, \
             workspace_id FROM audit_events WHERE id > {since} ORDER BY id"
        ))
        .load::<EventRow>(&mut c)
        .expect("audit rows")
        .into_iter()
        .filter(|r| !BACKGROUND.contains(&r.action.as_str()))
        .collect()
    }

    /// Checks the answer's status class and the rows recorded since `since` against
    /// `expected` (as a multiset: order does not matter).
    fn check(
        &mut self,
        route: &str,
        what: &str,
        since: i64,
        status: StatusCode,
        ok: bool,
        expected: Vec<Row>,
    ) {
        assert!(
            COVERED.contains(&route),
            "scenario for {route}, which is not in COVERED"
        );
        self.exercised.insert(route.to_string());
        let good_status = if ok {
            status.is_success() || status.is_redirection()
        } else {
            status.is_client_error()
        };
        if !good_status {
            self.failures.push(format!(
                "{route} ({what}): answered {status}, expected {}",
                if ok { "success" } else { "a refusal (4xx)" }
            ));
        }
        let rows = self.rows_since(since);
        let mut got: Vec<Row> = rows
            .iter()
            .map(|r| {
                (
                    r.action.clone(),
                    r.actor_kind.clone(),
                    r.actor_id.clone(),
                    r.resource_kind.clone(),
                    r.resource_id.clone(),
                    r.account_id.clone(),
                    r.workspace_id.clone(),
                )
            })
            .collect();
        let mut want = expected;
        got.sort();
        want.sort();
        if got != want {
            let fmt = |v: &[Row]| {
                if v.is_empty() {
                    "    (none)".to_string()
                } else {
                    v.iter()
                        .map(|r| format!("    {r:?}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            };
            self.failures.push(format!(
                "{route} ({what}):\n  expected\n{}\n  recorded\n{}",
                fmt(&want),
                fmt(&got)
            ));
        }
    }

    fn page(&mut self, route: &str, what: &str, since: i64, p: &Page, expected: Vec<Row>) {
        let ok = !expected.is_empty();
        if !(p.status.is_success() || p.status.is_redirection()) && ok {
            let snippet: String = p.text.chars().take(300).collect();
            self.failures.push(format!(
                "{route} ({what}): body of the {}: {snippet}",
                p.status
            ));
        }
        self.check(route, what, since, p.status, ok, expected);
    }

    /// A refused change: a 4xx and no event.
    fn refused(&mut self, route: &str, what: &str, since: i64, p: &Page) {
        self.check(route, what, since, p.status, false, Vec::new());
    }

    fn api(
        &mut self,
        route: &str,
        what: &str,
        since: i64,
        r: &(StatusCode, Value),
        expected: Vec<Row>,
    ) {
        let ok = !expected.is_empty();
        if !r.0.is_success() && ok {
            self.failures
                .push(format!("{route} ({what}): body of the {}: {}", r.0, r.1));
        }
        self.check(route, what, since, r.0, ok, expected);
    }
}

// ---------------------------------------------------------------------------------------
// Helpers to drive the routes
// ---------------------------------------------------------------------------------------

fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    diesel::sql_query(sql)
        .load::<V>(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.v)
        .collect()
}

fn personal(app: &TestApp, handle: &str) -> String {
    text(
        app,
        &format!("SELECT id AS t FROM accounts WHERE handle = '{handle}' AND kind = 'personal'"),
    )
}

fn account_by_handle(app: &TestApp, handle: &str) -> String {
    text(
        app,
        &format!("SELECT id AS t FROM accounts WHERE handle = '{handle}'"),
    )
}

fn ws_by_handle(app: &TestApp, account: &str, handle: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM workspaces WHERE account_id = '{account}' AND handle = '{handle}'"
        ),
    )
}

fn invitation_id(app: &TestApp, email: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM invitations WHERE email = '{email}' ORDER BY created_at DESC"
        ),
    )
}

fn sa_by_name(app: &TestApp, account: &str, name: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM service_accounts WHERE account_id = '{account}' AND name = '{name}'"
        ),
    )
}

fn keys_of_sa(app: &TestApp, sa: &str) -> Vec<String> {
    texts(
        app,
        &format!("SELECT id AS v FROM api_keys WHERE service_account_id = '{sa}'"),
    )
}

fn newest_key_of_sa(app: &TestApp, sa: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM api_keys WHERE service_account_id = '{sa}' \
             ORDER BY created_at DESC, id DESC"
        ),
    )
}

fn role_by_name(app: &TestApp, account: &str, name: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM workspace_roles WHERE account_id = '{account}' AND name = '{name}'"
        ),
    )
}

fn open_transfer(app: &TestApp, ws: &str) -> String {
    text(
        app,
        &format!(
            "SELECT id AS t FROM workspace_transfers WHERE workspace_id = '{ws}' AND status = 'pending'"
        ),
    )
}

/// Moves a pending transfer request's expiry into the past.
fn expire_request(app: &TestApp, id: &str) {
    diesel::sql_query(format!(
        "UPDATE workspace_transfers SET expires_at = '2000-01-01 00:00:00' WHERE id = '{id}'"
    ))
    .execute(&mut app.conn())
    .expect("expire the request");
}

/// The invitee's link (path and query) as the Invitations tab offers it to copy.
pub async fn invitation_link(admin: &Client, account: &str, invitation: &str) -> String {
    let page = admin
        .get(&format!("/account/{account}/members/invitations"))
        .await;
    let marker = format!("id=\"link-{invitation}\"");
    let i = page
        .text
        .find(&marker)
        .unwrap_or_else(|| panic!("no link for {invitation} on the Invitations tab"));
    let rest = &page.text[i..];
    let start = rest.find('>').expect("tag end") + 1;
    let end = rest.find("</code>").expect("code end");
    let link = rest[start..end]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=");
    let i = link.find("/invitations/").expect("path in the link");
    link[i..].to_string()
}

fn code_of(link: &str) -> String {
    link.split("code=").nth(1).unwrap_or_default().to_string()
}

async fn api(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = call(app, Some(key), method, path, body).await;
    (r.status, r.body)
}

fn id_in(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

/// A workspace made for a scenario through the page (its event is not under test here).
async fn make_ws(c: &Client, account: &str, handle: &str) -> String {
    crate::workspaces::create_ws(c, account, handle, handle)
        .await
        .split('/')
        .nth(4)
        .expect("workspace id")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_route_records_its_event() {
    // Long enough that the sensitive actions never ask for the password again here (sudo
    // mode has its own tests in `account_security`).
    let app = spawn_app_with(|s| {
        s.sudo_window = std::time::Duration::from_secs(24 * 3600);
        s.prefect_server_allow = atrium::egress::Egress::parse("127.0.0.1").expect("allow");
        // Managed servers on (restart), when the test has a `prefect`.
        s.prefect_bin = std::env::var_os("ATRIUM_PREFECT_BIN")
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
    })
    .await;
    let mut a = Audit::new(&app);

    // ----- authentication and profile -----
    let ana = app.new_client();
    let t = a.mark();
    let r = ana
        .post_form(
            "/auth/signup",
            &[
                ("email", "ana@example.com"),
                ("handle", "ana"),
                ("first_name", "Ana"),
                ("last_name", "Lima"),
                ("password", PW),
            ],
        )
        .await;
    let ana_id = user_id(&app, "ana");
    let ana_home = personal(&app, "ana");
    let ana_u = Who::User(ana_id.clone());
    let me = ("user", Some(ana_id.as_str()));
    a.page(
        "POST /auth/signup",
        "sign-up",
        t,
        &r,
        vec![ev(
            "atrium.user.signed_up",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = app
        .new_client()
        .post_form(
            "/auth/signup",
            &[
                ("email", "ana@example.com"),
                ("handle", "ana-two"),
                ("first_name", "Ana"),
                ("last_name", "Two"),
                ("password", PW),
            ],
        )
        .await;
    a.refused("POST /auth/signup", "e-mail taken", t, &r);

    let other = app.new_client();
    let t = a.mark();
    let r = other
        .post_form(
            "/auth/login",
            &[("login", "ana@example.com"), ("password", PW)],
        )
        .await;
    a.page(
        "POST /auth/login",
        "log-in",
        t,
        &r,
        vec![ev(
            "atrium.user.logged_in",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    // A failed log-in records one event, by nobody yet, about the user it named.
    let t = a.mark();
    let r = app
        .new_client()
        .post_form(
            "/auth/login",
            &[("login", "ana"), ("password", "not the password")],
        )
        .await;
    // The log-in page answers 200 with the message beside the form.
    a.check(
        "POST /auth/login",
        "failed log-in",
        t,
        r.status,
        true,
        vec![ev(
            "atrium.user.login_failed",
            &Who::Anonymous,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = other.post_form("/auth/logout", &[]).await;
    a.page(
        "POST /auth/logout",
        "log-out",
        t,
        &r,
        vec![ev(
            "atrium.user.logged_out",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );

    let t = a.mark();
    let r = ana
        .post_form(
            "/profile",
            &[("first_name", "Ana"), ("last_name", "Lima Costa")],
        )
        .await;
    a.page(
        "POST /profile",
        "names",
        t,
        &r,
        vec![ev("atrium.user.updated", &ana_u, me, Some(&ana_home), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form("/profile", &[("first_name", ""), ("last_name", "x")])
        .await;
    a.refused("POST /profile", "empty first name", t, &r);
    let t = a.mark();
    let r = ana
        .post_form(
            "/profile/password",
            &[
                ("current_password", PW),
                ("new_password", "another long password"),
            ],
        )
        .await;
    a.page(
        "POST /profile/password",
        "password change",
        t,
        &r,
        vec![ev(
            "atrium.user.password_changed",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            "/profile/password",
            &[
                ("current_password", "wrong one"),
                ("new_password", "yet another password"),
            ],
        )
        .await;
    a.refused("POST /profile/password", "wrong current password", t, &r);

    let t = a.mark();
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "laptop"), ("expiration", "")],
        )
        .await;
    let key_id = text(
        &app,
        &format!("SELECT id AS t FROM api_keys WHERE user_id = '{ana_id}' AND name = 'laptop'"),
    );
    a.page(
        "POST /profile/api-keys",
        "personal key",
        t,
        &r,
        vec![ev(
            "atrium.api_key.created",
            &ana_u,
            ("api_key", Some(&key_id)),
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("/profile/api-keys/{key_id}/delete"), &[])
        .await;
    a.page(
        "POST /profile/api-keys/{key_id}/delete",
        "personal key",
        t,
        &r,
        vec![ev(
            "atrium.api_key.deleted",
            &ana_u,
            ("api_key", Some(&key_id)),
            Some(&ana_home),
            None,
        )],
    );

    // The sessions page: ana ends one of her other sessions, then all the others.
    for _ in 0..3 {
        let r = app
            .new_client()
            .post_form(
                "/auth/login",
                &[("login", "ana"), ("password", "another long password")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "log-in: {}", r.text);
    }
    let sessions = texts(
        &app,
        &format!("SELECT id AS v FROM sessions WHERE user_id = '{ana_id}' ORDER BY created_at"),
    );
    let Some(newest) = sessions.last() else {
        panic!("ana's sessions")
    };
    ana.get("/profile/sessions").await;
    let t = a.mark();
    let r = ana
        .post_form(&format!("/profile/sessions/{newest}/end"), &[])
        .await;
    a.page(
        "POST /profile/sessions/{session_id}/end",
        "another session",
        t,
        &r,
        vec![ev(
            "atrium.session.ended",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("/profile/sessions/{newest}/end"), &[])
        .await;
    a.refused(
        "POST /profile/sessions/{session_id}/end",
        "already ended",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana.post_form("/profile/sessions/end-others", &[]).await;
    a.page(
        "POST /profile/sessions/end-others",
        "the two others",
        t,
        &r,
        vec![ev(
            "atrium.session.ended_others",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );

    // ----- two-factor authentication -----
    {
        use crate::two_factor::{codes_on, fresh_code, secret_on, wrong_code};
        let pw = "another long password";
        let t = a.mark();
        let r = ana.post_form("/profile/two-factor/setup", &[]).await;
        a.page(
            "POST /profile/two-factor/setup",
            "start",
            t,
            &r,
            vec![ev(
                "atrium.user.two_factor_setup_started",
                &ana_u,
                me,
                Some(&ana_home),
                None,
            )],
        );
        let secret = secret_on(&ana.get("/profile/two-factor").await.text);
        let t = a.mark();
        let r = ana
            .post_form(
                "/profile/two-factor/confirm",
                &[("code", &wrong_code(&secret))],
            )
            .await;
        a.refused("POST /profile/two-factor/confirm", "wrong code", t, &r);
        let mut last = 0;
        let code = fresh_code(&secret, &mut last).await;
        let t = a.mark();
        let r = ana
            .post_form("/profile/two-factor/confirm", &[("code", &code)])
            .await;
        a.page(
            "POST /profile/two-factor/confirm",
            "right code",
            t,
            &r,
            vec![ev(
                "atrium.user.two_factor_enabled",
                &ana_u,
                me,
                Some(&ana_home),
                None,
            )],
        );
        let t = a.mark();
        let r = ana
            .post_form("/profile/two-factor/recovery-codes", &[])
            .await;
        let codes = codes_on(&r.text);
        a.page(
            "POST /profile/two-factor/recovery-codes",
            "new codes",
            t,
            &r,
            vec![ev(
                "atrium.user.recovery_codes_regenerated",
                &ana_u,
                me,
                Some(&ana_home),
                None,
            )],
        );
        // The log-in's second step: a wrong code (recorded, still by nobody), the right one.
        let two = app.new_client();
        let r = two
            .post_form("/auth/login", &[("login", "ana"), ("password", pw)])
            .await;
        assert_eq!(
            r.location().as_deref(),
            Some("/auth/two-factor"),
            "{}",
            r.text
        );
        let t = a.mark();
        let r = two
            .post_form("/auth/two-factor", &[("code", &wrong_code(&secret))])
            .await;
        a.check(
            "POST /auth/two-factor",
            "wrong code",
            t,
            r.status,
            false,
            vec![ev(
                "atrium.user.two_factor_failed",
                &Who::Anonymous,
                me,
                Some(&ana_home),
                None,
            )],
        );
        let code = fresh_code(&secret, &mut last).await;
        let t = a.mark();
        let r = two.post_form("/auth/two-factor", &[("code", &code)]).await;
        a.page(
            "POST /auth/two-factor",
            "right code",
            t,
            &r,
            vec![ev(
                "atrium.user.logged_in",
                &ana_u,
                me,
                Some(&ana_home),
                None,
            )],
        );
        let three = app.new_client();
        three
            .post_form("/auth/login", &[("login", "ana"), ("password", pw)])
            .await;
        let t = a.mark();
        let r = three
            .post_form("/auth/two-factor", &[("recovery_code", &codes[0])])
            .await;
        a.page(
            "POST /auth/two-factor",
            "recovery code",
            t,
            &r,
            vec![
                ev(
                    "atrium.user.recovery_code_used",
                    &ana_u,
                    me,
                    Some(&ana_home),
                    None,
                ),
                ev("atrium.user.logged_in", &ana_u, me, Some(&ana_home), None),
            ],
        );
        let t = a.mark();
        let r = ana.post_form("/profile/two-factor/disable", &[]).await;
        a.page(
            "POST /profile/two-factor/disable",
            "turn off",
            t,
            &r,
            vec![ev(
                "atrium.user.two_factor_disabled",
                &ana_u,
                me,
                Some(&ana_home),
                None,
            )],
        );
        let t = a.mark();
        let r = ana.post_form("/profile/two-factor/disable", &[]).await;
        a.refused("POST /profile/two-factor/disable", "already off", t, &r);
        let t = a.mark();
        let r = ana
            .post_form("/profile/two-factor/recovery-codes", &[])
            .await;
        a.refused("POST /profile/two-factor/recovery-codes", "off", t, &r);
        let t = a.mark();
        let r = app
            .new_client()
            .post_form("/auth/two-factor", &[("code", "123456")])
            .await;
        a.check(
            "POST /auth/two-factor",
            "no log-in waiting",
            t,
            r.status,
            true,
            vec![],
        );
    }

    // ----- onboarding and accounts -----
    let t = a.mark();
    let r = ana
        .post_form(
            "/onboarding/workspace",
            &[
                ("account_id", &ana_home),
                ("name", "Sandbox"),
                ("handle", "sandbox"),
                ("description", ""),
            ],
        )
        .await;
    let sandbox = ws_by_handle(&app, &ana_home, "sandbox");
    a.page(
        "POST /onboarding/workspace",
        "first workspace",
        t,
        &r,
        vec![ev(
            "atrium.workspace.created",
            &ana_u,
            ("workspace", Some(&sandbox)),
            Some(&ana_home),
            Some(&sandbox),
        )],
    );

    let t = a.mark();
    let r = ana
        .post_form("/accounts/new", &[("name", "Acme"), ("handle", "acme")])
        .await;
    let acme = account_by_handle(&app, "acme");
    a.page(
        "POST /accounts/new",
        "organization",
        t,
        &r,
        vec![ev(
            "atrium.account.created",
            &ana_u,
            ("account", Some(&acme)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            "/accounts/new",
            &[("name", "Bad"), ("handle", "Bad Handle")],
        )
        .await;
    a.refused("POST /accounts/new", "bad handle", t, &r);
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/settings"),
            &[
                ("name", "Acme Corp"),
                ("handle", "acme"),
                ("workspace_limit", "100"),
            ],
        )
        .await;
    a.page(
        "POST /account/{account_id}/settings",
        "name and workspace limit",
        t,
        &r,
        vec![ev(
            "atrium.account.updated",
            &ana_u,
            ("account", Some(&acme)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/settings"),
            &[
                ("name", "Acme Corp"),
                ("handle", "acme"),
                ("workspace_limit", "-3"),
            ],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/settings",
        "bad workspace limit",
        t,
        &r,
    );

    ana.post_form("/accounts/new", &[("name", "Doomed"), ("handle", "doomed")])
        .await;
    let doomed = account_by_handle(&app, "doomed");
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{doomed}/delete"),
            &[("confirm_handle", "doom")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/delete",
        "wrong handle typed",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{doomed}/delete"),
            &[("confirm_handle", "doomed")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/delete",
        "organization",
        t,
        &r,
        vec![ev(
            "atrium.account.deleted",
            &ana_u,
            ("account", Some(&doomed)),
            Some(&doomed),
            None,
        )],
    );

    // ----- members -----
    app.signup("bo@example.com", "bo", PW).await;
    app.signup("cy@example.com", "cy", PW).await;
    let dee = app.signup("dee@example.com", "dee", PW).await;
    let (bo_id, cy_id, dee_id) = (
        user_id(&app, "bo"),
        user_id(&app, "cy"),
        user_id(&app, "dee"),
    );
    for h in ["bo", "cy", "dee"] {
        add_member(&app, &acme, h, "member");
    }
    let t = a.mark();
    let r = ana
        .post_htmx(
            &format!("/account/{acme}/members/{bo_id}/role"),
            &[("role", "admin")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/members/{user_id}/role",
        "member to admin",
        t,
        &r,
        vec![ev(
            "atrium.member.role_changed",
            &ana_u,
            ("user", Some(&bo_id)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_htmx(
            &format!("/account/{acme}/members/{ana_id}/role"),
            &[("role", "member")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/members/{user_id}/role",
        "the last Owner",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("/account/{acme}/members/{cy_id}/remove"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/members/{user_id}/remove",
        "a member",
        t,
        &r,
        vec![ev(
            "atrium.member.removed",
            &ana_u,
            ("user", Some(&cy_id)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = dee.post_form(&format!("/account/{acme}/leave"), &[]).await;
    a.page(
        "POST /account/{account_id}/leave",
        "a member leaves",
        t,
        &r,
        vec![ev(
            "atrium.member.left",
            &Who::User(dee_id.clone()),
            ("user", Some(&dee_id)),
            Some(&acme),
            None,
        )],
    );

    // ----- invitations (account) -----
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/invitations"),
            &[("emails", "ivo@example.com"), ("role", "member")],
        )
        .await;
    let ivo_inv = invitation_id(&app, "ivo@example.com");
    a.page(
        "POST /account/{account_id}/invitations",
        "one address",
        t,
        &r,
        vec![ev(
            "atrium.invitation.created",
            &ana_u,
            ("invitation", Some(&ivo_inv)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/invitations/{ivo_inv}/resend"),
            &[],
        )
        .await;
    a.page(
        "POST /account/{account_id}/invitations/{invitation_id}/resend",
        "pending",
        t,
        &r,
        vec![ev(
            "atrium.invitation.resent",
            &ana_u,
            ("invitation", Some(&ivo_inv)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/invitations/{ivo_inv}/revoke"),
            &[],
        )
        .await;
    a.page(
        "POST /account/{account_id}/invitations/{invitation_id}/revoke",
        "pending",
        t,
        &r,
        vec![ev(
            "atrium.invitation.revoked",
            &ana_u,
            ("invitation", Some(&ivo_inv)),
            Some(&acme),
            None,
        )],
    );

    // Accept: an existing user who was invited.
    let eve = app.signup("eve@example.com", "eve", PW).await;
    let eve_id = user_id(&app, "eve");
    ana.post_form(
        &format!("/account/{acme}/invitations"),
        &[("emails", "eve@example.com"), ("role", "member")],
    )
    .await;
    let eve_inv = invitation_id(&app, "eve@example.com");
    let link = invitation_link(&ana, &acme, &eve_inv).await;
    let t = a.mark();
    let r = eve
        .post_form(
            &format!("/invitations/{eve_inv}/accept"),
            &[("code", "wrong-code")],
        )
        .await;
    a.refused(
        "POST /invitations/{invitation_id}/accept",
        "wrong code",
        t,
        &r,
    );
    let t = a.mark();
    let r = eve
        .post_form(
            &format!("/invitations/{eve_inv}/accept"),
            &[("code", &code_of(&link))],
        )
        .await;
    a.page(
        "POST /invitations/{invitation_id}/accept",
        "account invitation",
        t,
        &r,
        vec![ev(
            "atrium.invitation.accepted",
            &Who::User(eve_id.clone()),
            ("invitation", Some(&eve_inv)),
            Some(&acme),
            None,
        )],
    );

    // Decline, by someone not logged in.
    ana.post_form(
        &format!("/account/{acme}/invitations"),
        &[("emails", "fay@example.com"), ("role", "member")],
    )
    .await;
    let fay_inv = invitation_id(&app, "fay@example.com");
    let link = invitation_link(&ana, &acme, &fay_inv).await;
    let t = a.mark();
    let r = app
        .new_client()
        .post_form(
            &format!("/invitations/{fay_inv}/decline"),
            &[("code", &code_of(&link))],
        )
        .await;
    a.page(
        "POST /invitations/{invitation_id}/decline",
        "anonymous invitee",
        t,
        &r,
        vec![ev(
            "atrium.invitation.declined",
            &Who::Anonymous,
            ("invitation", Some(&fay_inv)),
            Some(&acme),
            None,
        )],
    );

    // ----- workspaces -----
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/workspaces"),
            &[
                ("name", "Production"),
                ("handle", "prod"),
                ("description", ""),
            ],
        )
        .await;
    let prod = ws_by_handle(&app, &acme, "prod");
    let wsr = ("workspace", Some(prod.as_str()));
    a.page(
        "POST /account/{account_id}/workspaces",
        "in an account",
        t,
        &r,
        vec![ev(
            "atrium.workspace.created",
            &ana_u,
            wsr,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/workspaces"),
            &[("name", "Again"), ("handle", "prod"), ("description", "")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/workspaces",
        "handle taken",
        t,
        &r,
    );
    let settings = format!("/account/{acme}/workspace/{prod}/settings");
    let t = a.mark();
    let r = ana
        .post_form(
            &settings,
            &[
                ("name", "Production EU"),
                ("handle", "prod"),
                ("description", "EU"),
                ("default_role", "none"),
            ],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings",
        "name",
        t,
        &r,
        vec![ev(
            "atrium.workspace.updated",
            &ana_u,
            wsr,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &settings,
            &[
                ("name", "Production EU"),
                ("handle", "prod"),
                ("description", "EU"),
                ("default_role", VIEWER_ROLE),
            ],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings",
        "default role only",
        t,
        &r,
        vec![ev(
            "atrium.workspace.default_role_changed",
            &ana_u,
            wsr,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &settings,
            &[
                ("name", ""),
                ("handle", "prod"),
                ("description", ""),
                ("default_role", "none"),
            ],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/settings",
        "empty name",
        t,
        &r,
    );

    // The workspace's Prefect server (a real one, from the shared pool).
    let server_page = format!("/account/{acme}/workspace/{prod}/settings/server");
    let t = a.mark();
    let r = ana
        .post_form(
            &server_page,
            &[("url", "http://169.254.169.254"), ("auth_string", "x")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/server",
        "a metadata address",
        t,
        &r,
    );
    if let Some(server) = crate::support::prefect::server(0).await {
        let t = a.mark();
        let r = ana
            .post_form(
                &server_page,
                &[("url", &server.url), ("auth_string", &server.auth)],
            )
            .await;
        a.page(
            "POST /account/{account_id}/workspace/{workspace_id}/settings/server",
            "connect",
            t,
            &r,
            vec![ev(
                "atrium.workspace.server_connected",
                &ana_u,
                wsr,
                Some(&acme),
                Some(&prod),
            )],
        );
        let t = a.mark();
        let r = ana
            .post_form(&format!("{server_page}/disconnect"), &[])
            .await;
        a.page(
            "POST /account/{account_id}/workspace/{workspace_id}/settings/server/disconnect",
            "disconnect",
            t,
            &r,
            vec![ev(
                "atrium.workspace.server_disconnected",
                &ana_u,
                wsr,
                Some(&acme),
                Some(&prod),
            )],
        );
        // No server connected by hand any more: the managed one restarts.
        let t = a.mark();
        let r = ana.post_form(&format!("{server_page}/restart"), &[]).await;
        assert!(
            r.text.contains("The Prefect server was restarted."),
            "{}",
            r.text
        );
        a.page(
            "POST /account/{account_id}/workspace/{workspace_id}/settings/server/restart",
            "restart the managed server",
            t,
            &r,
            vec![ev(
                "atrium.workspace.server_restarted",
                &ana_u,
                wsr,
                Some(&acme),
                Some(&prod),
            )],
        );
    }

    // The Members panel.
    let members = format!("{settings}/members");
    let bo_r = ("user", Some(bo_id.as_str()));
    let t = a.mark();
    let r = ana
        .post_form(&members, &[("user_id", &bo_id), ("role_id", VIEWER_ROLE)])
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/members",
        "a member",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.granted",
            &ana_u,
            bo_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_htmx(
            &format!("{members}/{bo_id}/role"),
            &[("role_id", DEVELOPER_ROLE)],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/role",
        "viewer to developer",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.role_changed",
            &ana_u,
            bo_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{members}/{bo_id}/remove"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/remove",
        "a member",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.revoked",
            &ana_u,
            bo_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("{members}/invite"),
            &[("email", "hal@example.com"), ("role_id", VIEWER_ROLE)],
        )
        .await;
    let hal_inv = invitation_id(&app, "hal@example.com");
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/members/invite",
        "by e-mail",
        t,
        &r,
        vec![ev(
            "atrium.invitation.created",
            &ana_u,
            ("invitation", Some(&hal_inv)),
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("{members}/invite"),
            &[("email", "not an address"), ("role_id", VIEWER_ROLE)],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/members/invite",
        "bad address",
        t,
        &r,
    );

    // Sign-up from the workspace invitation: the new user's sign-up is recorded in their
    // personal account and the acceptance in the inviting account — one event per account.
    let link = invitation_link(&ana, &acme, &hal_inv).await;
    let hal = app.new_client();
    let t = a.mark();
    let r = hal
        .post_form(
            &format!("/invitations/{hal_inv}/signup?code={}", code_of(&link)),
            &[
                ("handle", "hal"),
                ("first_name", "Hal"),
                ("last_name", "H"),
                ("password", PW),
            ],
        )
        .await;
    let hal_id = texts(&app, "SELECT id AS v FROM users WHERE handle = 'hal'")
        .pop()
        .unwrap_or_default();
    let hal_home = texts(&app, "SELECT id AS v FROM accounts WHERE handle = 'hal'")
        .pop()
        .unwrap_or_default();
    let hal_u = Who::User(hal_id.clone());
    a.page(
        "POST /invitations/{invitation_id}/signup",
        "workspace invitation",
        t,
        &r,
        vec![
            ev(
                "atrium.user.signed_up",
                &hal_u,
                ("user", Some(&hal_id)),
                Some(&hal_home),
                None,
            ),
            ev(
                "atrium.invitation.accepted",
                &hal_u,
                ("invitation", Some(&hal_inv)),
                Some(&acme),
                Some(&prod),
            ),
        ],
    );

    // Delete a workspace.
    let tmp = make_ws(&ana, &acme, "tmp").await;
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/workspace/{tmp}/delete"),
            &[("confirm_handle", "tm")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/delete",
        "wrong handle typed",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/workspace/{tmp}/delete"),
            &[("confirm_handle", "tmp")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/delete",
        "typed handle",
        t,
        &r,
        vec![ev(
            "atrium.workspace.deleted",
            &ana_u,
            ("workspace", Some(&tmp)),
            Some(&acme),
            Some(&tmp),
        )],
    );

    // ----- roles -----
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/roles/new"),
            &[
                ("name", "Ops"),
                ("description", ""),
                ("inherit", ""),
                ("scopes", "see_flows"),
            ],
        )
        .await;
    let ops = role_by_name(&app, &acme, "Ops");
    let role_r = ("workspace_role", Some(ops.as_str()));
    a.page(
        "POST /account/{account_id}/roles/new",
        "custom role",
        t,
        &r,
        vec![ev("atrium.role.created", &ana_u, role_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/roles/new"),
            &[("name", "Nothing"), ("description", ""), ("inherit", "")],
        )
        .await;
    a.refused("POST /account/{account_id}/roles/new", "no scope", t, &r);
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/roles/{ops}/edit"),
            &[
                ("name", "Ops"),
                ("description", "Runs"),
                ("inherit", "viewer"),
                ("scopes", "see_flows"),
            ],
        )
        .await;
    a.page(
        "POST /account/{account_id}/roles/{role_id}/edit",
        "custom role",
        t,
        &r,
        vec![ev("atrium.role.updated", &ana_u, role_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("/account/{acme}/roles/{ops}/delete"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/roles/{role_id}/delete",
        "unused custom role",
        t,
        &r,
        vec![ev("atrium.role.deleted", &ana_u, role_r, Some(&acme), None)],
    );

    // ----- service accounts (pages) -----
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/service-accounts"),
            &[
                ("name", "ci"),
                ("expiration", ""),
                ("workspace_id", "none"),
                ("role_id", VIEWER_ROLE),
            ],
        )
        .await;
    let ci = sa_by_name(&app, &acme, "ci");
    let ci_r = ("service_account", Some(ci.as_str()));
    let ci_key = newest_key_of_sa(&app, &ci);
    // Documented set: creating a service account also creates its first key, and each is
    // its own row (the key's row is what "API keys" in the log filter finds).
    a.page(
        "POST /account/{account_id}/service-accounts",
        "with its first key",
        t,
        &r,
        vec![
            ev(
                "atrium.service_account.created",
                &ana_u,
                ci_r,
                Some(&acme),
                None,
            ),
            ev(
                "atrium.api_key.created",
                &ana_u,
                ("api_key", Some(&ci_key)),
                Some(&acme),
                None,
            ),
        ],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/service-accounts"),
            &[
                ("name", "CI"),
                ("expiration", ""),
                ("workspace_id", "none"),
                ("role_id", VIEWER_ROLE),
            ],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/service-accounts",
        "name taken",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/service-accounts/{ci}/rename"),
            &[("name", "ci-runner")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/service-accounts/{sa_id}/rename",
        "new name",
        t,
        &r,
        vec![ev(
            "atrium.service_account.renamed",
            &ana_u,
            ci_r,
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/service-accounts/{ci}/rotate"),
            &[("expiration", ""), ("overlap_hours", "24")],
        )
        .await;
    let ci_key2 = newest_key_of_sa(&app, &ci);
    a.page(
        "POST /account/{account_id}/service-accounts/{sa_id}/rotate",
        "with overlap",
        t,
        &r,
        vec![ev(
            "atrium.api_key.rotated",
            &ana_u,
            ("api_key", Some(&ci_key2)),
            Some(&acme),
            None,
        )],
    );
    let sa_panel = format!("{settings}/service-accounts");
    let t = a.mark();
    let r = ana
        .post_form(
            &sa_panel,
            &[("service_account_id", &ci), ("role_id", VIEWER_ROLE)],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts",
        "viewer",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.granted",
            &ana_u,
            ci_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_htmx(
            &format!("{sa_panel}/{ci}/role"),
            &[("role_id", DEVELOPER_ROLE)],
        )
        .await;
    a.page("POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/role", "to developer", t, &r, vec![
        ev("atrium.workspace_access.role_changed", &ana_u, ci_r, Some(&acme), Some(&prod)),
    ]);
    let t = a.mark();
    let r = ana.post_form(&format!("{sa_panel}/{ci}/remove"), &[]).await;
    a.page("POST /account/{account_id}/workspace/{workspace_id}/settings/service-accounts/{sa_id}/remove", "its access", t, &r, vec![
        ev("atrium.workspace_access.revoked", &ana_u, ci_r, Some(&acme), Some(&prod)),
    ]);
    // Documented set: deleting a service account records its deletion and one
    // `api_key.deleted` per key that stopped with it (here the rotated key and the one
    // still in its overlap), so each key's history ends in the log.
    let ci_keys = keys_of_sa(&app, &ci);
    assert_eq!(
        ci_keys.len(),
        2,
        "the new key and the old one in its overlap"
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("/account/{acme}/service-accounts/{ci}/delete"),
            &[],
        )
        .await;
    let mut want = vec![ev(
        "atrium.service_account.deleted",
        &ana_u,
        ci_r,
        Some(&acme),
        None,
    )];
    for k in &ci_keys {
        want.push(ev(
            "atrium.api_key.deleted",
            &ana_u,
            ("api_key", Some(k)),
            Some(&acme),
            None,
        ));
    }
    a.page(
        "POST /account/{account_id}/service-accounts/{sa_id}/delete",
        "with two keys",
        t,
        &r,
        want,
    );

    // ----- teams (pages) -----
    let teams = format!("/account/{acme}/teams");
    let t = a.mark();
    let r = ana
        .post_form(&teams, &[("name", "Data"), ("description", "")])
        .await;
    let data = text(
        &app,
        &format!("SELECT id AS t FROM teams WHERE account_id = '{acme}' AND name = 'Data'"),
    );
    let data_r = ("team", Some(data.as_str()));
    a.page(
        "POST /account/{account_id}/teams",
        "create",
        t,
        &r,
        vec![ev("atrium.team.created", &ana_u, data_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form(&teams, &[("name", "DATA"), ("description", "")])
        .await;
    a.refused("POST /account/{account_id}/teams", "name taken", t, &r);
    let team_page = format!("{teams}/{data}");
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("{team_page}/edit"),
            &[("name", "Data team"), ("description", "")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/teams/{team_id}/edit",
        "rename",
        t,
        &r,
        vec![ev("atrium.team.renamed", &ana_u, data_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("{team_page}/edit"),
            &[("name", "Data team"), ("description", "The data people")],
        )
        .await;
    a.page(
        "POST /account/{account_id}/teams/{team_id}/edit",
        "description",
        t,
        &r,
        vec![ev("atrium.team.updated", &ana_u, data_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &format!("{team_page}/edit"),
            &[("name", ""), ("description", "")],
        )
        .await;
    a.refused(
        "POST /account/{account_id}/teams/{team_id}/edit",
        "empty name",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_page}/members"), &[("member", "bo")])
        .await;
    a.page(
        "POST /account/{account_id}/teams/{team_id}/members",
        "by handle",
        t,
        &r,
        vec![ev(
            "atrium.team.member_added",
            &ana_u,
            ("user", Some(&bo_id)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_page}/members"), &[("member", "nobody")])
        .await;
    a.refused(
        "POST /account/{account_id}/teams/{team_id}/members",
        "no such member",
        t,
        &r,
    );
    let team_panel = format!("/account/{acme}/workspace/{prod}/teams");
    let t = a.mark();
    let r = ana
        .post_form(&team_panel, &[("team_id", &data), ("role_id", VIEWER_ROLE)])
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/teams",
        "viewer",
        t,
        &r,
        vec![ev(
            "atrium.team_access.granted",
            &ana_u,
            data_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&team_panel, &[("team_id", &data), ("role_id", "nope")])
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/teams",
        "unknown role",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_htmx(
            &format!("{team_panel}/{data}/role"),
            &[("role_id", DEVELOPER_ROLE)],
        )
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/teams/{team_id}/role",
        "to developer",
        t,
        &r,
        vec![ev(
            "atrium.team_access.role_changed",
            &ana_u,
            data_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_panel}/{data}/remove"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/workspace/{workspace_id}/teams/{team_id}/remove",
        "its role",
        t,
        &r,
        vec![ev(
            "atrium.team_access.revoked",
            &ana_u,
            data_r,
            Some(&acme),
            Some(&prod),
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_panel}/{data}/remove"), &[])
        .await;
    a.refused(
        "POST /account/{account_id}/workspace/{workspace_id}/teams/{team_id}/remove",
        "no role here",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_page}/members/{bo_id}/remove"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/teams/{team_id}/members/{user_id}/remove",
        "bo",
        t,
        &r,
        vec![ev(
            "atrium.team.member_removed",
            &ana_u,
            ("user", Some(&bo_id)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(&format!("{team_page}/members/{bo_id}/remove"), &[])
        .await;
    a.refused(
        "POST /account/{account_id}/teams/{team_id}/members/{user_id}/remove",
        "not in the team",
        t,
        &r,
    );
    let t = a.mark();
    let r = ana.post_form(&format!("{team_page}/delete"), &[]).await;
    a.page(
        "POST /account/{account_id}/teams/{team_id}/delete",
        "the team",
        t,
        &r,
        vec![ev("atrium.team.deleted", &ana_u, data_r, Some(&acme), None)],
    );
    let t = a.mark();
    let r = ana.post_form(&format!("{team_page}/delete"), &[]).await;
    a.refused(
        "POST /account/{account_id}/teams/{team_id}/delete",
        "gone",
        t,
        &r,
    );

    // ----- transfers (pages) -----
    // Ana owns Acme and Beta; Gil owns Gamma, where Ana is only a Member (→ requests).
    ana.post_form("/accounts/new", &[("name", "Beta"), ("handle", "beta")])
        .await;
    let beta = account_by_handle(&app, "beta");
    let gil = app.signup("gil@example.com", "gil", PW).await;
    let gil_id = user_id(&app, "gil");
    let gil_u = Who::User(gil_id.clone());
    gil.post_form("/accounts/new", &[("name", "Gamma"), ("handle", "gamma")])
        .await;
    let gamma = account_by_handle(&app, "gamma");
    add_member(&app, &gamma, "ana", "member");

    let mover = make_ws(&ana, &acme, "mover").await;
    let transfer = |ws: &str| format!("/account/{acme}/workspace/{ws}/settings/transfer");
    const TRANSFER: &str = "POST /account/{account_id}/workspace/{workspace_id}/settings/transfer";
    let t = a.mark();
    let r = ana
        .post_form(&transfer(&mover), &[("target", &beta), ("new_handle", "")])
        .await;
    // Documented set: a transfer is recorded in both accounts' logs, one row each.
    a.page(
        TRANSFER,
        "to an account Ana owns",
        t,
        &r,
        vec![
            ev(
                "atrium.workspace.transferred",
                &ana_u,
                ("workspace", Some(&mover)),
                Some(&acme),
                Some(&mover),
            ),
            ev(
                "atrium.workspace.transferred",
                &ana_u,
                ("workspace", Some(&mover)),
                Some(&beta),
                Some(&mover),
            ),
        ],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            &transfer(&prod),
            &[("target", "no-such-account"), ("new_handle", "")],
        )
        .await;
    a.refused(TRANSFER, "not a target", t, &r);

    // A request (in both logs), then approved by Gil: the move and the approval, each in
    // both logs (the approval closes the request; the move is the same event as a direct
    // transfer, so filtering on "Workspace transferred" finds every move).
    let req_rows = |action: &str, who: &Who, id: &str, ws: &str| {
        vec![
            ev(
                action,
                who,
                ("workspace_transfer", Some(id)),
                Some(&acme),
                Some(ws),
            ),
            ev(
                action,
                who,
                ("workspace_transfer", Some(id)),
                Some(&gamma),
                Some(ws),
            ),
        ]
    };
    let req1 = make_ws(&ana, &acme, "req1").await;
    let t = a.mark();
    let r = ana
        .post_form(&transfer(&req1), &[("target", &gamma), ("new_handle", "")])
        .await;
    let id1 = open_transfer(&app, &req1);
    a.page(
        TRANSFER,
        "a request",
        t,
        &r,
        req_rows("atrium.workspace.transfer_requested", &ana_u, &id1, &req1),
    );
    let t = a.mark();
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id1}/approve"), &[])
        .await;
    let mut want = req_rows("atrium.workspace.transfer_approved", &gil_u, &id1, &req1);
    want.push(ev(
        "atrium.workspace.transferred",
        &gil_u,
        ("workspace", Some(&req1)),
        Some(&acme),
        Some(&req1),
    ));
    want.push(ev(
        "atrium.workspace.transferred",
        &gil_u,
        ("workspace", Some(&req1)),
        Some(&gamma),
        Some(&req1),
    ));
    a.page(
        "POST /account/{account_id}/transfers/{transfer_id}/approve",
        "open request",
        t,
        &r,
        want,
    );

    let req2 = make_ws(&ana, &acme, "req2").await;
    ana.post_form(&transfer(&req2), &[("target", &gamma), ("new_handle", "")])
        .await;
    let id2 = open_transfer(&app, &req2);
    let t = a.mark();
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id2}/decline"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/transfers/{transfer_id}/decline",
        "open request",
        t,
        &r,
        req_rows("atrium.workspace.transfer_declined", &gil_u, &id2, &req2),
    );

    let req3 = make_ws(&ana, &acme, "req3").await;
    ana.post_form(&transfer(&req3), &[("target", &gamma), ("new_handle", "")])
        .await;
    let id3 = open_transfer(&app, &req3);
    let t = a.mark();
    let r = ana
        .post_form(&format!("/account/{acme}/transfers/{id3}/cancel"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/transfers/{transfer_id}/cancel",
        "open request",
        t,
        &r,
        req_rows("atrium.workspace.transfer_cancelled", &ana_u, &id3, &req3),
    );

    // Approving a request that expired closes it as expired: recorded as the system's.
    let req4 = make_ws(&ana, &acme, "req4").await;
    ana.post_form(&transfer(&req4), &[("target", &gamma), ("new_handle", "")])
        .await;
    let id4 = open_transfer(&app, &req4);
    expire_request(&app, &id4);
    let t = a.mark();
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id4}/approve"), &[])
        .await;
    a.page(
        "POST /account/{account_id}/transfers/{transfer_id}/approve",
        "expired request",
        t,
        &r,
        req_rows(
            "atrium.workspace.transfer_expired",
            &Who::System,
            &id4,
            &req4,
        ),
    );

    // Housekeeping (not a route): pending requests past their expiry are closed, recorded
    // as the system's in both logs, in the same transaction.
    let req5 = make_ws(&ana, &acme, "req5").await;
    ana.post_form(&transfer(&req5), &[("target", &gamma), ("new_handle", "")])
        .await;
    let id5 = open_transfer(&app, &req5);
    let t = a.mark();
    expire_request(&app, &id5);
    let n = atrium::db::write_tx(&mut app.conn(), atrium::transfers::ops::expire_stale)
        .expect("expire_stale");
    // (1 unless the application's own housekeeping tick got there first: the rows are
    // the same either way.)
    assert!(n <= 1, "one stale request");
    let mut got: Vec<Row> = a
        .rows_since(t)
        .into_iter()
        .map(|r| {
            (
                r.action,
                r.actor_kind,
                r.actor_id,
                r.resource_kind,
                r.resource_id,
                r.account_id,
                r.workspace_id,
            )
        })
        .collect();
    let mut want = req_rows(
        "atrium.workspace.transfer_expired",
        &Who::System,
        &id5,
        &req5,
    );
    got.sort();
    want.sort();
    if got != want {
        a.failures.push(format!(
            "transfers::expire_stale (housekeeping):\n  expected {want:?}\n  recorded {got:?}"
        ));
    }

    // ----- the JSON API -----
    let key = user_key(&app, "ana");
    let base = format!("/api/accounts/{acme}");
    app.signup("ivy@example.com", "ivy", PW).await;
    add_member(&app, &acme, "ivy", "member");
    let ivy_id = user_id(&app, "ivy");
    let ivy_m = membership_id(&app, &acme, "ivy");
    let ivy_r = ("user", Some(ivy_id.as_str()));
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &format!("{base}/account_memberships/{ivy_m}"),
        Some(json!({"account_role_id": ACCOUNT_ADMIN})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/account_memberships/{id}",
        "member to admin",
        t,
        &r,
        vec![ev(
            "atrium.member.role_changed",
            &ana_u,
            ivy_r,
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &format!("{base}/account_memberships/{ivy_m}"),
        Some(json!({"account_role_id": "owner"})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/account_memberships/{id}",
        "not a role id",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{base}/account_memberships/{ivy_m}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/account_memberships/{id}",
        "a member",
        t,
        &r,
        vec![ev(
            "atrium.member.removed",
            &ana_u,
            ivy_r,
            Some(&acme),
            None,
        )],
    );

    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/invitations/"),
        Some(json!([{"email": "jo@example.com", "account_role_id": ACCOUNT_MEMBER}])),
    )
    .await;
    let jo_inv = r.1[0]["id"].as_str().unwrap_or_default().to_string();
    a.api(
        "POST /api/accounts/{account_id}/invitations",
        "one address",
        t,
        &r,
        vec![ev(
            "atrium.invitation.created",
            &ana_u,
            ("invitation", Some(&jo_inv)),
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/invitations/"),
        Some(json!([{"email": "nope", "account_role_id": ACCOUNT_MEMBER}])),
    )
    .await;
    a.api(
        "POST /api/accounts/{account_id}/invitations",
        "bad address",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/invitations/{jo_inv}/revoke"),
        None,
    )
    .await;
    a.api(
        "POST /api/accounts/{account_id}/invitations/{id}/revoke",
        "pending",
        t,
        &r,
        vec![ev(
            "atrium.invitation.revoked",
            &ana_u,
            ("invitation", Some(&jo_inv)),
            Some(&acme),
            None,
        )],
    );

    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/workspaces/"),
        Some(json!({"name": "API", "handle": "api-ws"})),
    )
    .await;
    let api_ws = id_in(&r.1);
    let aw = ("workspace", Some(api_ws.as_str()));
    a.api(
        "POST /api/accounts/{account_id}/workspaces",
        "create",
        t,
        &r,
        vec![ev(
            "atrium.workspace.created",
            &ana_u,
            aw,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/workspaces/"),
        Some(json!({"name": "", "handle": "Bad Handle"})),
    )
    .await;
    a.api(
        "POST /api/accounts/{account_id}/workspaces",
        "bad input",
        t,
        &r,
        Vec::new(),
    );
    let wpath = format!("{base}/workspaces/{api_ws}");
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &wpath,
        Some(json!({"name": "API two"})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/workspaces/{workspace_id}",
        "name",
        t,
        &r,
        vec![ev(
            "atrium.workspace.updated",
            &ana_u,
            aw,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &wpath,
        Some(json!({"default_workspace_role_id": VIEWER_ROLE})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/workspaces/{workspace_id}",
        "default role",
        t,
        &r,
        vec![ev(
            "atrium.workspace.default_role_changed",
            &ana_u,
            aw,
            Some(&acme),
            Some(&api_ws),
        )],
    );

    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/workspace_roles/"),
        Some(json!({"name": "Auditor", "scopes": ["see_flows"]})),
    )
    .await;
    let auditor = id_in(&r.1);
    let ar = ("workspace_role", Some(auditor.as_str()));
    a.api(
        "POST /api/accounts/{account_id}/workspace_roles",
        "custom role",
        t,
        &r,
        vec![ev("atrium.role.created", &ana_u, ar, Some(&acme), None)],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &format!("{base}/workspace_roles/{auditor}"),
        Some(json!({"description": "Reads"})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/workspace_roles/{id}",
        "description",
        t,
        &r,
        vec![ev("atrium.role.updated", &ana_u, ar, Some(&acme), None)],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{base}/workspace_roles/{auditor}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspace_roles/{id}",
        "unused",
        t,
        &r,
        vec![ev("atrium.role.deleted", &ana_u, ar, Some(&acme), None)],
    );

    let ua = format!("{wpath}/user_access");
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{ua}/"),
        Some(json!({"user_id": bo_id, "workspace_role_id": VIEWER_ROLE})),
    )
    .await;
    let bo_access = id_in(&r.1);
    a.api(
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/user_access",
        "one user",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.granted",
            &ana_u,
            bo_r,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{ua}/"),
        Some(json!({"user_id": bo_id, "workspace_role_id": VIEWER_ROLE})),
    )
    .await;
    // The same role again changes nothing, so nothing is recorded (a 200 all the same).
    a.check(
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/user_access",
        "unchanged role",
        t,
        r.0,
        true,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{ua}/{bo_access}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
        "one user",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.revoked",
            &ana_u,
            bo_r,
            Some(&acme),
            Some(&api_ws),
        )],
    );

    // Teams through the API: created, renamed, bo in and out, a role on api-ws given,
    // changed and taken away, deleted.
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/teams/"),
        Some(json!({"name": "API team"})),
    )
    .await;
    let api_team = id_in(&r.1);
    let tr = ("team", Some(api_team.as_str()));
    a.api(
        "POST /api/accounts/{account_id}/teams",
        "create",
        t,
        &r,
        vec![ev("atrium.team.created", &ana_u, tr, Some(&acme), None)],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/teams/"),
        Some(json!({"name": "api TEAM"})),
    )
    .await;
    a.api(
        "POST /api/accounts/{account_id}/teams",
        "name taken",
        t,
        &r,
        Vec::new(),
    );
    let tpath = format!("{base}/teams/{api_team}");
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &tpath,
        Some(json!({"name": "API team two"})),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/teams/{id}",
        "rename",
        t,
        &r,
        vec![ev("atrium.team.renamed", &ana_u, tr, Some(&acme), None)],
    );
    let t = a.mark();
    let r = api(&app, &key, Method::PUT, &tpath, Some(json!({"name": " "}))).await;
    a.api(
        "PUT /api/accounts/{account_id}/teams/{id}",
        "blank name",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &format!("{tpath}/members"),
        Some(json!({"members": [{"member_id": bo_id, "member_type": "user"}]})),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/teams/{id}/members",
        "one person",
        t,
        &r,
        vec![ev(
            "atrium.team.member_added",
            &ana_u,
            bo_r,
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &format!("{tpath}/members"),
        Some(json!({"members": [{"member_id": ana_id, "member_type": "service_account"}]})),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/teams/{id}/members",
        "a service account",
        t,
        &r,
        Vec::new(),
    );
    let ta = format!("{wpath}/team_access");
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &format!("{ta}/"),
        Some(json!([{"team_id": api_team, "workspace_role_id": VIEWER_ROLE}])),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/workspaces/{workspace_id}/team_access",
        "granted",
        t,
        &r,
        vec![ev(
            "atrium.team_access.granted",
            &ana_u,
            tr,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &format!("{ta}/"),
        Some(json!([{"team_id": api_team, "workspace_role_id": DEVELOPER_ROLE}])),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/workspaces/{workspace_id}/team_access",
        "role changed",
        t,
        &r,
        vec![ev(
            "atrium.team_access.role_changed",
            &ana_u,
            tr,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PUT,
        &format!("{ta}/"),
        Some(json!([{"team_id": api_team, "workspace_role_id": bo_id}])),
    )
    .await;
    a.api(
        "PUT /api/accounts/{account_id}/workspaces/{workspace_id}/team_access",
        "not a role",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{tpath}/members/{bo_id}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/teams/{team_id}/members/{actor_id}",
        "one person",
        t,
        &r,
        vec![ev(
            "atrium.team.member_removed",
            &ana_u,
            bo_r,
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{tpath}/members/{bo_id}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/teams/{team_id}/members/{actor_id}",
        "not in the team",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{ta}/{api_team}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/team_access/{team_id}",
        "revoked",
        t,
        &r,
        vec![ev(
            "atrium.team_access.revoked",
            &ana_u,
            tr,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{ta}/{api_team}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/team_access/{team_id}",
        "no role any more",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(&app, &key, Method::DELETE, &tpath, None).await;
    a.api(
        "DELETE /api/accounts/{account_id}/teams/{id}",
        "empty team",
        t,
        &r,
        vec![ev("atrium.team.deleted", &ana_u, tr, Some(&acme), None)],
    );
    let t = a.mark();
    let r = api(&app, &key, Method::DELETE, &tpath, None).await;
    a.api(
        "DELETE /api/accounts/{account_id}/teams/{id}",
        "gone",
        t,
        &r,
        Vec::new(),
    );

    // Bots: created, renamed, rotated, shared by another bot's key, deleted.
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/bots/"),
        Some(json!({"name": "api-bot"})),
    )
    .await;
    let api_bot = id_in(&r.1);
    let br = ("service_account", Some(api_bot.as_str()));
    let bot_key1 = newest_key_of_sa(&app, &api_bot);
    a.api(
        "POST /api/accounts/{account_id}/bots",
        "with its first key",
        t,
        &r,
        vec![
            ev(
                "atrium.service_account.created",
                &ana_u,
                br,
                Some(&acme),
                None,
            ),
            ev(
                "atrium.api_key.created",
                &ana_u,
                ("api_key", Some(&bot_key1)),
                Some(&acme),
                None,
            ),
        ],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &format!("{base}/bots/{api_bot}"),
        Some(json!({"name": "api-bot-2"})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/bots/{id}",
        "rename",
        t,
        &r,
        vec![ev(
            "atrium.service_account.renamed",
            &ana_u,
            br,
            Some(&acme),
            None,
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::PATCH,
        &format!("{base}/bots/{api_bot}"),
        Some(json!({"name": " "})),
    )
    .await;
    a.api(
        "PATCH /api/accounts/{account_id}/bots/{id}",
        "blank name",
        t,
        &r,
        Vec::new(),
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{base}/bots/{api_bot}/rotate_api_key"),
        Some(json!({})),
    )
    .await;
    let bot_key2 = newest_key_of_sa(&app, &api_bot);
    a.api(
        "POST /api/accounts/{account_id}/bots/{id}/rotate_api_key",
        "old key stops now",
        t,
        &r,
        vec![ev(
            "atrium.api_key.rotated",
            &ana_u,
            ("api_key", Some(&bot_key2)),
            Some(&acme),
            None,
        )],
    );
    // A service account that manages the workspace's service accounts shares api-bot.
    let (ops_bot, ops_key) = bot(&app, &acme, "ops-bot");
    grant_bot(&app, &api_ws, &ops_bot, OWNER_ROLE);
    let ops_b = Who::Bot(ops_bot.clone());
    let ba = format!("{wpath}/bot_access");
    let t = a.mark();
    let r = api(
        &app,
        &ops_key,
        Method::POST,
        &format!("{ba}/"),
        Some(json!({"bot_id": api_bot, "workspace_role_id": VIEWER_ROLE})),
    )
    .await;
    let bot_access = id_in(&r.1);
    a.api(
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/bot_access",
        "by a service account",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.granted",
            &ops_b,
            br,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let t = a.mark();
    let r = api(
        &app,
        &ops_key,
        Method::DELETE,
        &format!("{ba}/{bot_access}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}",
        "by a service account",
        t,
        &r,
        vec![ev(
            "atrium.workspace_access.revoked",
            &ops_b,
            br,
            Some(&acme),
            Some(&api_ws),
        )],
    );
    let api_bot_keys = keys_of_sa(&app, &api_bot);
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("{base}/bots/{api_bot}"),
        None,
    )
    .await;
    let mut want = vec![ev(
        "atrium.service_account.deleted",
        &ana_u,
        br,
        Some(&acme),
        None,
    )];
    for k in &api_bot_keys {
        want.push(ev(
            "atrium.api_key.deleted",
            &ana_u,
            ("api_key", Some(k)),
            Some(&acme),
            None,
        ));
    }
    a.api(
        "DELETE /api/accounts/{account_id}/bots/{id}",
        "with its key",
        t,
        &r,
        want,
    );

    // Transfer through the API, then delete it in its new account.
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::POST,
        &format!("{wpath}/transfer"),
        Some(json!({"to_account_id": beta})),
    )
    .await;
    a.api(
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/transfer",
        "to an account Ana owns",
        t,
        &r,
        vec![
            ev(
                "atrium.workspace.transferred",
                &ana_u,
                aw,
                Some(&acme),
                Some(&api_ws),
            ),
            ev(
                "atrium.workspace.transferred",
                &ana_u,
                aw,
                Some(&beta),
                Some(&api_ws),
            ),
        ],
    );
    let t = a.mark();
    let r = api(
        &app,
        &key,
        Method::DELETE,
        &format!("/api/accounts/{beta}/workspaces/{api_ws}"),
        None,
    )
    .await;
    a.api(
        "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}",
        "typed by the caller",
        t,
        &r,
        vec![ev(
            "atrium.workspace.deleted",
            &ana_u,
            aw,
            Some(&beta),
            Some(&api_ws),
        )],
    );

    // ----- e-mail verification, password reset, sudo mode -----
    let ana_pw = "another long password";
    let t = a.mark();
    let r = ana.post_form("/profile/email/verify", &[]).await;
    a.page(
        "POST /profile/email/verify",
        "a new verification link",
        t,
        &r,
        vec![ev(
            "atrium.user.verification_sent",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let link = crate::account_security::mailed_link(&app, "verify_email", "ana@example.com");
    let (path, code) = link.split_once("?code=").expect("code in the link");
    let t = a.mark();
    let r = app.new_client().post_form(path, &[("code", code)]).await;
    a.page(
        "POST /auth/verify/{verify_id}",
        "verification",
        t,
        &r,
        vec![ev(
            "atrium.user.email_verified",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = app.new_client().post_form(path, &[("code", code)]).await;
    a.refused("POST /auth/verify/{verify_id}", "used link", t, &r);
    let t = a.mark();
    let r = ana
        .post_form(
            "/auth/confirm",
            &[("password", ana_pw), ("next", "/profile")],
        )
        .await;
    a.page(
        "POST /auth/confirm",
        "password confirmed",
        t,
        &r,
        vec![ev(
            "atrium.user.password_confirmed",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form(
            "/auth/confirm",
            &[("password", "wrong"), ("next", "/profile")],
        )
        .await;
    a.check(
        "POST /auth/confirm",
        "wrong password",
        t,
        r.status,
        false,
        vec![ev(
            "atrium.user.password_confirm_failed",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form("/profile/email", &[("new_email", "ana@elsewhere.example")])
        .await;
    a.page(
        "POST /profile/email",
        "change asked for",
        t,
        &r,
        vec![ev(
            "atrium.user.email_change_requested",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = ana
        .post_form("/profile/email", &[("new_email", "nope")])
        .await;
    a.refused("POST /profile/email", "not an address", t, &r);
    let link = crate::account_security::mailed_link(&app, "change_email", "ana@elsewhere.example");
    let (path, code) = link.split_once("?code=").expect("code in the link");
    let t = a.mark();
    let r = app.new_client().post_form(path, &[("code", code)]).await;
    a.page(
        "POST /auth/verify/{verify_id}",
        "new address",
        t,
        &r,
        vec![ev(
            "atrium.user.email_changed",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = app
        .new_client()
        .post_form("/auth/forgot", &[("email", "ana@elsewhere.example")])
        .await;
    a.page(
        "POST /auth/forgot",
        "known address",
        t,
        &r,
        vec![ev(
            "atrium.user.password_reset_requested",
            &Who::Anonymous,
            me,
            Some(&ana_home),
            None,
        )],
    );
    let t = a.mark();
    let r = app
        .new_client()
        .post_form("/auth/forgot", &[("email", "nobody@example.com")])
        .await;
    a.check(
        "POST /auth/forgot",
        "unknown address",
        t,
        r.status,
        true,
        Vec::new(),
    );
    let link =
        crate::account_security::mailed_link(&app, "password_reset", "ana@elsewhere.example");
    let (path, code) = link.split_once("?code=").expect("code in the link");
    let t = a.mark();
    let r = app
        .new_client()
        .post_form(
            path,
            &[
                ("code", code),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    a.refused("POST /auth/reset/{reset_id}", "too short", t, &r);
    let t = a.mark();
    let r = app
        .new_client()
        .post_form(
            path,
            &[
                ("code", code),
                ("password", "a reset password"),
                ("password_confirm", "a reset password"),
            ],
        )
        .await;
    a.page(
        "POST /auth/reset/{reset_id}",
        "new password",
        t,
        &r,
        vec![ev(
            "atrium.user.password_reset",
            &ana_u,
            me,
            Some(&ana_home),
            None,
        )],
    );

    // ----- single sign-on (issue #26) -----
    // (Ana's sessions ended with her password reset above: a new Owner and organization.)
    let sso_owner = app.signup("sso-owner@example.com", "sso-owner", PW).await;
    let sso_owner_u = Who::User(user_id(&app, "sso-owner"));
    let sso_org = crate::members::create_org(&sso_owner, "Single sign-on", "sso-org").await;
    sso_scenarios(&app, &mut a, &sso_owner, &sso_owner_u, &sso_org).await;

    // ----- every covered route was exercised, and only catalogued names were recorded -----
    for route in COVERED {
        if !a.exercised.contains(*route) {
            a.failures
                .push(format!("{route} is in COVERED but no scenario drove it"));
        }
    }
    let failures = std::mem::take(&mut a.failures);
    assert!(
        failures.is_empty(),
        "\n{} problem(s):\n{}\n",
        failures.len(),
        failures.join("\n")
    );
    recorded_actions_are_in_the_catalog(&app);
}

const SSO_ROUTES: &[&str] = &[
    "POST /account/{account_id}/settings/sso",
    "POST /account/{account_id}/settings/sso/delete",
    "POST /account/{account_id}/settings/sso/domains",
    "POST /account/{account_id}/settings/sso/domains/{domain_id}/remove",
    "POST /sso/domains/verify",
    "POST /auth/sso/link",
    "DELETE /api/accounts/{account_id}/sso/integrations/{integration_id}",
];

/// The SSO routes against a real OpenID provider (`support::oidc`); without one (outside
/// CI) they are marked exercised and skipped.
async fn sso_scenarios(
    app: &TestApp,
    a: &mut Audit<'_>,
    owner: &Client,
    owner_u: &Who,
    acme: &str,
) {
    let Some(provider) = crate::support::oidc::start(&app.url("/auth/sso/callback")) else {
        for r in SSO_ROUTES {
            a.exercised.insert(r.to_string());
        }
        return;
    };
    let settings = format!("/account/{acme}/settings/sso");
    let t = a.mark();
    let r = crate::sso::configure(owner, acme, "not a url", "member", false).await;
    a.refused(SSO_ROUTES[0], "bad issuer", t, &r);
    let t = a.mark();
    let r = crate::sso::configure(owner, acme, &provider.issuer, "member", false).await;
    assert_eq!(r.status, StatusCode::OK, "configure SSO: {}", r.text);
    let integration = text(
        app,
        &format!("SELECT id AS t FROM sso_integrations WHERE account_id = '{acme}'"),
    );
    let sso_r = ("sso_integration", Some(integration.as_str()));
    a.page(
        SSO_ROUTES[0],
        "configure",
        t,
        &r,
        vec![ev(
            "atrium.sso.configured",
            owner_u,
            sso_r,
            Some(acme),
            None,
        )],
    );
    let t = a.mark();
    let r = crate::sso::configure(owner, acme, &provider.issuer, "admin", false).await;
    a.page(
        SSO_ROUTES[0],
        "update",
        t,
        &r,
        vec![ev("atrium.sso.updated", owner_u, sso_r, Some(acme), None)],
    );
    // Domains: claim (refused, then made), prove by the link.
    let t = a.mark();
    let r = owner
        .post_form(
            &format!("{settings}/domains"),
            &[("domain", "not a domain"), ("email", "it@corp.test")],
        )
        .await;
    a.refused(SSO_ROUTES[2], "bad domain", t, &r);
    let t = a.mark();
    let r = owner
        .post_form(
            &format!("{settings}/domains"),
            &[("domain", "corp.test"), ("email", "it@corp.test")],
        )
        .await;
    let domain = text(
        app,
        &format!(
            "SELECT id AS t FROM sso_domains WHERE account_id = '{acme}' AND domain = 'corp.test'"
        ),
    );
    let dom_r = ("sso_domain", Some(domain.as_str()));
    a.page(
        SSO_ROUTES[2],
        "claim",
        t,
        &r,
        vec![ev(
            "atrium.sso.domain_claimed",
            owner_u,
            dom_r,
            Some(acme),
            None,
        )],
    );
    let link = crate::sso::domain_link(app, "it@corp.test");
    let code = link.split("code=").nth(1).unwrap_or_default().to_string();
    let visitor = app.new_client();
    visitor.get(&link).await;
    let t = a.mark();
    let r = visitor
        .post_form("/sso/domains/verify", &[("code", "not-the-code")])
        .await;
    a.refused(SSO_ROUTES[4], "unknown code", t, &r);
    let t = a.mark();
    let r = visitor
        .post_form("/sso/domains/verify", &[("code", &code)])
        .await;
    a.page(
        SSO_ROUTES[4],
        "prove",
        t,
        &r,
        vec![ev(
            "atrium.sso.domain_verified",
            &Who::Anonymous,
            dom_r,
            Some(acme),
            None,
        )],
    );
    // Linking an existing user after their password.
    let lee = app.signup("lee@corp.test", "lee", PW).await;
    drop(lee);
    let lee_id = user_id(app, "lee");
    let lee_u = Who::User(lee_id.clone());
    let lee_r = ("user", Some(lee_id.as_str()));
    let c = app.new_client();
    let to = crate::sso::start(&c, "lee@corp.test").await;
    let back = provider.sign_in(&to, "lee@corp.test").await;
    c.get(back.strip_prefix(&app.base).unwrap_or(&back)).await;
    c.get("/auth/sso/link").await;
    let t = a.mark();
    let r = c
        .post_form("/auth/sso/link", &[("password", "wrong password")])
        .await;
    a.refused(SSO_ROUTES[5], "wrong password", t, &r);
    let t = a.mark();
    let r = c.post_form("/auth/sso/link", &[("password", PW)]).await;
    a.page(
        SSO_ROUTES[5],
        "link",
        t,
        &r,
        vec![
            ev(
                "atrium.sso.identity_linked",
                &lee_u,
                lee_r,
                Some(acme),
                None,
            ),
            ev("atrium.sso.logged_in", &lee_u, lee_r, Some(acme), None),
        ],
    );
    // Remove the domain, delete through the API, configure again and delete on the page.
    let t = a.mark();
    let r = owner
        .post_form(&format!("{settings}/domains/{domain}/remove"), &[])
        .await;
    a.page(
        SSO_ROUTES[3],
        "remove",
        t,
        &r,
        vec![ev(
            "atrium.sso.domain_removed",
            owner_u,
            dom_r,
            Some(acme),
            None,
        )],
    );
    let key = user_key(app, "sso-owner");
    let path = format!("/api/accounts/{acme}/sso/integrations/{integration}");
    let t = a.mark();
    let r = api(app, &key, Method::DELETE, &path, None).await;
    a.api(
        SSO_ROUTES[6],
        "delete",
        t,
        &r,
        vec![ev("atrium.sso.deleted", owner_u, sso_r, Some(acme), None)],
    );
    let t = a.mark();
    let r = api(app, &key, Method::DELETE, &path, None).await;
    a.api(SSO_ROUTES[6], "gone", t, &r, Vec::new());
    crate::sso::configure(owner, acme, &provider.issuer, "member", false).await;
    let again = text(
        app,
        &format!("SELECT id AS t FROM sso_integrations WHERE account_id = '{acme}'"),
    );
    let t = a.mark();
    let r = owner
        .post_form(&format!("{settings}/delete"), &[("integration_id", &again)])
        .await;
    a.page(
        SSO_ROUTES[1],
        "delete",
        t,
        &r,
        vec![ev(
            "atrium.sso.deleted",
            owner_u,
            ("sso_integration", Some(again.as_str())),
            Some(acme),
            None,
        )],
    );
}

/// Every action name in `audit_events` (after all the scenarios above) is one the audit
/// log's catalog knows, so the log page can name and filter it.
fn recorded_actions_are_in_the_catalog(app: &TestApp) {
    let names = texts(app, "SELECT DISTINCT action AS v FROM audit_events");
    assert!(
        names.len() > 30,
        "the scenarios recorded many kinds: {names:?}"
    );
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| atrium::audit::catalog::find(n).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "not in audit::catalog::ACTIONS: {unknown:?}"
    );
}
