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
    // An organization with members, invitations, a workspace, a service account, a
    // custom role and audit events (the accessibility test's).
    let crate::browser_axe::Org { acct, ws, sa, role } =
        crate::browser_axe::populated_org(&app).await;
    for i in 0..8 {
        let h = format!("member{i}");
        app.signup(&format!("{h}@example.com"), &h, PW).await;
        add_member(&app, &acct, &h, if i % 3 == 0 { "admin" } else { "member" });
    }
    let ana = crate::sessions_page::log_in_with(&app, "ana", "a laptop").await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[
            ("emails", "x@example.com, bad, y@example.com"),
            ("role", "member"),
        ],
    )
    .await;
    let sizes = [(1366, 850, "laptop"), (390, 844, "phone")];
    let b = Browser::start().await;
    for (name, path) in [
        ("login", "/auth/login"),
        ("signup", "/auth/signup"),
        ("forgot", "/auth/forgot"),
    ] {
        for (w, h, tag) in sizes {
            b.client.set_window_size(w, h).await.expect("size");
            b.goto(&app.url(path)).await;
            b.screenshot(&out.join(format!("{name}-{tag}.png"))).await;
        }
    }
    b.client.set_window_size(1366, 850).await.expect("size");
    crate::browser_axe::log_in(&b, &app, "ana").await;
    let a = format!("/account/{acct}");
    let w = format!("{a}/workspace/{ws}");
    let pages = [
        ("onboarding", "/onboarding".to_string()),
        ("members", format!("{a}/members")),
        ("invitations", format!("{a}/members/invitations")),
        ("roles", format!("{a}/roles")),
        ("role-form", format!("{a}/roles/new")),
        ("role-edit", format!("{a}/roles/{role}/edit")),
        ("service-accounts", format!("{a}/service-accounts")),
        ("service-account", format!("{a}/service-accounts/{sa}")),
        ("teams", format!("{a}/teams")),
        ("workspaces", format!("{a}/workspaces")),
        ("ws-dashboard", format!("{w}/dashboard")),
        ("ws-settings", format!("{w}/settings")),
        ("ws-members", format!("{w}/settings/members")),
        (
            "ws-service-accounts",
            format!("{w}/settings/service-accounts"),
        ),
        ("settings", format!("{a}/settings")),
        ("audit-log", format!("{a}/audit-log")),
        ("transfers", format!("{a}/transfers")),
        ("sso", format!("{a}/settings/sso")),
        ("profile", "/profile".to_string()),
        ("api-keys", "/profile/api-keys".to_string()),
        ("sessions", "/profile/sessions".to_string()),
        ("two-factor", "/profile/two-factor".to_string()),
        ("notfound", "/nothing/here".to_string()),
    ];
    for (width, height, tag) in sizes {
        b.client.set_window_size(width, height).await.expect("size");
        for (name, path) in &pages {
            b.goto(&app.url(path)).await;
            b.screenshot(&out.join(format!("{name}-{tag}.png"))).await;
            // The first table too (the rows as cards on a phone).
            let table = b
                .client
                .execute(
                    "var t = document.querySelector('main table');
                     if (!t) return false; t.scrollIntoView(); return true;",
                    vec![],
                )
                .await
                .expect("scroll");
            if table == serde_json::json!(true) {
                b.screenshot(&out.join(format!("{name}-table-{tag}.png")))
                    .await;
            }
        }
        // The audit log with a raw event open (the JSON wraps inside its cell).
        b.goto(&app.url(&format!("{a}/audit-log"))).await;
        b.client
            .execute(
                "var d = document.querySelector('details.raw-event'); if (d) d.open = true; return null;",
                vec![],
            )
            .await
            .expect("open a raw event");
        b.screenshot(&out.join(format!("audit-raw-{tag}.png")))
            .await;
        // The switcher and the user menu open.
        b.goto(&app.url(&format!("{w}/dashboard"))).await;
        b.click_button("Switch workspace").await;
        b.wait_for_text("Create organization").await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        b.screenshot(&out.join(format!("switcher-open-{tag}.png")))
            .await;
        // A confirmation dialog open (the page's one <dialog>): a member row's Remove
        // link opens it.
        b.goto(&app.url(&format!("{a}/members"))).await;
        b.click_link("Remove sam").await;
        b.wait_for_text("from this account?").await;
        // After its opening animation (0.16 s).
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        b.screenshot(&out.join(format!("dialog-open-{tag}.png")))
            .await;
    }
    // The phone menu open.
    b.client.set_window_size(390, 844).await.expect("size");
    for (name, path) in [
        ("menu-open", format!("{a}/members")),
        ("menu-open-workspace", format!("{w}/settings/members")),
    ] {
        b.goto(&app.url(&path)).await;
        b.click_button("Menu").await;
        b.screenshot(&out.join(format!("{name}-phone.png"))).await;
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
