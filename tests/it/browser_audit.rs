//! Real Chromium on the audit log: filter by action and by workspace (htmx swaps the
//! results and pushes the URL), then page forward and back.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::audit_log::seed;
use crate::members::{PW, create_org, user_id};
use crate::support::browser::Browser;
use crate::support::spawn_app;
use crate::workspaces::create_ws;

/// The texts of the result rows shown now.
async fn rows(b: &Browser) -> Vec<String> {
    let v = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#audit-results tbody tr')).map(function (r) { return r.innerText; });",
            vec![],
        )
        .await
        .expect("read rows");
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the rows satisfy `pred` (the page changed, not text already there).
async fn wait_rows(b: &Browser, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = rows(b).await;
        if pred(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: rows are now {} ({:?}…)",
            r.len(),
            r.first()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ws_of(dashboard: &str) -> String {
    dashboard.split('/').nth(4).expect("workspace id").into()
}

#[tokio::test]
async fn an_admin_filters_the_log_by_action_and_workspace_and_pages_forward_and_back() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let prod = ws_of(&create_ws(&ana, &acct, "Production", "prod").await);
    let dev = ws_of(&create_ws(&ana, &acct, "Development", "dev").await);
    let ana_id = user_id(&app, "ana");
    let revoked = "atrium.workspace_access.revoked";
    seed(&app, &acct, Some(&prod), revoked, (&ana_id, "Ana"), 60);
    seed(&app, &acct, Some(&dev), revoked, (&ana_id, "Ana"), 10);
    seed(
        &app,
        &acct,
        Some(&prod),
        "atrium.role.created",
        (&ana_id, "Ana"),
        30,
    );

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| u.ends_with("/dashboard")).await;
    b.goto(&app.url(&format!("/account/{acct}/audit-log")))
        .await;
    let all = wait_rows(&b, "first page", |r| r.len() == 50).await;
    assert!(all[0].contains("created the role"), "{}", all[0]);

    // Action: the results change in place and the URL follows.
    b.select("Action", "Access removed").await;
    b.wait_for_url(|u| u.contains("action=atrium.workspace_access.revoked"))
        .await;
    let r = wait_rows(&b, "filtered by action", |r| {
        r.len() == 50 && r.iter().all(|t| t.contains("access to workspace"))
    })
    .await;
    assert!(r[0].contains("target9"), "newest first: {}", r[0]);

    // Workspace: 60 events in Production.
    b.select("Workspace", "Production").await;
    b.wait_for_url(|u| u.contains(&format!("workspace={prod}")))
        .await;
    let page1 = wait_rows(&b, "filtered by workspace", |r| {
        r.len() == 50 && r[0].contains("target59")
    })
    .await;
    assert!(page1.iter().all(|t| t.contains("workspace Production")));

    // Forward: the 10 oldest.
    b.click_link("Older events").await;
    let page2 = wait_rows(&b, "page 2", |r| r.len() == 10).await;
    assert!(page2[0].contains("target9"));
    assert!(page2[9].contains("target0"));
    assert!(b.current_url().await.contains("before="));
    assert_eq!(
        b.client
            .execute("return document.getElementById('workspace').value;", vec![])
            .await
            .expect("filter value"),
        Value::String(prod.clone()),
        "the filter is kept"
    );

    // Back: page 1 again.
    b.click_link("Newer events").await;
    let back = wait_rows(&b, "page 1 again", |r| r.len() == 50).await;
    assert_eq!(back, page1);
    assert!(b.current_url().await.contains("after="));

    // The raw event opens on demand.
    b.client
        .execute(
            "document.querySelector('#audit-results details.raw-event summary').click();",
            vec![],
        )
        .await
        .expect("open raw event");
    b.wait_for_text("\"event\": \"atrium.workspace_access.revoked\"")
        .await;
    b.close().await;
}
