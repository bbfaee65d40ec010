//! Real Chromium: the first workspace from onboarding (handle suggested as you type), a
//! second account and workspace, and switching between them with the switcher's filter.

use crate::members::PW;
use crate::support::browser::Browser;
use crate::support::spawn_app;

#[tokio::test]
async fn create_from_onboarding_and_switch_between_workspaces_of_two_accounts() {
    let app = spawn_app().await;
    let b = Browser::start().await;
    b.goto(&app.url("/auth/signup")).await;
    b.fill("E-mail", "ana@example.com").await;
    b.fill("First name", "Ana").await;
    b.fill("Handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Sign up").await;
    b.wait_for_text("Create your first workspace").await;
    b.fill("Workspace name", "Production Flows").await;
    let handle = b
        .client
        .execute("return document.getElementById('ws-handle').value;", vec![])
        .await
        .expect("read handle");
    assert_eq!(
        handle,
        serde_json::json!("production-flows"),
        "handle suggested from the name"
    );
    b.click_button("Create workspace").await;
    b.wait_for_text("ana/production-flows").await;

    // A second account with its own workspace.
    b.goto(&app.url("/accounts/new")).await;
    b.fill("Name", "Beta Org").await;
    b.fill("Handle", "beta").await;
    b.click_button("Create organization").await;
    b.wait_for_text("Members").await;
    b.click_link("Workspaces").await;
    b.fill("Workspace name", "Research").await;
    b.click_button("Create workspace").await;
    b.wait_for_text("beta/research").await;

    // Switch back with the switcher, typing in its filter.
    b.click_button("Switch workspace").await;
    b.fill("Find a workspace", "produ").await;
    b.wait_for_text("Production Flows").await;
    b.click_link("Production Flows").await;
    b.wait_for_text("ana/production-flows").await;
    assert!(b.current_url().await.ends_with("/dashboard"));
    b.close().await;
}
