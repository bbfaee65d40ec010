//! Personal API keys (`/profile/api-keys`) and what every key shares: the format, storage
//! as a digest only, shown once, expiry, `last_used_at` (issue #5, items 1 and 5).

use reqwest::StatusCode;
use serde_json::Value;

use crate::members::{PW, create_org};
use crate::support::{Client, TestApp, spawn_app};
use crate::workspaces::create_ws;

/// The plaintext key after `prefix` in a page (the one-time panel), if any.
pub fn find_key(html: &str, prefix: &str) -> Option<String> {
    let mut rest = html;
    while let Some(i) = rest.find(prefix) {
        let tail = &rest[i + prefix.len()..];
        let body: String = tail
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if body.len() == 36 {
            return Some(format!("{prefix}{body}"));
        }
        rest = &rest[i + prefix.len()..];
    }
    None
}

/// `pnu_`/`pnb_` followed by exactly 36 base62 characters.
pub fn is_key(k: &str, prefix: &str) -> bool {
    k.len() == 40 && k.starts_with(prefix) && k[4..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Creates a personal key through the page; returns the plaintext from the one-time panel.
pub async fn create_user_key(c: &Client, name: &str, expiration: &str) -> String {
    let r = c
        .post_form(
            "/profile/api-keys",
            &[("name", name), ("expiration", expiration)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "create key: {}", r.text);
    find_key(&r.text, "pnu_").expect("the new key in the one-time panel")
}

/// Calls the JSON API with `key` as bearer token.
pub async fn api(
    app: &TestApp,
    key: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, app.url(path));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("API request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

pub async fn api_get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    api(app, Some(key), reqwest::Method::GET, path, None).await
}

/// Every text value of the named columns of `table` (NULL as empty).
pub fn column_texts(app: &TestApp, table: &str, columns: &[&str]) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut c = app.conn();
    let mut out = Vec::new();
    for col in columns {
        let rows: Vec<V> = diesel::sql_query(format!(
            "SELECT COALESCE(CAST({col} AS TEXT), '') AS v FROM {table}"
        ))
        .load(&mut c)
        .expect("scan column");
        out.extend(rows.into_iter().map(|r| r.v));
    }
    out
}

/// Asserts that no text column of `api_keys` or `audit_events` holds `plain`.
pub fn assert_not_stored(app: &TestApp, plain: &str) {
    let api_keys = column_texts(
        app,
        "api_keys",
        &[
            "id",
            "user_id",
            "service_account_id",
            "name",
            "prefix",
            "digest",
            "last4",
        ],
    );
    let audit = column_texts(
        app,
        "audit_events",
        &[
            "event_id",
            "account_id",
            "workspace_id",
            "actor_kind",
            "actor_id",
            "actor_name",
            "action",
            "resource_kind",
            "resource_id",
            "resource_name",
            "ip",
            "payload",
        ],
    );
    assert!(!api_keys.is_empty() && !audit.is_empty());
    let body = &plain[4..];
    for v in api_keys.iter().chain(audit.iter()) {
        assert!(
            !v.contains(body),
            "the plaintext key is stored in the database: {v}"
        );
    }
}

pub fn set_sql(app: &TestApp, sql: &str) {
    use diesel::prelude::*;
    let mut c = app.conn();
    diesel::sql_query(sql).execute(&mut c).expect(sql);
}

/// A timestamp literal both backends accept, `delta` from now.
pub fn ts(delta: chrono::TimeDelta) -> String {
    (chrono::Utc::now().naive_utc() + delta)
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

fn personal_account(app: &TestApp, handle: &str) -> String {
    use atrium::db::schema::accounts;
    use diesel::prelude::*;
    let mut c = app.conn();
    accounts::table
        .filter(accounts::handle.eq(handle))
        .select(accounts::id)
        .first(&mut c)
        .expect("personal account")
}

#[tokio::test]
async fn a_personal_key_is_shown_once_with_the_client_configuration_and_stored_as_a_digest() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    // The profile and the user menu link the page.
    let profile = ana.get("/profile").await;
    assert!(profile.text.contains("href=\"/profile/api-keys\""));

    // No workspace yet: the login command names a placeholder.
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "laptop"), ("expiration", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = find_key(&r.text, "pnu_").expect("key shown");
    assert!(is_key(&first, "pnu_"), "{first}");
    assert!(r.text.contains("data-copy=\"new-key\""), "a copy button");
    assert!(r.text.contains(&format!(
        "prefect cloud login -k {first} --workspace &#60;account-handle&#62;/&#60;workspace-handle&#62;"
    )) || r.text.contains(&format!(
        "prefect cloud login -k {first} --workspace &lt;account-handle&gt;/&lt;workspace-handle&gt;"
    )));
    assert!(
        r.text
            .contains(&format!("PREFECT_CLOUD_API_URL={}/api", app.base))
    );

    // With a workspace: the command names it.
    let acct = create_org(&ana, "Acme", "acme").await;
    create_ws(&ana, &acct, "Production", "prod").await;
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "ci <script>"), ("expiration", "2999-12-31")],
        )
        .await;
    let key = find_key(&r.text, "pnu_").expect("key shown");
    assert!(r.text.contains(&format!(
        "prefect cloud login -k {key} --workspace acme/prod"
    )));
    assert!(!r.text.contains("ci <script>"), "names are escaped");

    // The list shows masks, never the keys.
    let list = ana.get("/profile/api-keys").await;
    assert_eq!(list.status, StatusCode::OK);
    for k in [&first, &key] {
        assert!(!list.text.contains(&k[4..]), "the key is not shown again");
        assert!(
            list.text.contains(&format!("pnu_…{}", &k[36..])),
            "mask of {k}"
        );
    }
    assert!(list.text.contains("2999-12-31 23:59 UTC"));
    assert_not_stored(&app, &first);
    assert_not_stored(&app, &key);

    // The key works against the API, and is audited in the personal account.
    let (status, body) = api_get(&app, &key, "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["workspace_handle"], "prod");
    let personal = personal_account(&app, "ana");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.api_key.created' AND account_id = '{personal}'"
        )),
        2
    );
}

#[tokio::test]
async fn bad_personal_key_input_is_refused_beside_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let long = "k".repeat(101);
    for (name, expiration, field, msg) in [
        ("", "", "name-error", "Enter a name."),
        ("   ", "", "name-error", "Enter a name."),
        (long.as_str(), "", "name-error", "at most 100"),
        ("ok", "2001-01-01", "expiration-error", "in the future"),
        ("ok", "tomorrow", "expiration-error", "YYYY-MM-DD"),
    ] {
        let r = ana
            .post_form(
                "/profile/api-keys",
                &[("name", name), ("expiration", expiration)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(r.text.contains(&format!("id=\"{field}\"")), "{name:?}");
        assert!(r.text.contains(msg), "{name:?}: {msg}");
        assert!(find_key(&r.text, "pnu_").is_none());
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM api_keys"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'atrium.api_key.%'"),
        0
    );
}

#[tokio::test]
async fn expired_and_deleted_keys_get_401_and_the_list_marks_expired_ones() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let old = create_user_key(&ana, "old", "").await;
    let gone = create_user_key(&ana, "gone", "").await;
    assert_eq!(
        api_get(&app, &old, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    set_sql(
        &app,
        &format!(
            "UPDATE api_keys SET expires_at = '{}' WHERE last4 = '{}'",
            ts(chrono::TimeDelta::seconds(-1)),
            &old[36..]
        ),
    );
    let (status, body) = api_get(&app, &old, "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        serde_json::json!({ "detail": "Invalid authentication credentials" })
    );
    let list = ana.get("/profile/api-keys").await;
    assert!(list.text.contains("Expired"), "expired keys are marked");

    // Delete (a key of someone else is 404).
    let key_id = {
        use atrium::db::schema::api_keys;
        use diesel::prelude::*;
        let mut c = app.conn();
        api_keys::table
            .filter(api_keys::last4.eq(&gone[36..]))
            .select(api_keys::id)
            .first::<String>(&mut c)
            .expect("key id")
    };
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let r = bo
        .post_form(&format!("/profile/api-keys/{key_id}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api_get(&app, &gone, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    let r = ana
        .post_form(&format!("/profile/api-keys/{key_id}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("deleted"));
    assert_eq!(
        api_get(&app, &gone, "/api/me/workspaces").await.0,
        StatusCode::UNAUTHORIZED
    );
    let personal = personal_account(&app, "ana");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.api_key.deleted' AND account_id = '{personal}'"
        )),
        1
    );
}

#[tokio::test]
async fn last_used_is_set_on_first_use_and_not_rewritten_within_a_minute() {
    use atrium::db::schema::api_keys;
    use diesel::prelude::*;
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let key = create_user_key(&ana, "k", "").await;
    let last_used = || -> Option<chrono::NaiveDateTime> {
        let mut c = app.conn();
        api_keys::table
            .filter(api_keys::last4.eq(&key[36..]))
            .select(api_keys::last_used_at)
            .first(&mut c)
            .expect("key")
    };
    assert_eq!(last_used(), None);
    let list = ana.get("/profile/api-keys").await;
    assert!(list.text.contains("<td>Never</td>"));
    api_get(&app, &key, "/api/me/workspaces").await;
    let first = last_used().expect("set on first use");
    api_get(&app, &key, "/api/me/workspaces").await;
    api_get(&app, &key, "/api/me/accounts").await;
    assert_eq!(last_used(), Some(first), "not rewritten within a minute");
    // A minute later it is written again.
    set_sql(
        &app,
        &format!(
            "UPDATE api_keys SET last_used_at = '{}' WHERE last4 = '{}'",
            ts(chrono::TimeDelta::seconds(-61)),
            &key[36..]
        ),
    );
    let stale = last_used().expect("set");
    crate::support::let_remembered_answers_expire().await;
    api_get(&app, &key, "/api/me/workspaces").await;
    assert!(last_used().expect("set") > stale);
}
