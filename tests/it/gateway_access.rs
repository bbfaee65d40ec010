//! Who may do what through the gateway (issue #21): keys remembered per instance and what
//! stops them — a removed member and a rotated key stop within the stated bound
//! (`gateway::caller`: one second) on every instance, open websockets included; a
//! remembered key costs no statement.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::api_support::{DEVELOPER_ROLE, WORKER_ROLE, bot, grant, grant_bot, membership_id};
use crate::gateway::{acme_with_server, call, gateway_app, user_key};
use crate::members::{PW, add_member};
use crate::support::prefect;

/// The bound a change to who may do what takes to reach every instance.
const BOUND: Duration = Duration::from_secs(1);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `<api>/<rest>` as a websocket: with the key in the upgrade request
/// (`Authorization: bearer`, as `events/in`) or with subprotocol `prefect` and an auth
/// message (answered `auth_success`), as the other channels.
pub async fn open_socket(api: &str, rest: &str, key: &str, in_header: bool) -> Socket {
    use tungstenite::client::IntoClientRequest;
    let url = format!("{}/{rest}", api.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("request");
    if in_header {
        req.headers_mut().insert(
            "authorization",
            format!("bearer {key}").parse().expect("header"),
        );
    } else {
        req.headers_mut()
            .insert("sec-websocket-protocol", "prefect".parse().expect("header"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_or_else(|e| panic!("socket {rest}: {e}"));
    if !in_header {
        ws.send(Message::Text(
            json!({ "type": "auth", "token": key }).to_string().into(),
        ))
        .await
        .expect("auth message");
        let first = next_text(&mut ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{rest}: no answer to the auth message"));
        assert!(first.contains("auth_success"), "{rest}: {first}");
    }
    ws
}

/// The next text frame, or `None` when the socket closed or nothing came in time.
pub async fn next_text(ws: &mut Socket, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) | Err(_) => {
                return None;
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Opens `<api>/<rest>` with subprotocol `prefect` and an auth message with `key`, which
/// must be refused: answers the close code (`None`: not closed within ten seconds).
pub async fn refused_socket(api: &str, rest: &str, key: &str) -> Option<u16> {
    use tungstenite::client::IntoClientRequest;
    let url = format!("{}/{rest}", api.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("request");
    req.headers_mut()
        .insert("sec-websocket-protocol", "prefect".parse().expect("header"));
    let (mut sock, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    sock.send(Message::Text(
        json!({ "type": "auth", "token": key }).to_string().into(),
    ))
    .await
    .expect("auth");
    closed_by(&mut sock, Instant::now() + Duration::from_secs(10)).await
}

/// Waits until `deadline` for the socket to be closed by Atrium; answers the close code.
async fn closed_by(ws: &mut Socket, deadline: Instant) -> Option<u16> {
    let deadline = tokio::time::Instant::from_std(deadline);
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map_or(1005, |f| u16::from(f.code)));
            }
            Ok(Some(Err(_))) | Ok(None) => return Some(1006),
            Ok(Some(Ok(_))) => continue,
            Err(_) => return None,
        }
    }
}

fn api_of(base: &str, account: &str, ws: &str) -> String {
    format!("{base}/api/accounts/{account}/workspaces/{ws}")
}

async fn status(url: &str, key: &str) -> StatusCode {
    call(Method::POST, url, key, Some(json!({}))).await.0
}

#[tokio::test]
async fn a_removed_member_and_a_rotated_key_stop_within_a_second_on_every_instance() {
    let Some(server) = prefect::server(1).await else {
        return;
    };
    let app = gateway_app().await;
    let (_ana, account, ws) = acme_with_server(&app, server, "prod").await;
    let ana_key = user_key(&app, "ana");
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &account, "bo", "member");
    grant(&app, &ws, "bo", DEVELOPER_ROLE);
    let bo_key = user_key(&app, "bo");
    let (sa, sa_key) = bot(&app, &account, "worker");
    grant_bot(&app, &ws, &sa, WORKER_ROLE);

    // Instance B serves the calls; the changes are made on instance A.
    let (b_base, b_queries) = app.second_instance().await;
    let on_b = api_of(&b_base, &account, &ws);
    let flows_b = format!("{on_b}/flows/filter");
    let pools_b = format!("{on_b}/work_pools/filter");
    for _ in 0..2 {
        assert_eq!(status(&flows_b, &bo_key).await, StatusCode::OK);
        assert_eq!(status(&pools_b, &sa_key).await, StatusCode::OK);
    }

    // A remembered key costs no statement (the access version is read by a background
    // task on connections of its own, which the counter does not see). A call may find the
    // version not read for a while (a busy machine) and read the database, as without the
    // memo: most calls do not.
    let mut free = 0;
    for _ in 0..10 {
        let before = b_queries.get();
        assert_eq!(status(&flows_b, &bo_key).await, StatusCode::OK);
        if b_queries.get() == before {
            free += 1;
        }
    }
    assert!(
        free >= 8,
        "only {free} of 10 remembered calls cost no statement"
    );

    // Open sockets on B: Bo's log subscription (auth message), the service account's
    // `events/in` (key in the upgrade request).
    let mut bo_logs = open_socket(&on_b, "logs/out", &bo_key, false).await;
    let mut sa_events = open_socket(&on_b, "events/in", &sa_key, true).await;

    // Ana removes Bo from the account on instance A.
    let r = crate::api_support::call(
        &app,
        Some(&ana_key),
        Method::DELETE,
        &format!(
            "/api/accounts/{account}/account_memberships/{}",
            membership_id(&app, &account, "bo")
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let removed = Instant::now();
    let code = closed_by(&mut bo_logs, removed + BOUND).await;
    assert_eq!(
        code,
        Some(1008),
        "Bo's socket stayed open {BOUND:?} after his removal"
    );
    tokio::time::sleep_until(tokio::time::Instant::from_std(removed + BOUND)).await;
    assert_eq!(status(&flows_b, &bo_key).await, StatusCode::NOT_FOUND);
    // The service account is untouched: its socket and calls go on.
    assert_eq!(status(&pools_b, &sa_key).await, StatusCode::OK);
    sa_events
        .send(Message::Ping(Default::default()))
        .await
        .expect("the service account's socket is still open");

    // Ana rotates the service account's key, without overlap.
    let r = crate::api_support::call(
        &app,
        Some(&ana_key),
        Method::POST,
        &format!("/api/accounts/{account}/bots/{sa}/rotate_api_key"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let rotated = Instant::now();
    let new_key = r.body["api_key"]["key"]
        .as_str()
        .or_else(|| r.body["api_key"].as_str())
        .unwrap_or_else(|| panic!("no key in {:?}", r.body))
        .to_string();
    let code = closed_by(&mut sa_events, rotated + BOUND).await;
    assert_eq!(
        code,
        Some(1008),
        "the old key's socket stayed open {BOUND:?} after the rotation"
    );
    tokio::time::sleep_until(tokio::time::Instant::from_std(rotated + BOUND)).await;
    assert_eq!(status(&pools_b, &sa_key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&pools_b, &new_key).await, StatusCode::OK);
    let on_a = api_of(&app.base, &account, &ws);
    assert_eq!(
        status(&format!("{on_a}/work_pools/filter"), &sa_key).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn keys_without_access_and_operations_outside_a_role_are_refused_in_cloud_shape() {
    let Some(server) = prefect::server(0).await else {
        return;
    };
    let app = gateway_app().await;
    let (_ana, account, ws) = acme_with_server(&app, server, "prod").await;
    let api = api_of(&app.base, &account, &ws);
    // Cy belongs to the account but not to the workspace (no default role): 404, as for
    // a workspace that does not exist; an unknown key: 401.
    app.signup("cy@example.com", "cy", PW).await;
    add_member(&app, &account, "cy", "member");
    let cy_key = user_key(&app, "cy");
    let (s, body) = call(Method::POST, &format!("{api}/flows/filter"), &cy_key, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    let (s, _) = call(
        Method::POST,
        &format!("{api}/flows/filter"),
        "pnu_000000000000000000000000000000000000",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The same for a socket: refused before the upgrade.
    let url = format!("{}/events/in", api.replacen("http", "ws", 1));
    use tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("bearer {cy_key}").parse().expect("header"),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 404),
        other => panic!(
            "expected 404 before the upgrade, got {:?}",
            other.map(|_| ())
        ),
    }
    // A socket whose auth message carries a key without access is closed with 1008.
    assert_eq!(refused_socket(&api, "logs/out", &cy_key).await, Some(1008));
    // An operation outside the table: 403, fail closed.
    let ana_key = user_key(&app, "ana");
    let (s, body) = call(
        Method::POST,
        &format!("{api}/no/such/thing"),
        &ana_key,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let _: Value = body;
}

#[tokio::test]
async fn large_bodies_pass_bodies_over_the_limit_get_413_and_a_gone_server_503() {
    let Some(server) = prefect::server(0).await else {
        return;
    };
    let app = crate::support::spawn_app_with(|s| {
        s.prefect_server_allow = atrium::egress::Egress::parse("127.0.0.1").expect("allow");
        s.gateway_max_body = 1024 * 1024;
    })
    .await;
    let (ana, account, ws) = acme_with_server(&app, server, "limits").await;
    let key = user_key(&app, "ana");
    let api = api_of(&app.base, &account, &ws);
    let logs = |n: usize| {
        json!(
            (0..n)
                .map(
                    |i| json!({ "name": "big", "level": 20, "message": format!("{i:0>200}"),
                             "timestamp": chrono::Utc::now().to_rfc3339() })
                )
                .collect::<Vec<_>>()
        )
    };
    // ~300 KiB: far above the 64 KiB of forms, below the gateway's limit.
    let (s, body) = call(
        Method::POST,
        &format!("{api}/logs/"),
        &key,
        Some(logs(1200)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = call(
        Method::POST,
        &format!("{api}/logs/"),
        &key,
        Some(logs(6000)),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("MiB")),
        "{body}"
    );

    // The server goes away (its address now leads nowhere): 503 with Retry-After, and the
    // settings page says since when.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        l.local_addr().expect("addr").port()
    };
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE workspace_servers SET url = 'http://127.0.0.1:{gone}'"
        ))
        .execute(&mut app.conn())
        .expect("move the server");
    }
    // The change reaches the instance within the bound.
    tokio::time::sleep(BOUND).await;
    let r = reqwest::Client::new()
        .post(format!("{api}/flows/filter"))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.expect("json");
    assert!(
        !body.to_string().contains(&gone.to_string()),
        "the server's address is told: {body}"
    );
    // The state is written after the answer (the call does not wait for it): soon.
    let since = std::time::Instant::now();
    loop {
        let page = ana
            .get(&format!(
                "/account/{account}/workspace/{ws}/settings/server"
            ))
            .await;
        if page.text.contains("Unreachable since") {
            break;
        }
        assert!(since.elapsed() < Duration::from_secs(10), "{}", page.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Team `name` of `account` with `members`, given `role_id` on `ws`, made by Ana through the
/// operations (the API and pages call the same ones); answers the team's id.
pub fn team_with_access(
    app: &crate::support::TestApp,
    account: &str,
    ws: &str,
    name: &str,
    members: &[&str],
    role_id: &str,
) -> String {
    use atrium::teams::ops;
    let mut c = app.conn();
    let ana = atrium::users::model::find(&mut c, &crate::members::user_id(app, "ana"))
        .expect("read")
        .expect("ana");
    let who = ops::Who::user(&ana, "127.0.0.1".into());
    let team = ops::create(&mut c, &who, account, name, "").expect("team");
    let ids: Vec<String> = members
        .iter()
        .map(|h| crate::members::user_id(app, h))
        .collect();
    ops::add_members(&mut c, &who, account, &team.id, &ids).expect("members");
    ops::grant(&mut c, &who, account, ws, &team.id, role_id).expect("team access");
    team.id
}

/// Issue #25: a person whose only access is a team's role reaches Prefect with that role's
/// scopes; leaving the team, or the team losing its access, stops their calls and open
/// sockets within the bound on every instance, like any change of role.
#[tokio::test]
async fn access_through_a_team_reaches_prefect_and_ends_within_a_second_on_every_instance() {
    let Some(server) = prefect::server(1).await else {
        return;
    };
    let app = gateway_app().await;
    let (_ana, account, ws) = acme_with_server(&app, server, "teamed").await;
    let ana_key = user_key(&app, "ana");
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &account, "bo", "member");
    let bo_key = user_key(&app, "bo");
    let (b_base, _) = app.second_instance().await;
    let on_b = api_of(&b_base, &account, &ws);
    let flows_b = format!("{on_b}/flows/filter");
    // Nothing yet: the workspace does not exist for Bo.
    assert_eq!(status(&flows_b, &bo_key).await, StatusCode::NOT_FOUND);

    let team = team_with_access(&app, &account, &ws, "Data", &["bo"], DEVELOPER_ROLE);
    let granted = Instant::now();
    let mut ok = false;
    while Instant::now() < granted + BOUND + Duration::from_millis(500) {
        if status(&flows_b, &bo_key).await == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the team's role did not reach instance B");
    // Developer through the team: Bo may write deployments' work pools but not manage the
    // workspace's members (an Atrium call that needs `see_workspace_users`).
    let (s, _) = call(
        Method::POST,
        &format!("{on_b}/user_access/filter"),
        &bo_key,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Ana takes Bo out of the team on instance A: his socket closes and calls stop.
    let mut bo_logs = open_socket(&on_b, "logs/out", &bo_key, false).await;
    let r = crate::api_support::call(
        &app,
        Some(&ana_key),
        Method::DELETE,
        &format!(
            "/api/accounts/{account}/teams/{team}/members/{}",
            crate::members::user_id(&app, "bo")
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let removed = Instant::now();
    let code = closed_by(&mut bo_logs, removed + BOUND).await;
    assert_eq!(
        code,
        Some(1008),
        "Bo's socket stayed open after leaving the team"
    );
    tokio::time::sleep_until(tokio::time::Instant::from_std(removed + BOUND)).await;
    assert_eq!(status(&flows_b, &bo_key).await, StatusCode::NOT_FOUND);

    // Back in the team, then the team loses its access to the workspace.
    let r = crate::api_support::call(
        &app,
        Some(&ana_key),
        Method::PUT,
        &format!("/api/accounts/{account}/teams/{team}/members"),
        Some(json!({ "members": [{
            "member_id": crate::members::user_id(&app, "bo"),
            "member_type": "user"
        }] })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    tokio::time::sleep(BOUND).await;
    assert_eq!(status(&flows_b, &bo_key).await, StatusCode::OK);
    let r = crate::api_support::call(
        &app,
        Some(&ana_key),
        Method::DELETE,
        &format!("/api/accounts/{account}/workspaces/{ws}/team_access/{team}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let revoked = Instant::now();
    tokio::time::sleep_until(tokio::time::Instant::from_std(revoked + BOUND)).await;
    assert_eq!(status(&flows_b, &bo_key).await, StatusCode::NOT_FOUND);
}
