//! Workspaces: create (account page and onboarding), the dashboard, who sees what, the
//! switcher, and the last workspace after log-in (issue: workspaces, first part).

use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org};
use crate::support::{Client, TestApp, spawn_app};

/// Creates a workspace through the account page; returns its dashboard path.
pub async fn create_ws(c: &Client, account_id: &str, name: &str, handle: &str) -> String {
    let r = c
        .post_form(
            &format!("/account/{account_id}/workspaces"),
            &[("name", name), ("handle", handle), ("description", "")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "create workspace: {}",
        r.text
    );
    r.location().expect("dashboard")
}

pub fn set_default_role(app: &TestApp, dashboard: &str, role_id: Option<&str>) {
    use diesel::prelude::*;
    let ws_id = dashboard
        .split('/')
        .nth(4)
        .expect("workspace id")
        .to_string();
    let mut c = app.conn();
    diesel::update(atrium::db::schema::workspaces::table.find(ws_id))
        .set(atrium::db::schema::workspaces::default_role_id.eq(role_id))
        .execute(&mut c)
        .expect("set default role");
}

pub const VIEWER: &str = "00000000-0000-4000-8000-000000000004";

#[tokio::test]
async fn onboarding_creates_the_first_workspace_and_the_dashboard_shows_how_to_connect() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let page = ana.get("/onboarding").await;
    assert!(page.text.contains("Create your first workspace"));
    let account_id = crate::members::user_id(&app, "ana"); // placeholder to keep types simple
    let _ = account_id;
    let personal: String = {
        use atrium::db::schema::accounts;
        use diesel::prelude::*;
        let mut c = app.conn();
        accounts::table
            .filter(accounts::handle.eq("ana"))
            .select(accounts::id)
            .first(&mut c)
            .expect("personal")
    };
    let r = ana
        .post_form(
            "/onboarding/workspace",
            &[
                ("account_id", &personal),
                ("name", "Production"),
                ("handle", "prod"),
                ("description", "Where <flows> run"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let dash = r.location().expect("dashboard");
    let d = ana.get(&dash).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains("<h1>Production</h1>"));
    assert!(d.text.contains("ana/prod"));
    assert!(
        d.text.contains("Where &#60;flows&#62; run") || d.text.contains("Where &lt;flows&gt; run")
    );
    assert!(d.text.contains("Owner (as account Owner)"));
    assert!(
        d.text
            .contains("prefect cloud login -k &#60;your API key&#62; --workspace ana/prod")
            || d.text
                .contains("prefect cloud login -k &lt;your API key&gt; --workspace ana/prod")
    );
    let ws_id = dash.split('/').nth(4).expect("id");
    assert!(d.text.contains(&format!(
        "PREFECT_API_URL={}/api/accounts/{personal}/workspaces/{ws_id}",
        app.base
    )));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.workspace.created'"
        ),
        1
    );
    // "/" now opens the last workspace used.
    let home = ana.get("/").await;
    assert_eq!(home.location(), Some(dash));
}

#[tokio::test]
async fn bad_workspace_input_is_refused_beside_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    create_ws(&ana, &acct, "Production", "prod").await;
    let long = "x".repeat(501);
    for (name, handle, description, field) in [
        ("Other", "prod", "", "handle"),
        ("Other", "Bad Handle!", "", "handle"),
        ("", "ok", "", "name"),
        ("Other", "ok2", long.as_str(), "description"),
        ("Other", &"h".repeat(41), "", "handle"),
    ] {
        let r = ana
            .post_form(
                &format!("/account/{acct}/workspaces"),
                &[
                    ("name", name),
                    ("handle", handle),
                    ("description", description),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            r.text.contains(&format!("id=\"{field}-error\"")),
            "{field}: error beside the field"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 1);

    // The account's workspace limit.
    let bad = ana
        .post_form(
            &format!("/account/{acct}/settings"),
            &[
                ("name", "Acme"),
                ("handle", "acme"),
                ("workspace_limit", "-3"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("id=\"workspace_limit-error\""));
    let ok = ana
        .post_form(
            &format!("/account/{acct}/settings"),
            &[
                ("name", "Acme"),
                ("handle", "acme"),
                ("workspace_limit", "1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let r = ana
        .post_form(
            &format!("/account/{acct}/workspaces"),
            &[("name", "Staging"), ("handle", "staging")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("has reached its limit of 1 workspace"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 1);
}

#[tokio::test]
async fn members_see_a_workspace_only_through_a_role_or_the_default_role() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;

    // A Member may not create workspaces.
    let r = bo
        .post_form(
            &format!("/account/{acct}/workspaces"),
            &[("name", "Mine"), ("handle", "mine")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No role and default No Access: the workspace does not exist for them.
    assert_eq!(bo.get(&dash).await.status, StatusCode::NOT_FOUND);
    assert!(!bo.get("/switcher").await.text.contains("Production"));

    set_default_role(&app, &dash, Some(VIEWER));
    let d = bo.get(&dash).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains("Viewer (everyone in the account)"));
    assert!(bo.get("/switcher").await.text.contains("Production"));

    set_default_role(&app, &dash, None);
    assert_eq!(
        bo.get(&dash).await.status,
        StatusCode::NOT_FOUND,
        "checked at every request"
    );
    // Someone outside the account never sees it.
    let eve = app.signup("eve@example.com", "eve", PW).await;
    set_default_role(&app, &dash, Some(VIEWER));
    assert_eq!(eve.get(&dash).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_switcher_groups_by_account_puts_recent_first_and_filters_on_the_server() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let beta = create_org(&ana, "Beta Org", "beta").await;
    let alpha_ws = create_ws(&ana, &acme, "Alpha", "alpha").await;
    create_ws(&ana, &acme, "Zulu", "zulu").await;
    create_ws(&ana, &beta, "Research", "research").await;
    ana.get(&alpha_ws).await; // the most recent visit

    let list = ana.get_with("/switcher", &[("HX-Request", "true")]).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains("<html"));
    let (a, z, r) = (
        list.text.find("Alpha").expect("alpha"),
        list.text.find("Zulu").expect("zulu"),
        list.text.find("Research").expect("research"),
    );
    assert!(a < r && a < z, "most recently used first");
    assert!(list.text.contains("<h3>Acme</h3>") && list.text.contains("<h3>Beta Org</h3>"));

    let filtered = ana.get("/switcher?q=res").await;
    assert!(filtered.text.contains("Research") && !filtered.text.contains("Alpha"));
    let none = ana.get("/switcher?q=nothing-like-this").await;
    assert!(none.text.contains("No workspace matches"));
}

#[tokio::test]
async fn after_log_in_the_last_workspace_used_opens() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let first = create_ws(&ana, &acme, "First", "first").await;
    let second = create_ws(&ana, &acme, "Second", "second").await;
    ana.get(&first).await;
    let c = app.new_client();
    let r = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(r.location().as_deref(), Some("/"));
    assert_eq!(c.get("/").await.location(), Some(first.clone()));
    c.get(&second).await;
    assert_eq!(c.get("/").await.location(), Some(second));
}

/// Opening the dashboard that already is the user's most recent visit writes nothing (a
/// read of one index entry instead of a write transaction per view); opening another one,
/// or the same one after [`atrium::workspaces::model::VISIT_REFRESH`], records the visit.
#[tokio::test]
async fn reopening_the_most_recent_dashboard_does_not_write_the_visit_again() {
    use crate::support::text;
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let first = create_ws(&ana, &acme, "First", "first").await;
    let second = create_ws(&ana, &acme, "Second", "second").await;
    let visited = |dashboard: &str| {
        text(
            &app,
            &format!(
                "SELECT CAST(visited_at AS TEXT) AS t FROM workspace_visits
                 WHERE workspace_id = '{}'",
                crate::support::ws_id(dashboard)
            ),
        )
    };
    ana.get(&first).await;
    let at = visited(&first);
    for _ in 0..3 {
        assert_eq!(ana.get(&first).await.status, StatusCode::OK);
    }
    assert_eq!(
        visited(&first),
        at,
        "the same most recent visit: not written again"
    );

    ana.get(&second).await;
    ana.get(&first).await;
    assert_ne!(visited(&first), at, "after another workspace: written");
    assert_eq!(ana.get("/").await.location(), Some(first.clone()));

    // A most recent visit older than the refresh interval is written again.
    app.conn()
        .batch_execute("UPDATE workspace_visits SET visited_at = '2026-01-01 00:00:00'")
        .expect("age the visits");
    let aged = visited(&first);
    ana.get(&first).await;
    assert_ne!(visited(&first), aged, "an old visit: written");
}

#[tokio::test]
async fn removing_a_member_removes_their_workspace_accesses_in_that_account() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    let ws_id = dash.split('/').nth(4).expect("id").to_string();
    let bo_id = crate::members::user_id(&app, "bo");
    {
        use atrium::db::schema::workspace_access as wa;
        let mut c = app.conn();
        diesel::insert_into(wa::table)
            .values((
                wa::id.eq(uuid::Uuid::new_v4().to_string()),
                wa::workspace_id.eq(&ws_id),
                wa::user_id.eq(&bo_id),
                wa::role_id.eq("00000000-0000-4000-8000-000000000002"),
                wa::created_at.eq(atrium::db::now()),
                wa::handle.eq("bo"),
            ))
            .execute(&mut c)
            .expect("grant");
    }
    let d = bo.get(&dash).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains(">Developer</dd>"));
    // The dashboard's totals are kept by the database, whatever wrote the rows.
    let with_access = "<dt>Members with access</dt><dd>";
    assert!(
        d.text.contains(&format!("{with_access}2</dd>")),
        "Ana and Bo"
    );
    let r = ana
        .post_form(&format!("/account/{acct}/members/{bo_id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let d = ana.get(&dash).await;
    assert!(d.text.contains(&format!("{with_access}1</dd>")), "Ana only");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE user_id = '{bo_id}'"
        )),
        0
    );
    assert_eq!(bo.get(&dash).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn workspace_settings_edit_name_handle_description_and_the_default_role() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    create_ws(&ana, &acct, "Staging", "staging").await;
    let settings = dash.replace("/dashboard", "/settings");

    let page = ana.get(&settings).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Anyone at Acme"));
    assert!(page.text.contains(">No Access</option>"));

    let taken = ana
        .post_form(
            &settings,
            &[
                ("name", "Prod"),
                ("handle", "staging"),
                ("description", ""),
                ("default_role", "none"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.text.contains("id=\"handle-error\""));
    let bad_role = ana
        .post_form(
            &settings,
            &[
                ("name", "Prod"),
                ("handle", "prod"),
                ("description", ""),
                ("default_role", "not-a-role"),
            ],
        )
        .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_role.text.contains("id=\"default_role-error\""));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspaces WHERE name = 'Prod'"),
        0,
        "nothing changed"
    );

    // A Member without a role cannot see the page, nor post to it.
    assert_eq!(bo.get(&settings).await.status, StatusCode::NOT_FOUND);
    let ok = ana
        .post_form(
            &settings,
            &[
                ("name", "Prod"),
                ("handle", "prod-1"),
                ("description", "Main"),
                ("default_role", VIEWER),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(ok.text.contains("Workspace settings saved."));
    assert!(ok.text.contains("--workspace acme/prod-1"));
    // Everyone at Acme is now a Viewer: the dashboard opens for bo, settings still do not.
    assert_eq!(bo.get(&dash).await.status, StatusCode::OK);
    assert_eq!(bo.get(&settings).await.status, StatusCode::NOT_FOUND);
    let r = bo
        .post_form(
            &settings,
            &[
                ("name", "Mine"),
                ("handle", "mine"),
                ("description", ""),
                ("default_role", "none"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.workspace.updated'"
        ),
        1
    );
}

#[tokio::test]
async fn the_members_panel_adds_changes_and_removes_roles_without_granting_above_ones_own() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    app.signup("cy@example.com", "cy", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    add_member(&app, &acct, "cy", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    let panel = dash.replace("/dashboard", "/settings/members");
    let (bo_id, cy_id) = (
        crate::members::user_id(&app, "bo"),
        crate::members::user_id(&app, "cy"),
    );
    const OWNER: &str = "00000000-0000-4000-8000-000000000001";
    const DEVELOPER: &str = "00000000-0000-4000-8000-000000000002";

    let page = ana.get(&panel).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Add a member"));
    let r = ana
        .post_form(&panel, &[("user_id", &bo_id), ("role_id", DEVELOPER)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(bo.get(&dash).await.text.contains(">Developer</dd>"));
    // A Developer cannot see the panel (no see_workspace_users).
    assert_eq!(bo.get(&panel).await.status, StatusCode::NOT_FOUND);

    // Inline change, as htmx does it.
    let r = ana
        .post_htmx(&format!("{panel}/{bo_id}/role"), &[("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Role saved.") && r.text.contains("<tr"));
    assert!(bo.get(&dash).await.text.contains(">Viewer</dd>"));

    // A workspace-level manager without Owner scopes cannot grant Owner.
    {
        use atrium::db::schema::workspace_roles as wr;
        let mut c = app.conn();
        diesel::insert_into(wr::table)
            .values((
                wr::id.eq("11111111-1111-4111-8111-111111111111"),
                wr::account_id.eq(&acct),
                wr::name.eq("People manager"),
                wr::description.eq(""),
                wr::scopes.eq(r#"["manage_workspace_users"]"#),
                wr::inherited_role.eq(Some("viewer")),
                wr::created_at.eq(atrium::db::now()),
                wr::updated_at.eq(atrium::db::now()),
            ))
            .execute(&mut c)
            .expect("custom role");
    }
    let r = ana
        .post_htmx(
            &format!("{panel}/{bo_id}/role"),
            &[("role_id", "11111111-1111-4111-8111-111111111111")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = bo
        .post_form(&panel, &[("user_id", &cy_id), ("role_id", OWNER)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("You cannot give a role with permissions you do not have yourself.")
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE user_id = '{cy_id}'"
        )),
        0
    );
    let r = bo
        .post_form(&panel, &[("user_id", &cy_id), ("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Remove.
    let r = ana.post_form(&format!("{panel}/{cy_id}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE user_id = '{cy_id}'"
        )),
        0
    );
    for action in [
        "atrium.workspace_access.granted",
        "atrium.workspace_access.role_changed",
        "atrium.workspace_access.revoked",
    ] {
        assert!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
            )) >= 1,
            "{action}"
        );
    }
}

#[tokio::test]
async fn the_switcher_with_1000_workspaces_and_the_members_panel_with_5000_accesses_use_bounded_queries()
 {
    use diesel::connection::SimpleConnection;
    let app =
        crate::support::spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600))
            .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    let dash = create_ws(&ana, &acct, "Main", "main").await;
    let ws_id = dash.split('/').nth(4).expect("id").to_string();
    let t = "2026-01-01 00:00:00";
    let mut sql = String::from("BEGIN;");
    let rows: Vec<String> = (0..999)
        .map(|i| {
            format!(
                "('{}', '{acct}', 'Workspace {i:04}', 'ws-{i:04}', '', NULL, '{t}', '{t}')",
                uuid::Uuid::new_v4()
            )
        })
        .collect();
    for chunk in rows.chunks(250) {
        sql.push_str(&format!(
            "INSERT INTO workspaces (id, account_id, name, handle, description, default_role_id, created_at, updated_at) VALUES {};",
            chunk.join(",")
        ));
    }
    for chunk in (0..5000).collect::<Vec<_>>().chunks(500) {
        let mut users = Vec::new();
        let mut members = Vec::new();
        let mut accesses = Vec::new();
        let mut accounts = Vec::new();
        for i in chunk {
            let id = uuid::Uuid::new_v4();
            users.push(format!(
                "('{id}', 'u{i:05}@example.com', 'u{i:05}@example.com', 'u{i:05}', 'U', '{i}', 'x', '{t}', '{t}', '{}')",
                atrium::db::search::user_key(
                    &format!("u{i:05}"),
                    "U",
                    &i.to_string(),
                    &format!("u{i:05}@example.com")
                )
            ));
            // Everyone has a personal account (as sign-up makes it).
            let personal = uuid::Uuid::new_v4();
            accounts.push(format!(
                "('{personal}', 'personal', 'U {i}', 'u{i:05}', '{t}', '{t}')"
            ));
            members.push(format!(
                "('{}', '{personal}', '{id}', 'owner', '{t}', 'u{i:05}')",
                uuid::Uuid::new_v4()
            ));
            members.push(format!(
                "('{}', '{acct}', '{id}', 'member', '{t}', 'u{i:05}')",
                uuid::Uuid::new_v4()
            ));
            accesses.push(format!(
                "('{}', '{ws_id}', '{id}', '{VIEWER}', '{t}', 'u{i:05}')",
                uuid::Uuid::new_v4()
            ));
        }
        sql.push_str(&format!("INSERT INTO users (id, email, email_normalized, handle, first_name, last_name, password_hash, created_at, updated_at, search_key) VALUES {};", users.join(",")));
        sql.push_str(&format!(
            "INSERT INTO accounts (id, kind, name, handle, created_at, updated_at) VALUES {};",
            accounts.join(",")
        ));
        sql.push_str(&format!("INSERT INTO account_memberships (id, account_id, user_id, role, created_at, handle) VALUES {};", members.join(",")));
        sql.push_str(&format!("INSERT INTO workspace_access (id, workspace_id, user_id, role_id, created_at, handle) VALUES {};", accesses.join(",")));
    }
    sql.push_str("COMMIT;");
    app.conn().batch_execute(&sql).expect("seed");
    ana.get("/profile").await;

    let before = app.queries.get();
    let list = ana.get("/switcher").await;
    let switcher_queries = app.queries.get() - before;
    assert_eq!(
        list.text.matches("/dashboard\"").count(),
        50,
        "at most 50 at once"
    );
    let before = app.queries.get();
    let filtered = ana.get("/switcher?q=workspace%200998").await;
    let filtered_queries = app.queries.get() - before;
    assert!(filtered.text.contains("Workspace 0998") && !filtered.text.contains("Workspace 0997"));

    let before = app.queries.get();
    let panel = ana
        .get(&dash.replace("/dashboard", "/settings/members"))
        .await;
    let panel_queries = app.queries.get() - before;
    assert_eq!(panel.status, StatusCode::OK);
    assert_eq!(
        panel.text.matches("<tr id=\"access-").count(),
        50,
        "one page of the 5,001 rows"
    );
    assert!(panel.text.contains("5001 members with a role here"));
    assert!(
        panel.text.contains("name=\"member\""),
        "a large account gets a field, not a list of thousands"
    );
    // The panel pays two bounded counts (its total, and whether the account is small enough
    // for a pick list) for no longer loading every row.
    for (what, n, bound) in [
        ("switcher", switcher_queries, 10),
        ("filtered switcher", filtered_queries, 10),
        ("members panel", panel_queries, 11),
    ] {
        assert!(n <= bound, "{what} took {n} queries");
    }
}

/// Gives `handle` an own role on the workspace (test setup).
pub fn grant(app: &TestApp, ws_id: &str, handle: &str, role_id: &str) {
    use atrium::db::schema::workspace_access as wa;
    use diesel::prelude::*;
    let uid = crate::members::user_id(app, handle);
    let mut c = app.conn();
    diesel::insert_into(wa::table)
        .values((
            wa::id.eq(uuid::Uuid::new_v4().to_string()),
            wa::workspace_id.eq(ws_id),
            wa::user_id.eq(uid),
            wa::role_id.eq(role_id),
            wa::created_at.eq(atrium::db::now()),
            wa::handle.eq(handle),
        ))
        .execute(&mut c)
        .expect("grant");
}

/// (actor, invite by e-mail, change a role inline, remove, transfer page, delete with a wrong
/// handle). A workspace Owner who is only a Member of the account manages the workspace but
/// may not move it out (403); a Developer sees the settings (403 on their actions) but not the
/// members (404).
const MORE_ACTIONS: [(&str, [u16; 5]); 11] = [
    ("owner", [200, 200, 200, 200, 422]),
    ("adm", [200, 200, 200, 200, 422]),
    ("wowner", [200, 200, 200, 403, 422]),
    ("wdev", [404, 404, 404, 403, 403]),
    ("wrunner", [404, 404, 404, 404, 404]),
    ("wteam", [404, 404, 404, 404, 404]),
    ("wviewer", [404, 404, 404, 404, 404]),
    ("wworker", [404, 404, 404, 404, 404]),
    ("member", [404, 404, 404, 404, 404]),
    ("collab", [404, 404, 404, 404, 404]),
    ("outsider", [404, 404, 404, 404, 404]),
];

#[tokio::test]
async fn the_permission_matrix_of_workspace_pages_and_actions() {
    let app = spawn_app().await;
    let owner = app.signup("owner@example.com", "owner", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let dash = create_ws(&owner, &acct, "Production", "prod").await;
    let ws_id = dash.split('/').nth(4).expect("id").to_string();
    let other_ws = create_ws(&owner, &acct, "Other", "other").await;
    set_default_role(&app, &other_ws, Some(VIEWER));
    app.signup("zed@example.com", "zed", PW).await;
    add_member(&app, &acct, "zed", "member");
    let zed = crate::members::user_id(&app, "zed");

    const ROLE_IDS: [(&str, &str); 5] = [
        ("wowner", "00000000-0000-4000-8000-000000000001"),
        ("wdev", "00000000-0000-4000-8000-000000000002"),
        ("wrunner", "00000000-0000-4000-8000-000000000003"),
        ("wviewer", "00000000-0000-4000-8000-000000000004"),
        ("wworker", "00000000-0000-4000-8000-000000000005"),
    ];
    let mut clients = vec![("owner", owner.clone())];
    for (handle, account_role) in [
        ("adm", "admin"),
        ("member", "member"),
        ("collab", "collaborator"),
    ] {
        let c = app
            .signup(&format!("{handle}@example.com"), handle, PW)
            .await;
        add_member(&app, &acct, handle, account_role);
        clients.push((handle, c));
    }
    // A Collaborator exists through a workspace access: theirs is on a workspace of its own.
    let space = create_ws(&owner, &acct, "Collab space", "collab-space").await;
    let space_id = space.split('/').nth(4).expect("id").to_string();
    grant(&app, &space_id, "collab", VIEWER);
    for (handle, role_id) in ROLE_IDS {
        let c = app
            .signup(&format!("{handle}@example.com"), handle, PW)
            .await;
        add_member(&app, &acct, handle, "member");
        grant(&app, &ws_id, handle, role_id);
        clients.push((handle, c));
    }
    // A Member whose only access is a team's Runner role (issue #25).
    let wteam = app.signup("wteam@example.com", "wteam", PW).await;
    add_member(&app, &acct, "wteam", "member");
    let runners = crate::teams_pages::make_team_as(&app, "owner", &acct, "Runners", &["wteam"]);
    {
        let who = crate::teams_pages::as_user(&app, "owner");
        atrium::teams::ops::grant(
            &mut app.conn(),
            &who,
            &acct,
            &ws_id,
            &runners,
            crate::api_support::RUNNER_ROLE,
        )
        .expect("the team's role");
    }
    clients.push(("wteam", wteam));
    let outsider = app.signup("out@example.com", "out", PW).await;
    clients.push(("outsider", outsider));

    let settings = dash.replace("/dashboard", "/settings");
    let panel = dash.replace("/dashboard", "/settings/members");
    // (actor, dashboard, GET settings, POST settings, GET members panel, POST add member)
    let expected: [(&str, [u16; 5]); 11] = [
        ("owner", [200, 200, 200, 200, 303]),
        ("adm", [200, 200, 200, 200, 303]),
        ("wowner", [200, 200, 200, 200, 303]),
        ("wdev", [200, 200, 403, 404, 404]),
        ("wrunner", [200, 404, 404, 404, 404]),
        ("wteam", [200, 404, 404, 404, 404]),
        ("wviewer", [200, 404, 404, 404, 404]),
        ("wworker", [200, 404, 404, 404, 404]),
        ("member", [404, 404, 404, 404, 404]),
        ("collab", [404, 404, 404, 404, 404]),
        ("outsider", [404, 404, 404, 404, 404]),
    ];
    for (actor, codes) in expected {
        let c = &clients.iter().find(|(h, _)| *h == actor).expect("client").1;
        let got = [
            c.get(&dash).await.status.as_u16(),
            c.get(&settings).await.status.as_u16(),
            c.post_form(
                &settings,
                &[
                    ("name", "Production"),
                    ("handle", "prod"),
                    ("description", ""),
                    ("default_role", "none"),
                ],
            )
            .await
            .status
            .as_u16(),
            c.get(&panel).await.status.as_u16(),
            c.post_form(&panel, &[("user_id", &zed), ("role_id", VIEWER)])
                .await
                .status
                .as_u16(),
        ];
        assert_eq!(
            got, codes,
            "{actor}: dashboard, settings, save settings, members panel, add member"
        );
    }
    // More actions: invite by e-mail, inline role change, remove, the transfer page, delete
    // (with a wrong handle, so an allowed delete answers 422 and changes nothing). A victim is
    // given a role again before each remove.
    app.signup("vic@example.com", "vic", PW).await;
    add_member(&app, &acct, "vic", "member");
    let vic = crate::members::user_id(&app, "vic");
    let transfer = dash.replace("/dashboard", "/settings/transfer");
    let delete = dash.replace("/dashboard", "/delete");
    // (actor, invite, change role inline, remove, transfer page, delete)
    let more: [(&str, [u16; 5]); 11] = MORE_ACTIONS;
    for (actor, codes) in more {
        let c = &clients.iter().find(|(h, _)| *h == actor).expect("client").1;
        {
            use atrium::db::schema::workspace_access as wa;
            use diesel::prelude::*;
            let mut conn = app.conn();
            diesel::delete(wa::table.filter(wa::user_id.eq(&vic)))
                .execute(&mut conn)
                .expect("reset");
        }
        grant(&app, &ws_id, "vic", VIEWER);
        let email = format!("{actor}-guest@example.com");
        let got = [
            c.post_form(
                &format!("{panel}/invite"),
                &[("email", &email), ("role_id", VIEWER)],
            )
            .await
            .status
            .as_u16(),
            c.post_htmx(&format!("{panel}/{zed}/role"), &[("role_id", VIEWER)])
                .await
                .status
                .as_u16(),
            c.post_form(&format!("{panel}/{vic}/remove"), &[])
                .await
                .status
                .as_u16(),
            c.get(&transfer).await.status.as_u16(),
            c.post_form(&delete, &[("confirm_handle", "wrong")])
                .await
                .status
                .as_u16(),
        ];
        assert_eq!(
            got, codes,
            "{actor}: invite, change inline, remove, transfer page, delete"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspaces"),
        3,
        "nothing deleted"
    );
    // Through the team, exactly Runner's scopes (as the workspace's own Runner has).
    for handle in ["wteam", "wrunner"] {
        let key = crate::api_support::user_key(&app, handle);
        let r = crate::api_support::call(
            &app,
            Some(&key),
            reqwest::Method::GET,
            &format!("/api/me/workspaces/{ws_id}/scopes"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{handle}: {:?}", r.body);
        let mut got: Vec<String> = r
            .body
            .as_array()
            .expect("a list of scopes")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        got.sort();
        let mut want: Vec<String> = atrium::authz::workspace::BuiltinRole::Runner
            .scopes()
            .names()
            .into_iter()
            .map(str::to_string)
            .collect();
        want.sort();
        assert_eq!(got, want, "{handle}: Runner's scopes");
    }
    // A Member with no own role on "Other" reaches it through its default role (Viewer):
    // the dashboard, and nothing else.
    let member = &clients
        .iter()
        .find(|(h, _)| *h == "member")
        .expect("member")
        .1;
    let other_settings = other_ws.replace("/dashboard", "/settings");
    let other_panel = other_ws.replace("/dashboard", "/settings/members");
    let got = [
        member.get(&other_ws).await.status.as_u16(),
        member.get(&other_settings).await.status.as_u16(),
        member.get(&other_panel).await.status.as_u16(),
        member
            .post_form(&other_panel, &[("user_id", &zed), ("role_id", VIEWER)])
            .await
            .status
            .as_u16(),
        member
            .get(&other_ws.replace("/dashboard", "/settings/transfer"))
            .await
            .status
            .as_u16(),
        member
            .post_form(
                &other_ws.replace("/dashboard", "/delete"),
                &[("confirm_handle", "other")],
            )
            .await
            .status
            .as_u16(),
    ];
    assert_eq!(
        got,
        [200, 404, 404, 404, 404, 404],
        "member with the default role: dashboard, settings, panel, add, transfer, delete"
    );

    // The default role: a Member sees "Other" (default Viewer); a Collaborator does not.
    let member = &clients
        .iter()
        .find(|(h, _)| *h == "member")
        .expect("member")
        .1;
    let collab = &clients
        .iter()
        .find(|(h, _)| *h == "collab")
        .expect("collab")
        .1;
    assert_eq!(member.get(&other_ws).await.status, StatusCode::OK);
    assert_eq!(collab.get(&other_ws).await.status, StatusCode::NOT_FOUND);
    // No leak of names: the switcher of someone without access does not list the workspace.
    assert!(!member.get("/switcher").await.text.contains("Production"));
    assert!(member.get("/switcher").await.text.contains("Other"));
}

#[tokio::test]
async fn deleting_a_workspace_needs_its_handle_and_takes_everything_with_it() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    let ws_id = dash.split('/').nth(4).expect("id").to_string();
    grant(&app, &ws_id, "bo", VIEWER);
    let settings = dash.replace("/dashboard", "/settings");
    let page = ana.get(&settings).await;
    assert!(page.text.contains("aria-label=\"More workspace actions\""));
    assert!(page.text.contains("2 member accesses"));
    assert_eq!(
        page.text.matches("id=\"delete-workspace\"").count(),
        1,
        "the delete form appears once, not in the title"
    );
    assert!(
        page.text
            .contains("<title>Workspace settings · Production · Atrium</title>")
    );
    // Without manage_workspace_settings there is no menu and no deleting.
    assert_eq!(
        bo.post_form(
            &dash.replace("/dashboard", "/delete"),
            &[("confirm_handle", "prod")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let wrong = ana
        .post_form(
            &dash.replace("/dashboard", "/delete"),
            &[("confirm_handle", "Prod")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text.contains("id=\"confirm_handle-error\""));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 1);

    let ok = ana
        .post_form(
            &dash.replace("/dashboard", "/delete"),
            &[("confirm_handle", "prod")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspace_access"), 0);
    for path in [
        dash.clone(),
        settings.clone(),
        dash.replace("/dashboard", "/settings/members"),
    ] {
        assert_eq!(ana.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert!(!ana.get("/switcher").await.text.contains("Production"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.workspace.deleted' AND resource_name = 'prod'"),
        1
    );
}

#[tokio::test]
async fn the_members_panel_reads_an_index_range_without_sorting_on_sqlite() {
    use crate::members::{seed_members, sqlite_plan, statements_of};
    use diesel::prelude::*;
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    let ws_id = dash.split('/').nth(4).expect("id").to_string();
    seed_members(&app, &acct, 600);
    let mut c = app.conn();
    {
        use atrium::db::schema::account_memberships as m;
        let ids: Vec<String> = m::table
            .filter(m::account_id.eq(&acct))
            .filter(m::role.eq("member"))
            .select(m::user_id)
            .load(&mut *c)
            .expect("members");
        atrium::seed::add_accesses(&mut c, &ws_id, &ids).expect("accesses");
    }
    let sqlite = matches!(crate::support::backend(), atrium::settings::Backend::Sqlite);
    for (what, after) in [("page 1", ""), ("a later page", "user00500")] {
        let mut rows = Vec::new();
        let statements = statements_of(&mut c, |c| {
            rows =
                atrium::workspaces::model::user_accesses_page(c, &ws_id, after, 50).expect("page");
        });
        assert_eq!(rows.len(), 50, "{what}");
        assert!(rows.iter().all(|r| r.handle.as_str() > after), "{what}");
        assert!(rows.windows(2).all(|w| w[0].handle < w[1].handle), "{what}");
        assert_eq!(statements.len(), 1, "{what}");
        if !sqlite {
            continue;
        }
        let plan = sqlite_plan(&mut c, &statements[0]);
        assert!(
            !plan
                .iter()
                .any(|d| d.contains("TEMP B-TREE") || d.starts_with("SCAN")),
            "{what}: no sort, no scan\n{plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|d| d.contains("workspace_access_workspace_handle")
                    && d.contains("(workspace_id=? AND handle>?)")),
            "{what}: a range of (workspace_id, handle)\n{plan:#?}"
        );
    }
}

#[tokio::test]
async fn the_switcher_reads_visits_then_names_from_indexes_without_sorting_on_sqlite() {
    use crate::members::{sqlite_plan, statements_of};
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    let ana_id = crate::members::user_id(&app, "ana");
    let mut c = app.conn();
    let ids = atrium::seed::add_workspaces(&mut c, &acct, &ana_id, 400, "t").expect("workspaces");
    // Three visits, oldest first.
    for id in [&ids[7], &ids[300], &ids[42]] {
        atrium::workspaces::model::record_visit(&mut c, &ana_id, id).expect("visit");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let sqlite = matches!(crate::support::backend(), atrium::settings::Backend::Sqlite);
    for (what, q) in [("unfiltered", ""), ("filtered", "pipeline t01")] {
        let mut rows = Vec::new();
        let statements = statements_of(&mut c, |c| {
            rows = atrium::workspaces::model::reachable(c, &ana_id, q, 50).expect("reachable");
        });
        assert_eq!(rows.len(), 50, "{what}");
        // The visits, the user's accounts (personal and Big), then each account by name; on
        // PostgreSQL the reads by name run in a transaction with generic plans (planned once
        // per connection, not at every execution: `db::with_generic_plans`).
        let expected = if sqlite { 4 } else { 7 };
        assert_eq!(
            statements.len(),
            expected,
            "{what}: recent, then by name: {statements:#?}"
        );
        if !sqlite {
            assert!(
                statements
                    .iter()
                    .any(|s| s.contains("SET LOCAL plan_cache_mode = force_generic_plan")),
                "{what}: generic plans for the reads by name: {statements:#?}"
            );
        }
        if q.is_empty() {
            let names: Vec<&str> = rows.iter().map(|r| r.workspace.name.as_str()).collect();
            assert_eq!(
                names[..3],
                ["Pipeline t0042", "Pipeline t0300", "Pipeline t0007"],
                "recent first, newest first"
            );
            assert!(names[3..].windows(2).all(|w| w[0] < w[1]), "by name");
        }
        if !sqlite {
            continue;
        }
        for sql in &statements {
            let plan = sqlite_plan(&mut c, sql);
            assert!(
                !plan
                    .iter()
                    .any(|d| d.contains("TEMP B-TREE FOR ORDER BY") || d.starts_with("SCAN")),
                "{what}: no sort of the reachable workspaces, no scan: {sql}\n{plan:#?}"
            );
            assert!(
                plan.iter().any(
                    |d| d.contains("USING INDEX workspace_visits_recent (user_id=?)")
                        || d.contains("USING INDEX workspaces_account_name (account_id=?)")
                        || d.contains("USING INDEX account_memberships_user (user_id=?)")
                ),
                "{what}: the visits index, the user's memberships or the name index: {sql}\n{plan:#?}"
            );
        }
    }
}

#[tokio::test]
async fn the_switcher_of_a_user_in_many_accounts_lists_the_same_order() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let ana_id = crate::members::user_id(&app, "ana");
    // Ten accounts (nine organizations and the personal one): past the per-account reads.
    let mut names = Vec::new();
    for i in 0..9 {
        let acct = create_org(&ana, &format!("Org {i}"), &format!("org-{i}")).await;
        for n in [format!("W{} {i}", 9 - i), format!("A{i}")] {
            create_ws(&ana, &acct, &n, &n.to_lowercase().replace(' ', "-")).await;
            names.push(n);
        }
    }
    names.sort();
    let mut c = app.conn();
    let all = atrium::workspaces::model::reachable(&mut c, &ana_id, "", 50).expect("all");
    let got: Vec<String> = all.iter().map(|r| r.workspace.name.clone()).collect();
    let visited: Vec<&String> = all
        .iter()
        .filter(|r| r.visited_at.is_some())
        .map(|r| &r.workspace.name)
        .collect();
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| !visited.contains(&n))
        .collect();
    assert_eq!(
        got[visited.len()..],
        rest[..],
        "visited first, then by name across accounts"
    );
    let few = atrium::workspaces::model::reachable(&mut c, &ana_id, "", 5).expect("five");
    assert_eq!(few.len(), 5);
    assert_eq!(
        few.iter()
            .map(|r| r.workspace.name.clone())
            .collect::<Vec<_>>(),
        got[..5]
    );
}

/// Whether a user reaches a workspace asks for their membership of its account, once per
/// workspace (the switcher, the workspaces list and its count). On PostgreSQL that lookup
/// must be the unique index (account_id, user_id), which carries the role (migration
/// 000030), not a walk of the account's memberships by handle until the user's: the index
/// (account_id, handle) also carries user_id and role, and PostgreSQL took it (1,500 index
/// entries per workspace in the benchmark: 96 ms to count 1,000 workspaces, 35 ms for a
/// switcher).
#[tokio::test]
async fn whether_a_user_reaches_a_workspace_is_one_index_probe_on_postgresql() {
    use crate::members::{pg_generic_plan, seed_members, statements_of};
    use atrium::members::model::Cursor;
    use diesel::connection::SimpleConnection;
    if matches!(crate::support::backend(), atrium::settings::Backend::Sqlite) {
        // SQLite takes the unique index for the two equalities (the switcher's plan test
        // above reads its plans).
        return;
    }
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    let ana_id = crate::members::user_id(&app, "ana");
    seed_members(&app, &acct, 2_000);
    let mut c = app.conn();
    atrium::seed::add_workspaces(&mut c, &acct, &ana_id, 60, "t").expect("workspaces");
    for table in [
        "account_memberships",
        "accounts",
        "workspaces",
        "workspace_access",
        "users",
    ] {
        c.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .expect("vacuum");
    }
    let statements = statements_of(&mut c, |c| {
        atrium::workspaces::model::list_page(c, &ana_id, &acct, "", &Cursor::First).expect("list");
        atrium::workspaces::model::reachable(c, &ana_id, "", 50).expect("switcher");
    });
    let lookups: Vec<&String> = statements
        .iter()
        .filter(|s| s.contains("\"reach_membership\""))
        .collect();
    assert!(
        lookups.len() >= 3,
        "the list's count and page, the switcher: {statements:#?}"
    );
    for statement in lookups {
        let plan = pg_generic_plan(&mut c, statement).join("\n");
        assert!(
            plan.contains("account_memberships_account_id_user_id_key"),
            "the membership by (account_id, user_id): {statement}\n{plan}"
        );
        assert!(
            !plan.contains("account_memberships_account_handle"),
            "not a walk of the account's memberships by handle: {statement}\n{plan}"
        );
    }
}
