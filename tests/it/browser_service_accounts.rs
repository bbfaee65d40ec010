//! Real Chromium: an Owner creates a service account with a workspace role, copies the key
//! from the one-time panel, sees only the mask afterwards, and rotates the key.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::api_keys::{api_get, is_key};
use crate::members::{PW, create_org};
use crate::support::browser::Browser;
use crate::support::spawn_app;
use crate::workspaces::create_ws;

/// The text of the element with `id`, once it exists.
async fn text_of(b: &Browser, id: &str) -> String {
    let v = b
        .client
        .execute(
            "var e = document.getElementById(arguments[0]); return e ? e.textContent.trim() : null;",
            vec![Value::String(id.into())],
        )
        .await
        .expect("read element");
    v.as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_owner_creates_copies_sees_only_the_mask_and_rotates_a_service_account_key() {
    let app = spawn_app().await;
    let ana_http = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana_http, "Acme", "acme").await;
    create_ws(&ana_http, &acct, "Production", "prod").await;

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_text("Production").await;
    b.goto(&app.url(&format!("/account/{acct}/service-accounts")))
        .await;
    b.fill("Service account name", "ci-bot").await;
    b.select("Workspace (optional)", "Production").await;
    b.select("Workspace role", "Developer").await;
    b.click_button("Create service account").await;
    b.wait_for_text("Copy this key now").await;

    // The one-time panel: the key, a copy button, the login command.
    let key = text_of(&b, "new-key").await;
    assert!(is_key(&key, "pnb_"), "{key:?}");
    assert_eq!(
        text_of(&b, "new-key-login").await,
        format!("prefect cloud login -k {key} --workspace acme/prod")
    );
    b.click_button("Copy the API key").await;
    // The button confirms (or, without clipboard access, selects the key for Ctrl+C).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let label = b
            .client
            .execute(
                "return document.querySelector('[data-copy=new-key]').textContent;",
                vec![],
            )
            .await
            .expect("button text");
        if matches!(label.as_str(), Some("Copied") | Some("Press Ctrl+C")) {
            break;
        }
        assert!(Instant::now() < deadline, "the copy button did not react");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The key works.
    let (status, body) = api_get(&app, &key, "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["workspace_handle"], "prod");

    // Afterwards only the mask is shown.
    b.goto(&app.url(&format!("/account/{acct}/service-accounts")))
        .await;
    b.wait_for_text(&format!("pnb_…{}", &key[36..])).await;
    let page = b.text().await;
    assert!(!page.contains(&key[4..]), "the key is not shown again");
    assert!(!page.contains("Copy this key now"));

    // Rotate: a new one-time panel with a different key; the old one stops at once.
    b.click_link("Manage ci-bot").await;
    b.click_button("Rotate now").await;
    b.click_button("Rotate the key").await; // the page's dialog asks first
    b.wait_for_text("the old key no longer works").await;
    let new_key = text_of(&b, "new-key").await;
    assert!(is_key(&new_key, "pnb_"), "{new_key:?}");
    assert_ne!(new_key, key);
    assert_eq!(
        api_get(&app, &key, "/api/me/workspaces").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api_get(&app, &new_key, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    b.close().await;
}
