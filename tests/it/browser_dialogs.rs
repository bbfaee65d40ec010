//! Real Chromium: one accessible dialog confirms every destructive action (issue #24,
//! point 1). The page's one `<dialog>` opens as a modal (role dialog, named by its
//! question), focus moves into it and Tab stays there; Escape and Cancel close it and
//! change nothing, focus going back to the control that opened it; its confirm button does
//! the action. Without JavaScript the same actions still ask first (a confirmation page or a
//! panel), which the plain-HTTP test at the end checks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::members::{PW, add_member, create_org, role_in, user_id};
use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app};

const ESCAPE: &str = "\u{E00C}";
const TAB: &str = "\u{E004}";

async fn logged_in(app: &TestApp, who: &str) -> Browser {
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", who).await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    b
}

/// The open modal dialog: its role, accessible name (what `aria-labelledby` points at) and
/// whether focus is inside it; `null` when none is open.
const DIALOG: &str = "var d = document.querySelector('dialog[open]');
  if (!d) return null;
  var by = d.getAttribute('aria-labelledby');
  var name = by ? by.split(/\\s+/).map(function (id) { var e = document.getElementById(id); return e ? e.textContent.trim() : ''; }).join(' ') : (d.getAttribute('aria-label') || '');
  return { role: d.getAttribute('role') || 'dialog', name: name, modal: d.matches(':modal'),
           focusInside: d.contains(document.activeElement) };";

/// The focused element's accessible name (aria-label, else its text).
const FOCUSED: &str = "var a = document.activeElement;
  return a ? (a.getAttribute('aria-label') || a.textContent.trim()) : null;";

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.expect("script")
}

/// Keys sent to the focused element, as a keyboard user presses them.
async fn press(b: &Browser, keys: &str) {
    let el = b.client.active_element().await.expect("focused element");
    el.send_keys(keys).await.expect("keys");
}

/// Polls until the dialog's state (the `DIALOG` script) is `want`.
async fn dialog_is(b: &Browser, want: Value, what: &str) {
    let mut last = Value::Null;
    for _ in 0..50 {
        last = js(b, DIALOG).await;
        if last == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: the dialog is {last}, not {want}");
}

/// Polls until the focused element (the `FOCUSED` script) is `want`: the dialog's `close`
/// event, which gives the focus back, is dispatched after the dialog has closed.
async fn focus_is(b: &Browser, want: &str, what: &str) {
    let mut last = Value::Null;
    for _ in 0..50 {
        last = js(b, FOCUSED).await;
        if last == json!(want) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: the focus is on {last}, not {want:?}");
}

fn open(name: &str) -> Value {
    json!({ "role": "dialog", "name": name, "modal": true, "focusInside": true })
}

/// Opens with `open_it`, then: Escape closes and focus returns to `opener`; Tab stays
/// inside; Cancel closes and focus returns. `unchanged` is checked after each close.
async fn escape_and_cancel_change_nothing<F, Fut>(
    b: &Browser,
    open_it: F,
    question: &str,
    opener: &str,
    unchanged: &dyn Fn() -> bool,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    open_it().await;
    dialog_is(b, open(question), "opened").await;
    press(b, ESCAPE).await;
    dialog_is(b, Value::Null, "after Escape").await;
    assert!(unchanged(), "Escape changed nothing ({question})");
    focus_is(b, opener, "focus back after Escape").await;

    open_it().await;
    dialog_is(b, open(question), "opened again").await;
    for i in 0..5 {
        press(b, TAB).await;
        let st = js(b, DIALOG).await;
        assert_eq!(
            st["focusInside"],
            json!(true),
            "Tab #{i} stays in the dialog"
        );
    }
    b.click_button("Cancel").await;
    dialog_is(b, Value::Null, "after Cancel").await;
    assert!(unchanged(), "Cancel changed nothing ({question})");
    focus_is(b, opener, "focus back after Cancel").await;
}

#[tokio::test]
async fn removing_a_member_and_leaving_ask_in_the_dialog() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    app.signup("sam@example.com", "sam", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "sam", "member");
    add_member(&app, &acct, "bo", "member");

    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/members"))).await;
    let still_there = || role_in(&app, &acct, "sam").is_some();
    escape_and_cancel_change_nothing(
        &b,
        || b.click_link("Remove sam"),
        "Remove Test sam (sam@example.com) from this account?",
        "Remove sam",
        &still_there,
    )
    .await;
    b.click_link("Remove sam").await;
    dialog_is(
        &b,
        open("Remove Test sam (sam@example.com) from this account?"),
        "opened",
    )
    .await;
    b.click_button("Remove member").await;
    b.wait_for_text("Member removed.").await;
    dialog_is(&b, Value::Null, "after the removal").await;
    assert!(role_in(&app, &acct, "sam").is_none());
    assert!(role_in(&app, &acct, "bo").is_some());
    b.close().await;

    // bo leaves Acme.
    let b = logged_in(&app, "bo").await;
    b.goto(&app.url(&format!("/account/{acct}/members"))).await;
    let member = || role_in(&app, &acct, "bo").is_some();
    escape_and_cancel_change_nothing(
        &b,
        || b.click_button("Leave account"),
        "Leave Acme?",
        "Leave account",
        &member,
    )
    .await;
    b.click_button("Leave account").await;
    b.click_button("Leave Acme").await;
    b.wait_for_url(|u| !u.contains("/members")).await;
    assert!(role_in(&app, &acct, "bo").is_none());
    b.close().await;
}

#[tokio::test]
async fn deleting_a_custom_role_and_revoking_an_invitation_ask_first() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[
                ("name", "Lead"),
                ("description", ""),
                ("inherit", "developer"),
                ("scopes", "manage_workspace_users"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[("emails", "zed@example.com"), ("role", "member")],
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let roles = "SELECT COUNT(*) AS n FROM workspace_roles WHERE account_id IS NOT NULL";
    let revoked = "SELECT COUNT(*) AS n FROM invitations WHERE status = 'revoked'";
    assert_eq!(app.count(roles), 1);
    assert_eq!(app.count(revoked), 0);

    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/roles"))).await;
    escape_and_cancel_change_nothing(
        &b,
        || b.click_button("Delete Lead"),
        "Delete the role Lead?",
        "Delete Lead",
        &|| app.count(roles) == 1,
    )
    .await;
    b.click_button("Delete Lead").await;
    b.click_button("Delete role").await;
    b.wait_for_text("Role deleted.").await;
    assert_eq!(app.count(roles), 0);

    b.goto(&app.url(&format!("/account/{acct}/members/invitations")))
        .await;
    escape_and_cancel_change_nothing(
        &b,
        || b.click_button("Revoke invitation to zed@example.com"),
        "Revoke the invitation to zed@example.com?",
        "Revoke invitation to zed@example.com",
        &|| app.count(revoked) == 0,
    )
    .await;
    b.click_button("Revoke invitation to zed@example.com").await;
    b.click_button("Revoke invitation").await;
    b.wait_for_text("Invitation revoked: its link no longer works.")
        .await;
    assert_eq!(app.count(revoked), 1);
    b.close().await;
}

#[tokio::test]
async fn deleting_a_workspace_from_its_menu_asks_for_the_handle_in_the_dialog() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = crate::workspaces::create_ws(&ana, &acct, "Research", "research").await;
    let workspaces = "SELECT COUNT(*) AS n FROM workspaces";

    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&dash.replace("/dashboard", "/settings")))
        .await;
    // The three-dot menu's "Delete workspace" opens the dialog (not a scroll to the box).
    let from_menu = || async {
        b.click_button("More workspace actions").await;
        b.click_link("Delete workspace").await;
    };
    escape_and_cancel_change_nothing(
        &b,
        from_menu,
        "Delete the workspace Research?",
        "More workspace actions",
        &|| app.count(workspaces) == 1,
    )
    .await;
    let scrolled = js(&b, "return location.hash;").await;
    assert_eq!(scrolled, json!(""), "the menu item did not follow its link");

    // The box's button opens the same dialog; the handle typed there is required.
    b.click_button("Delete workspace…").await;
    dialog_is(&b, open("Delete the workspace Research?"), "from the box").await;
    let ok_disabled = "return document.getElementById('confirm-dialog-ok').disabled;";
    assert_eq!(js(&b, ok_disabled).await, json!(true), "nothing typed yet");
    b.fill("Type research to confirm", "researc").await;
    assert_eq!(js(&b, ok_disabled).await, json!(true), "not the handle");
    b.fill("Type research to confirm", "research").await;
    assert_eq!(js(&b, ok_disabled).await, json!(false), "the handle");
    b.click_button("Delete workspace").await;
    b.wait_for_text("Workspace “Research” deleted.").await;
    assert_eq!(app.count(workspaces), 0);
    b.close().await;
}

/// Without JavaScript every one of these actions still shows its question before it
/// happens: a member's "Remove" is a link to a confirmation page (the members page holds
/// no removal form), and the one-click forms sit in a `<details class="confirm">` panel.
#[tokio::test]
async fn without_javascript_destructive_actions_still_ask_first() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let sam = app.signup("sam@example.com", "sam", PW).await;
    add_member(&app, &acct, "sam", "member");
    let sam_id = user_id(&app, "sam");
    let remove = format!("/account/{acct}/members/{sam_id}/remove");

    let page = ana.get(&format!("/account/{acct}/members")).await;
    assert_eq!(page.status, StatusCode::OK);
    // The row's addresses are relative to the list page (`members/…`): a link, and a GET
    // form whose "Change" button opens the role's own page.
    assert!(
        page.text
            .contains(&format!("href=\"members/{sam_id}/remove\"")),
        "a link"
    );
    assert!(
        page.text
            .contains(&format!("<form action=\"members/{sam_id}/role\">"))
    );
    let role = ana
        .get(&format!("/account/{acct}/members/{sam_id}/role?role=Admin"))
        .await;
    assert_eq!(role.status, StatusCode::OK);
    assert!(
        role.text.contains("<option value=\"admin\" selected>"),
        "{}",
        role.text
    );
    assert!(
        role.text
            .contains(&format!("action=\"/account/{acct}/members/{sam_id}/role\""))
    );
    assert_eq!(
        role_in(&app, &acct, "sam").as_deref(),
        Some("member"),
        "asking changes nothing"
    );
    assert!(
        !page.text.contains(&format!("action=\"{remove}\"")),
        "no removal form on the list"
    );
    let confirm = ana.get(&remove).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm
            .text
            .contains("Remove Test sam (sam@example.com) from Acme?"),
        "{}",
        confirm.text
    );
    assert!(confirm.text.contains(&format!("action=\"{remove}\"")));
    assert!(
        role_in(&app, &acct, "sam").is_some(),
        "asking removes no one"
    );
    // A Member may not remove anyone: 403, as for the removal itself.
    assert_eq!(sam.get(&remove).await.status, StatusCode::FORBIDDEN);

    let r = ana.post_form(&remove, &[]).await;
    assert!(r.status.is_success() || r.status.is_redirection());
    assert!(role_in(&app, &acct, "sam").is_none());

    ana.post_form(
        &format!("/account/{acct}/roles/new"),
        &[
            ("name", "Lead"),
            ("description", ""),
            ("inherit", "developer"),
        ],
    )
    .await;
    let roles = ana.get(&format!("/account/{acct}/roles")).await;
    let lead = roles
        .text
        .split("<tr")
        .find(|r| r.contains("<td>Lead</td>"))
        .expect("the Lead row");
    assert!(lead.contains("<details class=\"confirm\">"), "{lead}");
    assert!(
        lead.contains("Delete the role <strong>Lead</strong>?"),
        "{lead}"
    );
}

/// The invitations' status filter works in place with htmx (the address follows it).
#[tokio::test]
async fn the_invitations_status_filter_updates_the_list_in_place() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[
            ("emails", "zed@example.com, kim@example.com"),
            ("role", "member"),
        ],
    )
    .await;
    let kim = crate::support::text(
        &app,
        "SELECT id AS t FROM invitations WHERE email = 'kim@example.com'",
    );
    ana.post_form(&format!("/account/{acct}/invitations/{kim}/revoke"), &[])
        .await;

    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/members/invitations")))
        .await;
    b.wait_for_text("kim@example.com").await;
    js(&b, "window.__notReloaded = 7; return null;").await;
    b.select("Status", "Revoked").await;
    b.wait_for_url(|u| u.contains("status=revoked")).await;
    for _ in 0..50 {
        if !b.text().await.contains("zed@example.com") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = b.text().await;
    assert!(
        text.contains("kim@example.com") && !text.contains("zed@example.com"),
        "{text}"
    );
    assert_eq!(
        js(&b, "return window.__notReloaded || null;").await,
        json!(7)
    );
    b.close().await;
}
