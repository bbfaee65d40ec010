//! In a real browser (issue: transfer and delete): delete through the three-dot menu with
//! the typed confirmation, and a transfer to an account where the user is Admin, reading
//! the htmx preview first.

use crate::members::{PW, add_member, create_org};
use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app};
use crate::workspaces::{VIEWER, create_ws, grant};

async fn logged_in(app: &TestApp, handle: &str) -> Browser {
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", handle).await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    b
}

#[tokio::test]
async fn delete_through_the_menu_needs_the_typed_handle() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let dash = create_ws(&ana, &acme, "Production", "prod").await;
    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&dash.replace("/dashboard", "/settings")))
        .await;
    b.click_button("More workspace actions").await;
    b.click_link("Delete workspace").await;
    let disabled = |b: &Browser| {
        let c = b.client.clone();
        async move {
            c.execute(
                "return document.getElementById('confirm-dialog-ok').disabled;",
                vec![],
            )
            .await
            .expect("script")
        }
    };
    b.fill("Type prod to confirm", "pro").await;
    assert_eq!(
        disabled(&b).await,
        serde_json::Value::Bool(true),
        "disabled until it matches"
    );
    b.fill("Type prod to confirm", "prod").await;
    assert_eq!(disabled(&b).await, serde_json::Value::Bool(false));
    b.click_button("Delete workspace").await;
    b.wait_for_url(|u| u.ends_with(&format!("/account/{acme}/workspaces")))
        .await;
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 0);
    b.close().await;
}

#[tokio::test]
async fn transfer_to_an_account_where_the_user_is_admin_after_reading_the_preview() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let gil = app.signup("gil@example.com", "gil", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let beta = create_org(&gil, "Beta", "beta").await;
    create_ws(&gil, &beta, "Beta prod", "prod").await;
    add_member(&app, &beta, "ana", "admin");
    add_member(&app, &acme, "bo", "member");
    let dash = create_ws(&ana, &acme, "Production", "prod").await;
    let ws = dash.split('/').nth(4).expect("id").to_string();
    grant(&app, &ws, "bo", VIEWER);

    let b = logged_in(&app, "ana").await;
    b.goto(&app.url(&dash.replace("/dashboard", "/settings")))
        .await;
    b.click_button("More workspace actions").await;
    b.click_link("Transfer workspace").await;
    b.wait_for_text("Choose a target account to see what changes.")
        .await;
    b.select("Target account", "Beta (beta)").await;
    // The preview arrives through htmx: who loses access, and the handle conflict.
    b.wait_for_text("bo is not a member of Beta: loses access.")
        .await;
    b.wait_for_text("already taken there; choose a new handle")
        .await;
    b.fill("New handle (only if prod is taken in the target)", "prod-a")
        .await;
    b.wait_for_text("Handle in Beta: prod-a").await;
    b.click_button("Transfer workspace").await;
    // The page's dialog asks first (issue #24, point 1).
    b.click_button("Transfer now").await;
    b.wait_for_url(|u| u.contains(&format!("/account/{beta}/workspace/{ws}/settings")))
        .await;
    b.wait_for_text("now belongs to Beta").await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{ws}' AND account_id = '{beta}' AND handle = 'prod-a'"
        )),
        1
    );
    b.close().await;
}
