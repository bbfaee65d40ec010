//! Request bodies are capped (issue #9): a form or JSON body above 64 KiB gets 413 — the
//! error page for pages, `{"detail": …}` under `/api` — and nothing is stored; 60 KiB is
//! not refused for its size. Bodies sent with a length are refused before they are read;
//! chunked ones (no length) when the reader passes the cap.

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_support::{call, org};
use crate::members::PW;
use crate::support::{TestApp, spawn_app};

const KIB: usize = 1024;

fn first_name(app: &TestApp) -> String {
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT first_name AS t FROM users WHERE handle = 'ana'")
        .get_result::<T>(&mut app.conn())
        .expect("user")
        .t
}

fn writes(app: &TestApp) -> i64 {
    app.count("SELECT (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM workspaces) AS n")
}

/// Sends `body` chunked (no Content-Length) over a raw connection; returns the status
/// code and the response text.
async fn chunked(
    app: &TestApp,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
        app.port
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    for chunk in body.chunks(8 * KIB) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    // The server may answer (and close) before it has read everything: a failed write
    // is not the test's business, the answer is.
    let _ = s.write_all(&bytes).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (code, text)
}

#[tokio::test]
async fn a_form_above_64_kib_gets_413_and_changes_nothing() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let before = (first_name(&app), writes(&app));

    // Form field (as a browser posts it), and the htmx way (token in a header).
    let big = "x".repeat(65 * KIB);
    let r = ana
        .post_form("/profile", &[("first_name", &big), ("last_name", "A")])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"),
        "the error page"
    );
    assert!(r.text.contains("64 KiB"), "{}", r.text);
    let r = ana
        .post_htmx("/profile", &[("first_name", &big), ("last_name", "A")])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!((first_name(&app), writes(&app)), before);

    // Chunked, without a length: stopped while reading, by the CSRF check (token in the
    // body) and by the form reader (token in the header).
    let token = ana.csrf().await;
    let cookie = format!(
        "atrium_session={}",
        ana.session_cookie().expect("session cookie")
    );
    let form = format!("first_name={big}&last_name=A&csrf_token={token}");
    let base = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("Origin", app.base.clone()),
        ("Cookie", cookie.clone()),
    ];
    let (code, text) = chunked(&app, "/profile", &base, form.as_bytes()).await;
    assert_eq!(code, 413, "{text}");
    let mut with_header = base.to_vec();
    with_header.push(("X-CSRF-Token", token.clone()));
    let (code, text) = chunked(&app, "/profile", &with_header, form.as_bytes()).await;
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("64 KiB"), "{text}");
    assert_eq!((first_name(&app), writes(&app)), before);

    // 60 KiB is read: refused for what it says (a name that long), not for its size.
    let long = "y".repeat(60 * KIB);
    let r = ana
        .post_form("/profile", &[("first_name", &long), ("last_name", "A")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let (code, text) = chunked(
        &app,
        "/profile",
        &with_header,
        format!("first_name={long}&last_name=A").as_bytes(),
    )
    .await;
    assert_eq!(code, 422, "{text}");
    // And a sound change still goes through.
    let r = ana
        .post_form("/profile", &[("first_name", "Ana"), ("last_name", "A")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(first_name(&app), "Ana");
}

#[tokio::test]
async fn a_json_body_above_64_kib_gets_413_and_changes_nothing() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let path = format!("/api/accounts/{}/workspaces/", o.account);
    let before = writes(&app);

    let big = json!({"name": "Big", "handle": "big", "description": "x".repeat(65 * KIB)});
    let r = call(
        &app,
        Some(&o.ana_key),
        reqwest::Method::POST,
        &path,
        Some(big.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body["detail"].is_string(), "{}", r.body);
    // Without a key as well: the size is refused before anything else is looked at.
    let r = call(&app, None, reqwest::Method::POST, &path, Some(big.clone())).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let headers = [
        ("Content-Type", "application/json".to_string()),
        ("Authorization", format!("Bearer {}", o.ana_key)),
    ];
    let (code, text) = chunked(&app, &path, &headers, big.to_string().as_bytes()).await;
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("\"detail\""), "{text}");
    assert_eq!(writes(&app), before);

    // 60 KiB is read and answered for its content (the description is too long).
    let long = json!({"name": "Long", "handle": "long", "description": "y".repeat(60 * KIB)});
    let r = call(
        &app,
        Some(&o.ana_key),
        reqwest::Method::POST,
        &path,
        Some(long.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let (code, text) = chunked(&app, &path, &headers, long.to_string().as_bytes()).await;
    assert_eq!(code, 422, "{text}");
    assert_eq!(writes(&app), before);
}
