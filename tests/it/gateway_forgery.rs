//! Server-side request forgery through the workspace server page (issue #21): only
//! addresses in `ATRIUM_PREFECT_SERVER_ALLOW` may be connected, checked after name
//! resolution and at each connection; redirects are never followed; what a refused server
//! said is not echoed beyond its status. Local listeners stand in for what lives on the
//! network (they count the connections they accept).

use reqwest::StatusCode;

use crate::members::{PW, create_org};
use crate::support::listener::Listener;
use crate::support::{Client, TestApp, spawn_app_with, ws_id};
use crate::workspaces::create_ws;

/// An app allowing `allow`, with Ana's account and workspace: (app, Ana, server page path).
async fn with_allow(allow: &str) -> (TestApp, Client, String) {
    let allow = allow.to_string();
    let app = spawn_app_with(move |s| {
        s.prefect_server_allow = atrium::egress::Egress::parse(&allow).expect("allow");
    })
    .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account = create_org(&ana, "Acme", "acme").await;
    let ws = ws_id(&create_ws(&ana, &account, "Production", "prod").await);
    (
        app,
        ana,
        format!("/account/{account}/workspace/{ws}/settings/server"),
    )
}

/// Posts the form; answers the page, which must be the form again with `message` beside
/// the URL field, and nothing connected.
async fn refused(app: &TestApp, ana: &Client, page: &str, url: &str, message: &str) -> String {
    let r = ana
        .post_form(page, &[("url", url), ("auth_string", "atrium:secret")])
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{url}: {}",
        r.text
    );
    assert!(
        r.text.contains("id=\"url-error\""),
        "{url}: no message beside the URL field: {}",
        r.text
    );
    assert!(
        r.text.contains(message),
        "{url}: {message:?} not in {}",
        r.text
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspace_servers"), 0);
    r.text
}

#[tokio::test]
async fn metadata_and_private_addresses_outside_the_list_are_refused() {
    // Everything on loopback is allowed, so only the rules themselves refuse these.
    let (app, ana, page) = with_allow("127.0.0.0/8").await;
    for url in [
        "http://169.254.169.254",
        "http://169.254.169.254:80/latest/meta-data",
        "http://[::ffff:169.254.169.254]",
        "http://[fe80::1]:4200",
        "http://0.0.0.0:4200",
    ] {
        refused(&app, &ana, &page, url, "Atrium may not connect to").await;
    }
    refused(
        &app,
        &ana,
        &page,
        "http://10.1.2.3:4200",
        "Atrium may not connect to 10.1.2.3",
    )
    .await;
    refused(
        &app,
        &ana,
        &page,
        "http://192.168.0.10:4200",
        "Atrium may not connect to 192.168.0.10",
    )
    .await;
    // Credentials in the URL, other schemes.
    for url in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70",
        "http://user:pw@127.0.0.1:4200",
    ] {
        refused(&app, &ana, &page, url, "Enter the server").await;
    }
}

#[tokio::test]
async fn a_name_is_checked_on_the_addresses_it_resolves_to() {
    // 127.0.0.1 is not in this list: `localhost` resolving to it is refused, and the
    // listener there is never reached.
    let (app, ana, page) = with_allow("10.0.0.0/8").await;
    let inside = Listener::start(
        "200 OK",
        &[("Content-Type", "application/json")],
        "\"3.9.1\"",
    );
    refused(
        &app,
        &ana,
        &page,
        &format!("http://localhost:{}", inside.port),
        "Atrium may not connect to",
    )
    .await;
    refused(
        &app,
        &ana,
        &page,
        &inside.url(),
        "Atrium may not connect to 127.0.0.1",
    )
    .await;
    assert_eq!(inside.hits(), 0, "Atrium connected to a refused address");
}

#[tokio::test]
async fn redirects_are_not_followed_and_answers_are_not_echoed() {
    let (app, ana, page) = with_allow("127.0.0.1").await;
    // The target of the redirect is allowed and listening: it must still never be reached.
    let target = Listener::start(
        "200 OK",
        &[("Content-Type", "application/json")],
        "\"3.9.1\"",
    );
    let redirect = Listener::start(
        "302 Found",
        &[("Location", &format!("{}/api/health", target.url()))],
        "",
    );
    refused(
        &app,
        &ana,
        &page,
        &redirect.url(),
        "answered with a redirect (302)",
    )
    .await;
    assert_eq!(redirect.hits(), 1);
    assert_eq!(target.hits(), 0, "Atrium followed a redirect");
    let metadata = Listener::start(
        "307 Temporary Redirect",
        &[("Location", "http://169.254.169.254/latest/meta-data/")],
        "",
    );
    refused(
        &app,
        &ana,
        &page,
        &metadata.url(),
        "answered with a redirect (307)",
    )
    .await;

    // A server that answers something else: its status is shown, its body is not.
    let chatty = Listener::start(
        "500 Internal Server Error",
        &[("Content-Type", "text/plain")],
        "INTERNAL-SECRET-abc123",
    );
    let text = refused(&app, &ana, &page, &chatty.url(), "answered 500").await;
    assert!(!text.contains("INTERNAL-SECRET"), "{text}");
    let refusing = Listener::start("401 Unauthorized", &[], "nope");
    let r = ana
        .post_form(
            &page,
            &[("url", &refusing.url()), ("auth_string", "atrium:secret")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"auth_string-error\""), "{}", r.text);
    assert!(r.text.contains("The server refused this auth string"));
    // Nothing listens here any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        l.local_addr().expect("addr").port()
    };
    refused(
        &app,
        &ana,
        &page,
        &format!("http://127.0.0.1:{gone}"),
        "could not reach a server",
    )
    .await;
}
