//! Real Chromium: what an inline (htmx) change shows while it is in flight and when it
//! cannot be made (issue #24, point 4). While the change is sent its form is busy
//! (`aria-busy`, a spinner) and its controls disabled, so it is not sent twice; after the
//! session ended elsewhere, the change says "You were signed out" with a link to log in
//! that comes back to the page, and the row shows the saved role again, not the unsaved one.

use crate::members::{PW, add_member, create_org, role_in};
use crate::support::browser::Browser;
use crate::support::spawn_app;

#[tokio::test]
async fn an_inline_change_is_busy_in_flight_and_says_signed_out_after_the_session_ended() {
    let app = spawn_app().await;
    let owner = app.signup("owner@example.com", "owner", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("adam@example.com", "adam", PW).await;
    app.signup("sam@example.com", "sam", PW).await;
    add_member(&app, &acct, "adam", "admin");
    add_member(&app, &acct, "sam", "member");

    let admin = Browser::start().await;
    admin.goto(&app.url("/auth/login")).await;
    admin.fill("E-mail or handle", "adam").await;
    admin.fill("Password", PW).await;
    admin.click_button("Log in").await;
    admin.wait_for_url(|u| !u.contains("/auth/login")).await;
    let members = format!("/account/{acct}/members");
    admin.goto(&app.url(&members)).await;
    admin.wait_for_text("sam").await;

    // In flight: what the form looks like when the request leaves (htmx:beforeSend comes
    // after Atrium's htmx:beforeRequest handler).
    admin
        .client
        .execute(
            "document.addEventListener('htmx:beforeSend', function (e) {
               var f = e.detail.elt.closest('form');
               window.__inFlight = { busy: f && f.getAttribute('aria-busy'),
                                     disabled: !!(f && f.querySelector('select').disabled) };
             });
             return null;",
            vec![],
        )
        .await
        .expect("listen");
    admin.select("Role of sam", "Admin").await;
    admin.wait_for_text("Role saved.").await;
    let seen = admin
        .client
        .execute("return window.__inFlight || null;", vec![])
        .await
        .expect("read");
    assert_eq!(
        seen,
        serde_json::json!({ "busy": "true", "disabled": true }),
        "the form while its change was in flight"
    );
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("admin"));
    let after = admin
        .client
        .execute(
            "var s = document.querySelector('select[aria-label=\"Role of sam\"]');
             return { disabled: s.disabled, busy: s.form.getAttribute('aria-busy') };",
            vec![],
        )
        .await
        .expect("read");
    assert_eq!(
        after,
        serde_json::json!({ "disabled": false, "busy": null }),
        "the row once saved"
    );

    // Adam ends his other sessions from another device: the browser's session ends.
    let phone = crate::sessions_page::log_in_with(&app, "adam", "a phone").await;
    let r = phone.post_form("/profile/sessions/end-others", &[]).await;
    assert!(r.status.is_success(), "{}", r.text);

    // The browser's next inline change is not made and says why, with a way back.
    admin.select_once("Role of sam", "Member").await;
    admin.wait_for_text("You were signed out").await;
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("admin"));
    let state = admin
        .client
        .execute(
            "var s = document.querySelector('select[aria-label=\"Role of sam\"]');
             var a = Array.prototype.find.call(document.querySelectorAll('#flash a'),
                                               function (a) { return a.textContent.trim() === 'Log in'; });
             return { role: s.options[s.selectedIndex].text, disabled: s.disabled,
                      login: a ? a.getAttribute('href') : null,
                      alert: document.querySelector('#flash [role=alert]') !== null };",
            vec![],
        )
        .await
        .expect("read");
    let login = format!(
        "/auth/login?next={}",
        url::form_urlencoded::byte_serialize(members.as_bytes()).collect::<String>()
    );
    assert_eq!(
        state,
        serde_json::json!({ "role": "Admin", "disabled": false, "login": login, "alert": true }),
        "after the refused change"
    );

    // The link logs in and comes back to the page.
    admin.click_link("Log in").await;
    admin.wait_for_url(|u| u.contains("/auth/login")).await;
    admin.fill("E-mail or handle", "adam").await;
    admin.fill("Password", PW).await;
    admin.click_button("Log in").await;
    admin.wait_for_url(|u| u.ends_with(&members)).await;
    admin.close().await;
}

/// The script that reads the `#flash` region: its text and whether it is a status line.
const FLASH: &str = "var f = document.querySelector('#flash [role=status]');
                     return f ? f.textContent.trim() : null;";

/// Every action says what it did, in one place (`#flash`, a status line announced by
/// screen readers), whether it redirected or answered htmx (issue #24, point 3); a row's
/// "Role saved." is in the success colour; the member count follows a removal.
#[tokio::test]
async fn every_action_says_what_it_did_in_one_status_line() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("sam@example.com", "sam", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "sam", "member");
    add_member(&app, &acct, "bo", "member");

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    let flash = || async {
        b.client
            .execute(FLASH, vec![])
            .await
            .expect("read the flash region")
    };

    // Creating an organization, then a workspace: each page says so once.
    b.goto(&app.url("/accounts/new")).await;
    b.fill("Name", "Beta Org").await;
    b.fill("Handle", "beta").await;
    b.click_button("Create organization").await;
    b.wait_for_text("Organization “Beta Org” created.").await;
    assert_eq!(
        flash().await,
        serde_json::json!("Organization “Beta Org” created. You are its Owner.")
    );
    b.goto(&app.url(&format!("/account/{acct}/workspaces")))
        .await;
    assert_eq!(flash().await, serde_json::Value::Null, "shown once");
    b.fill("Workspace name", "Research").await;
    b.click_button("Create workspace").await;
    b.wait_for_text("Workspace “Research” created.").await;

    // A custom role.
    b.goto(&app.url(&format!("/account/{acct}/roles/new")))
        .await;
    b.fill("Role name", "Lead").await;
    b.select("Inherit from built-in role", "Developer").await;
    b.click_button("Save role").await;
    b.wait_for_text("Role “Lead” saved.").await;

    // Members: an inline role change says so in the success colour; a removal (htmx)
    // says so in the status line and the count follows.
    let members = format!("/account/{acct}/members");
    b.goto(&app.url(&members)).await;
    b.wait_for_text("3 members").await;
    b.select("Role of bo", "Admin").await;
    b.wait_for_text("Role saved.").await;
    let colour = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('.row-message')).color;",
            vec![],
        )
        .await
        .expect("colour");
    assert_eq!(
        colour,
        serde_json::json!("rgb(22, 101, 52)"),
        "--success-text"
    );
    b.client
        .execute("window.__notReloaded = 42; return null;", vec![])
        .await
        .expect("mark");
    b.click_button("Remove sam").await;
    b.click_button("Remove member").await;
    b.wait_for_text("2 members").await;
    assert_eq!(flash().await, serde_json::json!("Member removed."));
    let marker = b
        .client
        .execute("return window.__notReloaded || null;", vec![])
        .await
        .expect("marker");
    assert_eq!(marker, serde_json::json!(42), "the page was not reloaded");
    assert!(role_in(&app, &acct, "sam").is_none());

    // An invitation, revoked.
    b.fill("E-mail addresses", "zed@example.com").await;
    b.select("Role", "Member").await;
    b.click_button("Send invitations").await;
    b.wait_for_text("zed@example.com: Invitation sent.").await;
    b.goto(&app.url(&format!("{members}/invitations"))).await;
    b.click_button("Revoke invitation to zed@example.com").await;
    b.wait_for_text("Invitation revoked: its link no longer works.")
        .await;

    // Deleting the workspace.
    let ws: String = crate::support::text(
        &app,
        "SELECT id AS t FROM workspaces WHERE handle = 'research'",
    );
    b.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/settings")))
        .await;
    b.fill("Type research to confirm", "research").await;
    b.click_button("Delete workspace").await;
    b.wait_for_text("Workspace “Research” deleted.").await;
    b.close().await;
}
