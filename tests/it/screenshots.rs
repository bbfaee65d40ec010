//! Not a check: `cargo test --test it screenshots -- --ignored` saves PNGs of the main
//! pages (laptop and phone widths) to `$ATRIUM_SCREENSHOTS` (default /tmp/atrium-shots),
//! to look at the UI after a change.

use crate::members::{PW, add_member, create_org};
use crate::support::browser::Browser;
use crate::support::spawn_app;

#[tokio::test]
#[ignore]
async fn screenshots() {
    let out = std::path::PathBuf::from(
        std::env::var("ATRIUM_SCREENSHOTS").unwrap_or_else(|_| "/tmp/atrium-shots".into()),
    );
    std::fs::create_dir_all(&out).expect("dir");
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme Data", "acme").await;
    for i in 0..8 {
        let h = format!("member{i}");
        app.signup(&format!("{h}@example.com"), &h, PW).await;
        add_member(&app, &acct, &h, if i % 3 == 0 { "admin" } else { "member" });
    }
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[
            ("emails", "x@example.com, bad, y@example.com"),
            ("role", "member"),
        ],
    )
    .await;
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    for (w, h, tag) in [(1366, 900, "laptop"), (390, 844, "phone")] {
        b.client.set_window_size(w, h).await.expect("size");
        b.goto(&app.url("/auth/login")).await;
        b.screenshot(&out.join(format!("login-{tag}.png"))).await;
    }
    b.client.set_window_size(1366, 900).await.expect("size");
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_text("Welcome").await;
    for (w, h, tag) in [(1366, 900, "laptop"), (390, 844, "phone")] {
        b.client.set_window_size(w, h).await.expect("size");
        for (name, path) in [
            ("onboarding", "/onboarding".to_string()),
            ("members", format!("/account/{acct}/members")),
            (
                "invitations",
                format!("/account/{acct}/members/invitations"),
            ),
            ("settings", format!("/account/{acct}/settings")),
            ("profile", "/profile".to_string()),
            ("notfound", "/nothing/here".to_string()),
        ] {
            b.goto(&app.url(&path)).await;
            b.screenshot(&out.join(format!("{name}-{tag}.png"))).await;
        }
    }
    b.close().await;
}

/// Prefect's UI in a workspace (issue #23), at both widths: the runs list, a flow run with
/// its logs (the page the CLI links to), flows, deployments and work pools.
#[tokio::test]
#[ignore]
async fn prefect_ui_screenshots() {
    use serde_json::json;
    let out = std::path::PathBuf::from(
        std::env::var("ATRIUM_SCREENSHOTS").unwrap_or_else(|_| "/tmp/atrium-shots".into()),
    );
    std::fs::create_dir_all(&out).expect("dir");
    let Some(server) = crate::support::prefect::server(0).await else {
        return;
    };
    let Some(app) = crate::prefect_ui::ui_app().await else {
        return;
    };
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme Data", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&ana, &acct, "Production", "prod").await,
    );
    crate::gateway::connect(&ana, &acct, &ws, server).await;
    let api = format!("{}/api/accounts/{acct}/workspaces/{ws}", app.base);
    let key = crate::gateway::user_key(&app, "ana");
    let (_, flow) = crate::gateway::call(
        reqwest::Method::POST,
        &format!("{api}/flows/"),
        &key,
        Some(json!({ "name": "nightly-etl" })),
    )
    .await;
    let (_, run) = crate::gateway::call(
        reqwest::Method::POST,
        &format!("{api}/flow_runs/"),
        &key,
        Some(json!({ "flow_id": flow["id"], "name": "shiny-otter" })),
    )
    .await;
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    crate::gateway::call(
        reqwest::Method::POST,
        &format!("{api}/logs/"),
        &key,
        Some(
            json!([{ "name": "prefect.flow_runs", "level": 20, "message": "Loaded 1,204 rows",
            "timestamp": chrono::Utc::now().to_rfc3339(), "flow_run_id": run_id }]),
        ),
    )
    .await;
    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    let base = format!("/account/{acct}/workspace/{ws}");
    for (w, h, tag) in [(1366, 900, "laptop"), (390, 844, "phone")] {
        b.client.set_window_size(w, h).await.expect("size");
        for (name, path) in [
            ("ui-runs", format!("{base}/runs")),
            ("ui-flow-run", format!("{base}/runs/flow-run/{run_id}")),
            ("ui-flows", format!("{base}/flows")),
            ("ui-deployments", format!("{base}/deployments")),
            ("ui-work-pools", format!("{base}/work-pools")),
        ] {
            b.goto(&app.url(&path)).await;
            // The UI renders after its calls: give it a moment.
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            b.screenshot(&out.join(format!("{name}-{tag}.png"))).await;
        }
    }
    b.close().await;
}
