//! Real Chromium (issue #25): an Owner creates a team, adds a member through the type-ahead
//! picker and removes them; gives the team a role on a workspace and changes it inline
//! (htmx, no reload); a member gains the workspace through the team in a second browser and
//! loses it when taken out of the team.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_support::DEVELOPER_ROLE;
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app, ws_id};
use crate::workspaces::{create_ws, set_default_role};

async fn log_in(app: &TestApp, handle: &str) -> Browser {
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", handle).await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    // The log-in (argon2) finishes and lands before the next page is opened.
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    b
}

/// Polls (≤ 10 s) until `script` (a function body) returns `true`.
async fn wait_until(b: &Browser, what: &str, script: &str, args: Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = b
            .client
            .execute(script, args.clone())
            .await
            .unwrap_or(Value::Null);
        if v == Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls (≤ 10 s) until the SQL count is `n`.
async fn wait_for_count(app: &TestApp, sql: &str, n: i64) {
    for _ in 0..100 {
        if app.count(sql) == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count(sql), n, "{sql}");
}

#[tokio::test]
async fn an_owner_creates_a_team_and_adds_and_removes_a_member_through_the_type_ahead() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");
    let bo = user_id(&app, "bo");

    let ana = log_in(&app, "ana").await;
    ana.goto(&app.url(&format!("/account/{acct}/members")))
        .await;
    ana.click_link("Teams").await;
    ana.wait_for_text("No teams yet").await;
    ana.fill("Team name", "Data").await;
    ana.fill("Description (optional)", "The data engineers")
        .await;
    ana.click_button("Create team").await;
    ana.wait_for_text("Team “Data” created.").await;
    ana.click_link("Open the team").await;
    ana.wait_for_text("Nobody is in this team yet.").await;

    // Type part of Bo's name: the listbox fills with the matching members.
    ana.fill("Member of the account", "test b").await;
    wait_until(
        &ana,
        "a suggestion for bo",
        "return Array.from(document.querySelectorAll('#member-suggestions [role=option]'))
             .some((o) => o.getAttribute('data-value') === arguments[0]
                          && o.textContent.includes('bo@example.com'));",
        vec![json!("bo")],
    )
    .await;
    let suggested = ana
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#member-suggestions [role=option]')).map((o) => o.getAttribute('data-value'));",
            vec![],
        )
        .await
        .expect("read the suggestions");
    assert_eq!(suggested, json!(["bo"]), "only Bo matches “test b”");
    // Choosing the suggestion (a click) puts its value (the handle) into the field.
    ana.client
        .execute(
            "document.querySelector('#member-suggestions [role=option]').click(); return true;",
            vec![],
        )
        .await
        .expect("choose bo");
    wait_until(
        &ana,
        "the field holds bo",
        "return document.getElementById('add-member').value === 'bo';",
        vec![],
    )
    .await;
    ana.click_button("Add member").await;
    ana.wait_for_text("bo added to Data.").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM team_members WHERE user_id = '{bo}'"
        )),
        1
    );

    // Remove, behind the page's confirmation dialog (#24.1).
    ana.click_button("Remove bo from Data").await;
    ana.wait_for_text("Remove bo from Data?").await;
    ana.wait_for_text("The team has no role on any workspace.")
        .await;
    ana.click_button("Remove bo").await;
    ana.wait_for_text("bo removed from Data.").await;
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 0);
    ana.wait_for_text("Nobody is in this team yet.").await;
    ana.close().await;
}

#[tokio::test]
async fn a_member_reaches_a_workspace_through_a_team_and_loses_it_when_taken_out() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    let dash = create_ws(&ana_http, &acct, "Production", "prod").await;
    set_default_role(&app, &dash, None);
    let ws = ws_id(&dash);
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");
    let data = crate::teams_pages::make_team(&app, &acct, "Data", &["bo"]);

    // Ana gives the team Viewer on Production, then Developer inline.
    let ana = log_in(&app, "ana").await;
    ana.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/teams")))
        .await;
    ana.wait_for_text("No team has a role in this workspace.")
        .await;
    ana.select("Team", "Data").await;
    ana.select("Workspace role", "Viewer").await;
    ana.click_button("Add team").await;
    ana.wait_for_text("Teams with a role here").await;
    // The role's form is saved by htmx: wait until the page (reached by the form's POST and
    // redirect) has run its scripts and htmx has taken the form up.
    ana.wait_for_htmx_on(&format!("#team-access-{data} form"))
        .await;
    let access = format!(
        "SELECT COUNT(*) AS n FROM workspace_team_access WHERE team_id = '{data}' AND role_id = '{DEVELOPER_ROLE}'"
    );
    ana.client
        .execute("window.__notReloaded = 42; return null;", vec![])
        .await
        .expect("mark the page");
    ana.select("Workspace role of the team Data", "Developer")
        .await;
    ana.wait_for_text("Role saved.").await;
    let marker = ana
        .client
        .execute("return window.__notReloaded || null;", vec![])
        .await
        .expect("read the marker");
    assert_eq!(marker, json!(42), "the page was not reloaded");
    wait_for_count(&app, &access, 1).await;
    // It persists: a fresh load shows Developer.
    ana.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/teams")))
        .await;
    let selected = ana
        .client
        .execute(
            "var s = document.querySelector('select[aria-label=\"Workspace role of the team Data\"]');
             return s ? s.selectedOptions[0].text : null;",
            vec![],
        )
        .await
        .expect("read the select");
    assert_eq!(selected, json!("Developer"));

    // Bo, in a second browser, finds Production in the switcher and opens it.
    let bo = log_in(&app, "bo").await;
    bo.goto(&app.url(&format!("/account/{acct}/members"))).await;
    bo.click_button("Switch workspace").await;
    bo.wait_for_text("Production").await;
    bo.click_link("Production").await;
    bo.wait_for_url(|u| u.ends_with(&format!("/workspace/{ws}/dashboard")))
        .await;
    bo.wait_for_text("acme/prod").await;

    // Ana takes Bo out of the team; his next load of the workspace is a 404.
    ana.goto(&app.url(&format!("/account/{acct}/teams/{data}")))
        .await;
    ana.click_button("Remove bo from Data").await;
    ana.wait_for_text("They lose the access this team gives on: Production (Developer).")
        .await;
    ana.click_button("Remove bo").await;
    ana.wait_for_text("bo removed from Data.").await;
    bo.goto(&app.url(&dash)).await;
    bo.wait_for_text("Page not found").await;
    assert!(!bo.text().await.contains("acme/prod"));
    ana.close().await;
    bo.close().await;
}
