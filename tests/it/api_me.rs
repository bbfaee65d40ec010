//! The JSON API's authentication and `/api/me/…` (issue: service accounts, API keys and
//! the JSON API): key checks, 401 shapes, what a key reaches, the scope and permission
//! catalogs, the OpenAPI document, and the reference document's shapes.

use crate::support::ws_id;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::members::{PW, add_member, create_org, user_id};
use crate::support::reference::{assert_items_match_schema, assert_matches_schema};
use crate::support::{TestApp, spawn_app};
use crate::workspaces::{VIEWER, create_ws, set_default_role};

pub async fn api_get(app: &TestApp, key: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new().get(app.url(path));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    assert!(
        ct.starts_with("application/json"),
        "{path}: {status} answered {ct}: {text}"
    );
    (status, serde_json::from_str(&text).expect("JSON body"))
}

pub fn user_key(app: &TestApp, handle: &str) -> String {
    let uid = user_id(app, handle);
    atrium::apikeys::model::create_user_key(&mut app.conn(), &uid, "test", None)
        .expect("key")
        .1
}

const INVALID: &str = r#"{"detail":"Invalid authentication credentials"}"#;

#[tokio::test]
async fn missing_malformed_unknown_and_expired_keys_get_401_with_the_reference_detail() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let uid = user_id(&app, "ana");
    let past = atrium::db::now() - chrono::TimeDelta::minutes(1);
    let (_, expired) =
        atrium::apikeys::model::create_user_key(&mut app.conn(), &uid, "old", Some(past))
            .expect("key");
    let unknown = atrium::apikeys::generate("pnu_");
    for key in [
        None,
        Some("nonsense"),
        Some(unknown.as_str()),
        Some(expired.as_str()),
    ] {
        let (status, body) = api_get(&app, key, "/api/me/workspaces").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(body, serde_json::from_str::<Value>(INVALID).expect("json"));
    }
    // Other schemes and stray spaces do not authenticate either.
    let live = user_key(&app, "ana");
    let r = reqwest::Client::new()
        .get(app.url("/api/me/"))
        .header("Authorization", format!("Basic {live}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = api_get(&app, Some(&live), "/api/me/").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn failed_authentication_is_audited_at_most_once_a_minute_per_address() {
    let app = spawn_app().await;
    for _ in 0..20 {
        let (status, _) = api_get(&app, Some("pnu_wrong"), "/api/me/").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.api_key.authentication_failed'"
        ),
        1
    );
}

#[tokio::test]
async fn me_workspaces_lists_what_the_user_reaches_in_the_reference_shape() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let prod = create_ws(&ana, &acme, "Production", "prod").await;
    let _dev = create_ws(&ana, &acme, "Dev", "dev").await;
    add_member(&app, &acme, "bo", "member");
    set_default_role(&app, &prod, Some(VIEWER));

    let ana_key = user_key(&app, "ana");
    let (status, body) = api_get(&app, Some(&ana_key), "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert_items_match_schema(&body, "UserWorkspaceResponse");
    let mut handles: Vec<&str> = body
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w["workspace_handle"].as_str().expect("handle"))
        .collect();
    handles.sort();
    assert_eq!(handles, ["dev", "prod"]);
    let first = &body[0];
    assert_eq!(first["account_handle"], "acme");
    assert_eq!(first["account_id"], acme.as_str());
    assert!(first["workspace_description"].is_string());

    // Bo (a Member) reaches only the workspace whose default role is Viewer.
    let bo_key = user_key(&app, "bo");
    let (_, body) = api_get(&app, Some(&bo_key), "/api/me/workspaces").await;
    let ids: Vec<&str> = body
        .as_array()
        .expect("array")
        .iter()
        .map(|w| w["workspace_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [ws_id(&prod)]);

    // His scopes there are the Viewer's; on the other workspace it does not exist (404).
    let (status, scopes) = api_get(
        &app,
        Some(&bo_key),
        &format!("/api/me/workspaces/{}/scopes", ws_id(&prod)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let scopes: Vec<&str> = scopes
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(scopes.contains(&"see_flows"));
    assert!(!scopes.contains(&"manage_workspace_users"));
    let (status, _) = api_get(
        &app,
        Some(&bo_key),
        &format!("/api/me/workspaces/{}/scopes", ws_id(&_dev)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn me_and_me_accounts_follow_the_reference_document() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let key = user_key(&app, "ana");
    let (status, me) = api_get(&app, Some(&key), "/api/me/").await;
    assert_eq!(status, StatusCode::OK);
    assert_matches_schema(&me, "MeReadResponse");
    assert_eq!(me["handle"], "ana");
    assert_eq!(me["email"], "ana@example.com");
    assert!(me["personal_account_id"].is_string());

    let (status, accounts) = api_get(&app, Some(&key), "/api/me/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert_items_match_schema(&accounts, "UserAccountResponse");
    let acme_row = accounts
        .as_array()
        .expect("array")
        .iter()
        .find(|a| a["account_id"] == acme.as_str())
        .expect("acme listed");
    assert_eq!(acme_row["account_role_name"], "Owner");
    assert_eq!(acme_row["account_handle"], "acme");
}

#[tokio::test]
async fn the_scope_and_permission_catalogs_match_the_reference() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let key = user_key(&app, "ana");
    let (status, scopes) = api_get(&app, Some(&key), "/api/workspace_scopes").await;
    assert_eq!(status, StatusCode::OK);
    assert_items_match_schema(&scopes, "WorkspaceScope");
    assert_eq!(scopes.as_array().expect("array").len(), 61);
    let manage_flows = scopes
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["name"] == "manage_flows")
        .expect("manage_flows");
    assert_eq!(manage_flows["see_scope"], "see_flows");
    assert!(
        manage_flows["includes_scopes"]
            .as_array()
            .expect("includes")
            .contains(&Value::from("run_flows"))
    );
    let (status, perms) = api_get(&app, Some(&key), "/api/accounts/permissions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(perms.as_array().expect("array").len(), 47);
    assert_items_match_schema(&perms, "AccountPermission");
}

#[tokio::test]
async fn unknown_api_paths_answer_404_in_json_and_the_openapi_document_is_served() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let key = user_key(&app, "ana");
    let (status, body) = api_get(&app, Some(&key), "/api/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["detail"].is_string());
    let (status, doc) = api_get(&app, None, "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    for path in [
        "/api/me/",
        "/api/me/workspaces",
        "/api/me/accounts",
        "/api/workspace_scopes",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[tokio::test]
async fn last_used_is_written_on_first_use_and_not_again_within_a_minute() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let key = user_key(&app, "ana");
    let last_used = || -> Option<chrono::NaiveDateTime> {
        use atrium::db::schema::api_keys;
        api_keys::table
            .select(api_keys::last_used_at)
            .first(&mut app.conn())
            .expect("key row")
    };
    assert_eq!(last_used(), None);
    api_get(&app, Some(&key), "/api/me/").await;
    let first = last_used().expect("written on first use");
    for _ in 0..5 {
        api_get(&app, Some(&key), "/api/me/").await;
    }
    assert_eq!(last_used(), Some(first));
    // Once the minute has passed, the next use writes it again.
    {
        use atrium::db::schema::api_keys;
        let old = first - chrono::TimeDelta::minutes(2);
        diesel::update(api_keys::table)
            .set(api_keys::last_used_at.eq(old))
            .execute(&mut app.conn())
            .expect("age it");
    }
    crate::support::let_remembered_answers_expire().await;
    api_get(&app, Some(&key), "/api/me/").await;
    assert!(last_used().expect("written") > first);
}

#[tokio::test]
async fn checking_a_key_costs_the_same_with_thousands_of_keys() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let key = user_key(&app, "ana");
    api_get(&app, Some(&key), "/api/me/").await;
    let before = app.queries.get();
    api_get(&app, Some(&key), "/api/me/").await;
    let few = app.queries.get() - before;
    let uid = user_id(&app, "ana");
    {
        let mut c = app.conn();
        for i in 0..2000 {
            atrium::apikeys::model::create_user_key(&mut c, &uid, &format!("k{i}"), None)
                .expect("key");
        }
    }
    // Warm the pool again (a new connection runs its set-up statements), then measure.
    api_get(&app, Some(&key), "/api/me/").await;
    let before = app.queries.get();
    api_get(&app, Some(&key), "/api/me/").await;
    assert_eq!(app.queries.get() - before, few);
    // The lookup is an equality on the unique digest index, not a scan.
    if matches!(crate::support::backend(), atrium::settings::Backend::Sqlite) {
        #[derive(QueryableByName)]
        struct Plan {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let plan: Vec<Plan> =
            diesel::sql_query("EXPLAIN QUERY PLAN SELECT id FROM api_keys WHERE digest = 'x'")
                .load(&mut app.conn())
                .expect("plan");
        assert!(
            plan.iter().any(|p| p.detail.contains("USING INDEX")),
            "{:?}",
            plan.iter().map(|p| &p.detail).collect::<Vec<_>>()
        );
    } else {
        assert_eq!(
            app.count(
                "SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = 'api_keys' AND indexdef LIKE '%UNIQUE%(digest)%'"
            ),
            1
        );
    }
}
