//! Helpers for the JSON API tests: keys, requests with a bearer key, the 401 check, setup
//! straight in the database.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::members::{PW, create_org, user_id};
pub use crate::support::reference::{assert_items_match_schema, assert_matches_schema};

use crate::support::{Client, TestApp};
pub const OWNER_ROLE: &str = "00000000-0000-4000-8000-000000000001";
pub const DEVELOPER_ROLE: &str = "00000000-0000-4000-8000-000000000002";
pub const RUNNER_ROLE: &str = "00000000-0000-4000-8000-000000000003";
pub const VIEWER_ROLE: &str = "00000000-0000-4000-8000-000000000004";
pub const WORKER_ROLE: &str = "00000000-0000-4000-8000-000000000005";

pub const ACCOUNT_OWNER: &str = "00000000-0000-4000-8000-0000000000a1";
pub const ACCOUNT_ADMIN: &str = "00000000-0000-4000-8000-0000000000a2";
pub const ACCOUNT_MEMBER: &str = "00000000-0000-4000-8000-0000000000a3";
pub const ACCOUNT_COLLABORATOR: &str = "00000000-0000-4000-8000-0000000000a4";

/// A well-formed id nobody has.
pub const UNKNOWN: &str = "4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13";

/// An answer: status and JSON body (`Null` when empty).
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    pub fn detail(&self) -> String {
        self.body["detail"].as_str().unwrap_or_default().to_string()
    }

    /// The `loc`s of a 422 body, joined with dots (`body.0.email`).
    pub fn locs(&self) -> Vec<String> {
        self.body["detail"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        e["loc"]
                            .as_array()
                            .map(|l| {
                                l.iter()
                                    .map(|p| match p {
                                        Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts a 422 naming `loc` (e.g. `body.name`), and returns that entry's message.
    pub fn expect_422(&self, loc: &str) -> String {
        assert_eq!(
            self.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected 422 at {loc}: {}",
            self.body
        );
        let locs = self.locs();
        let i = locs
            .iter()
            .position(|l| l == loc)
            .unwrap_or_else(|| panic!("no error at {loc}: {}", self.body));
        self.body["detail"][i]["msg"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends `method path` with an optional bearer key and JSON body.
pub async fn call(
    app: &TestApp,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let mut rb = reqwest::Client::new().request(method, app.url(path));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    Resp { status, body }
}

pub async fn get(app: &TestApp, key: &str, path: &str) -> Resp {
    call(app, Some(key), Method::GET, path, None).await
}

pub async fn post(app: &TestApp, key: &str, path: &str, body: Value) -> Resp {
    call(app, Some(key), Method::POST, path, Some(body)).await
}

pub async fn patch(app: &TestApp, key: &str, path: &str, body: Value) -> Resp {
    call(app, Some(key), Method::PATCH, path, Some(body)).await
}

pub async fn delete(app: &TestApp, key: &str, path: &str) -> Resp {
    call(app, Some(key), Method::DELETE, path, None).await
}

/// Without a key and with a wrong one: 401 with exactly FastAPI's body.
pub async fn assert_needs_key(app: &TestApp, method: Method, path: &str, body: Option<Value>) {
    let wrong = format!("pnu_{}", "A".repeat(36));
    for key in [None, Some(wrong.as_str()), Some("not-a-key")] {
        let r = call(app, key, method.clone(), path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with {key:?}: {}",
            r.body
        );
        assert_eq!(
            r.body,
            json!({"detail": "Invalid authentication credentials"}),
            "{method} {path}"
        );
    }
}

/// A personal API key for the user `handle`.
pub fn user_key(app: &TestApp, handle: &str) -> String {
    let uid = user_id(app, handle);
    atrium::apikeys::model::create_user_key(&mut app.conn(), &uid, "test", None)
        .expect("user key")
        .1
}

/// A service account of the account with a key; returns (its id, the key).
pub fn bot(app: &TestApp, account_id: &str, name: &str) -> (String, String) {
    let (sa, _, key) =
        atrium::service_accounts::model::create(&mut app.conn(), account_id, name, None, None)
            .expect("service account");
    (sa.id, key)
}

/// Gives the service account a role on the workspace.
pub fn grant_bot(app: &TestApp, ws: &str, sa_id: &str, role_id: &str) {
    atrium::service_accounts::model::set_bot_access(&mut app.conn(), ws, sa_id, role_id)
        .expect("bot access");
}

/// Gives the user `handle` a role on the workspace (test setup, straight in the database).
pub fn grant(app: &TestApp, ws: &str, handle: &str, role_id: &str) {
    let uid = user_id(app, handle);
    atrium::workspaces::model::set_user_access(&mut app.conn(), ws, &uid, role_id).expect("grant");
}

pub fn set_default_role(app: &TestApp, ws: &str, role_id: Option<&str>) {
    use diesel::prelude::*;
    diesel::update(atrium::db::schema::workspaces::table.find(ws))
        .set(atrium::db::schema::workspaces::default_role_id.eq(role_id))
        .execute(&mut app.conn())
        .expect("set default role");
}

/// Events with this action.
pub fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
}

/// The actor kind of the newest event with this action.
pub fn last_actor_kind(app: &TestApp, action: &str) -> String {
    use atrium::db::schema::audit_events as e;
    use diesel::prelude::*;
    e::table
        .filter(e::action.eq(action))
        .order(e::id.desc())
        .select(e::actor_kind)
        .first(&mut app.conn())
        .expect("event")
}

/// An organization `acme` owned by `ana`, with `ana`'s client and key.
pub struct Org {
    pub account: String,
    pub ana: Client,
    pub ana_key: String,
}

pub async fn org(app: &TestApp) -> Org {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account = create_org(&ana, "Acme", "acme").await;
    let ana_key = user_key(app, "ana");
    Org {
        account,
        ana,
        ana_key,
    }
}

/// Signs up `handle` (`handle@example.com`) and puts them in the account with `role`.
pub async fn member(app: &TestApp, account: &str, handle: &str, role: &str) -> String {
    app.signup(&format!("{handle}@example.com"), handle, PW)
        .await;
    crate::members::add_member(app, account, handle, role);
    user_key(app, handle)
}

/// Signs up `handle` as a Collaborator of the account. A Collaborator exists only with a
/// workspace access (DESIGN §1), so they get Viewer on a workspace of their own,
/// `<handle>-space`, made for them.
pub async fn collaborator(app: &TestApp, account: &str, handle: &str) -> String {
    use diesel::prelude::*;
    let key = member(app, account, handle, "collaborator").await;
    let ws = uuid::Uuid::new_v4().to_string();
    let t = atrium::db::now();
    diesel::insert_into(atrium::db::schema::workspaces::table)
        .values((
            atrium::db::schema::workspaces::id.eq(&ws),
            atrium::db::schema::workspaces::account_id.eq(account),
            atrium::db::schema::workspaces::name.eq(format!("{handle} space")),
            atrium::db::schema::workspaces::handle.eq(format!("{handle}-space")),
            atrium::db::schema::workspaces::description.eq(""),
            atrium::db::schema::workspaces::created_at.eq(t),
            atrium::db::schema::workspaces::updated_at.eq(t),
        ))
        .execute(&mut app.conn())
        .expect("collaborator's workspace");
    grant(app, &ws, handle, VIEWER_ROLE);
    key
}

/// The membership id of `handle` in the account.
pub fn membership_id(app: &TestApp, account: &str, handle: &str) -> String {
    use atrium::db::schema::account_memberships as m;
    use diesel::prelude::*;
    let uid = user_id(app, handle);
    m::table
        .filter(m::account_id.eq(account))
        .filter(m::user_id.eq(uid))
        .select(m::id)
        .first(&mut app.conn())
        .expect("membership")
}

/// Creates a workspace through the API as the key's holder; returns its id.
pub async fn api_ws(app: &TestApp, key: &str, account: &str, handle: &str) -> String {
    let r = post(
        app,
        key,
        &format!("/api/accounts/{account}/workspaces/"),
        json!({"name": handle, "handle": handle}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "create workspace: {}",
        r.body
    );
    r.body["id"].as_str().expect("id").to_string()
}
