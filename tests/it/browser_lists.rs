//! Real Chromium (issue #24, point 5): the workspaces and service-accounts lists search as
//! one types and page with htmx (no reload), "Manage" opens one service account's forms;
//! the switcher says when it stops at 50; the people picker is chosen with the keyboard
//! and adds the member.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::members::{PW, add_member, create_org, seed_members};
use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app};
use crate::workspaces::create_ws;

async fn log_in(app: &TestApp, handle: &str) -> Browser {
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", handle).await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
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

/// Marks the document, so that a full reload (which loses the mark) can be told from an
/// htmx swap.
async fn mark(b: &Browser) {
    b.client
        .execute("window.__atriumMark = 1; return true;", vec![])
        .await
        .expect("mark");
}

async fn still_marked(b: &Browser) -> bool {
    b.client
        .execute("return window.__atriumMark === 1;", vec![])
        .await
        .expect("read mark")
        == json!(true)
}

fn seed_workspaces(app: &TestApp, acct: &str, n: usize) {
    use diesel::connection::SimpleConnection;
    let t = "2026-01-01 00:00:00";
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "('{}', '{acct}', 'Workspace {i:04}', 'ws-{i:04}', '', NULL, '{t}', '{t}')",
                uuid::Uuid::new_v4()
            )
        })
        .collect();
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO workspaces (id, account_id, name, handle, description, default_role_id, created_at, updated_at) VALUES {};",
            rows.join(",")
        ))
        .expect("seed workspaces");
}

#[tokio::test]
async fn workspaces_list_search_and_paging_and_the_switchers_more_note_in_a_real_browser() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    seed_workspaces(&app, &acct, 60);
    let b = log_in(&app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/workspaces")))
        .await;
    b.wait_for_text("60 workspaces").await;
    mark(&b).await;
    b.click_link("Next").await;
    b.wait_for_text("Workspace 0059").await;
    assert!(!b.text().await.contains("Workspace 0009"));
    assert!(b.current_url().await.contains("after=ws-0049"));
    b.click_link("Previous").await;
    b.wait_for_text("Workspace 0000").await;
    // Search as one types.
    b.fill("Search workspaces", "space 005").await;
    b.wait_for_text("10 workspaces matching “space 005”").await;
    let text = b.text().await;
    assert!(text.contains("Workspace 0055") && !text.contains("Workspace 0044"));
    assert!(still_marked(&b).await, "the list changed without a reload");

    // The switcher: 50 shown of 60, with a link to the whole list.
    b.click_button("Switch workspace").await;
    b.wait_for_text("Showing the first 50").await;
    b.click_link("see all workspaces").await;
    b.wait_for_text("60 workspaces").await;
    b.close().await;
}

#[tokio::test]
async fn service_accounts_search_paging_and_manage_in_a_real_browser() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    for i in 0..55 {
        ana_http
            .post_form(
                &format!("/account/{acct}/service-accounts"),
                &[
                    ("name", format!("Bot {i:02}").as_str()),
                    ("expiration", ""),
                    ("workspace_id", "none"),
                    ("role_id", ""),
                ],
            )
            .await;
    }
    let b = log_in(&app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/service-accounts")))
        .await;
    b.wait_for_text("55 service accounts").await;
    mark(&b).await;
    b.click_link("Next").await;
    b.wait_for_text("Bot 54").await;
    assert!(!b.text().await.contains("Bot 10"));
    b.fill("Search service accounts", "bot 3").await;
    b.wait_for_text("10 service accounts matching “bot 3”")
        .await;
    b.click_link("Manage Bot 37").await;
    b.wait_for_text("Manage Bot 37").await;
    assert!(still_marked(&b).await, "no reload");
    b.fill("New name", "Deploy bot").await;
    b.click_button("Save name").await;
    b.wait_for_text("Renamed to “Deploy bot”.").await;
    b.close().await;
}

#[tokio::test]
async fn the_people_picker_is_chosen_with_the_keyboard_and_adds_the_member() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    let dash = create_ws(&ana_http, &acct, "Prod", "prod").await;
    let ada = app.signup("ada@example.com", "ada-c", PW).await;
    let r = ada
        .post_form("/profile", &[("first_name", "Ada"), ("last_name", "Coder")])
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK);
    add_member(&app, &acct, "ada-c", "member");
    // More members than the form lists in a <select>: the type-ahead field.
    seed_members(&app, &acct, 210);
    let b = log_in(&app, "ana").await;
    let base = dash.trim_end_matches("/dashboard");
    b.goto(&app.url(&format!("{base}/settings/members"))).await;
    b.fill("Account member", "coder").await;
    wait_until(
        &b,
        "the listbox opens with Ada",
        "var i = document.getElementById('add-user');
         var o = document.querySelectorAll('#add-user-options [role=option]');
         return i.getAttribute('aria-expanded') === 'true' && o.length === 1
             && o[0].getAttribute('data-value') === 'ada-c';",
        vec![],
    )
    .await;
    let input = b
        .client
        .active_element()
        .await
        .expect("the field has the focus");
    // ArrowDown, then Enter: the option is chosen (the form is not submitted).
    input.send_keys("\u{E015}").await.expect("arrow down");
    wait_until(
        &b,
        "the option is active",
        "var i = document.getElementById('add-user');
         var id = i.getAttribute('aria-activedescendant');
         return !!id && document.getElementById(id).getAttribute('aria-selected') === 'true';",
        vec![],
    )
    .await;
    input.send_keys("\u{E007}").await.expect("enter");
    wait_until(
        &b,
        "the field holds the handle and the list is closed",
        "var i = document.getElementById('add-user');
         return i.value === 'ada-c' && i.getAttribute('aria-expanded') === 'false';",
        vec![],
    )
    .await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_access wa JOIN users u ON u.id = wa.user_id WHERE u.handle = 'ada-c'"),
        0,
        "Enter chose; it did not submit"
    );
    b.click_button("Add member").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.count("SELECT COUNT(*) AS n FROM workspace_access wa JOIN users u ON u.id = wa.user_id WHERE u.handle = 'ada-c'") != 1 {
        assert!(Instant::now() < deadline, "ada-c was not added");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.close().await;
}
