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
    b.wait_for_url(|u| u.ends_with("/members")).await;
    b.wait_for_text("Beta Org").await;
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

#[tokio::test]
async fn inline_workspace_role_default_no_access_and_a_custom_role_in_a_real_browser() {
    use crate::members::{add_member, create_org};
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    let dash = crate::workspaces::create_ws(&ana_http, &acct, "Production", "prod").await;
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");

    let ana = Browser::start().await;
    ana.goto(&app.url("/auth/login")).await;
    ana.fill("E-mail or handle", "ana").await;
    ana.fill("Password", PW).await;
    ana.click_button("Log in").await;
    ana.wait_for_text("Production").await;

    // A custom role that inherits Developer and adds manage_workspace_users.
    ana.goto(&app.url(&format!("/account/{acct}/roles/new")))
        .await;
    ana.fill("Role name", "Lead").await;
    ana.select("Inherit from built-in role", "Developer").await;
    ana.wait_for_text("(inherited)").await;
    assert!(
        ana.text().await.contains("Audit log"),
        "only the scope picker was swapped, the page shell stays"
    );
    ana.client
        .execute(
            "document.querySelector('input[value=manage_workspace_users]').click(); return null;",
            vec![],
        )
        .await
        .expect("tick scope");
    ana.click_button("Save role").await;
    ana.wait_for_text("Custom workspace roles").await;
    ana.wait_for_text("Lead").await;

    // Add bo as Viewer, then change the role inline to Lead.
    let panel = dash.replace("/dashboard", "/settings/members");
    ana.goto(&app.url(&panel)).await;
    ana.select("Account member", "bo").await;
    ana.select("Workspace role", "Viewer").await;
    ana.click_button("Add member").await;
    ana.wait_for_text("Members with a role here").await;
    ana.select("Workspace role of bo", "Lead").await;
    ana.wait_for_text("Role saved.").await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_access a JOIN workspace_roles r ON r.id = a.role_id WHERE r.name = 'Lead'"),
        1
    );

    // bo sees the workspace in the switcher through the default role; No Access takes it away.
    ana.goto(&app.url(&dash.replace("/dashboard", "/settings")))
        .await;
    ana.select("Anyone at Acme", "Viewer").await;
    ana.click_button("Save settings").await;
    ana.wait_for_text("Workspace settings saved.").await;
    let bo_id = crate::members::user_id(&app, "bo");
    ana.goto(&app.url(&panel)).await;
    ana.click_button("Remove bo from the workspace").await;
    ana.click_button("Remove from workspace").await; // the page's dialog asks first
    // The row goes away when the server has removed the access (htmx swaps it out).
    let sql = format!("SELECT COUNT(*) AS n FROM workspace_access WHERE user_id = '{bo_id}'");
    for _ in 0..100 {
        if app.count(&sql) == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE user_id = '{bo_id}'"
        )),
        0
    );

    let bo = Browser::start().await;
    bo.goto(&app.url("/auth/login")).await;
    bo.fill("E-mail or handle", "bo").await;
    bo.fill("Password", PW).await;
    bo.click_button("Log in").await;
    bo.goto(&app.url(&format!("/account/{acct}/members"))).await;
    bo.click_button("Switch workspace").await;
    bo.wait_for_text("Production").await;

    ana.goto(&app.url(&dash.replace("/dashboard", "/settings")))
        .await;
    ana.select("Anyone at Acme", "No Access").await;
    ana.click_button("Save settings").await;
    ana.wait_for_text("Workspace settings saved.").await;

    bo.goto(&app.url(&format!("/account/{acct}/members"))).await;
    bo.click_button("Switch workspace").await;
    bo.wait_for_text("No workspaces yet.").await;
    assert!(!bo.text().await.contains("Production"));
    ana.close().await;
    bo.close().await;
}
