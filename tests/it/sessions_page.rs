//! The sessions page (issue #26, point 4): `/profile/sessions` lists the user's sessions
//! with device and address; ending one logs that browser out at its next request, "End all
//! other sessions" every other one; nobody ends another user's session; each change is
//! audited in the user's personal account.

use reqwest::StatusCode;

use crate::members::{PW, user_id};
use crate::support::{Client, TestApp, spawn_app, text};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

/// A new client logged in as `login`, its log-in sent with the User-Agent `ua`.
pub async fn log_in_with(app: &TestApp, login: &str, ua: &str) -> Client {
    let c = app.new_client();
    let token = c.csrf().await;
    let r = c
        .post_raw(
            "/auth/login",
            &[("login", login), ("password", PW), ("csrf_token", &token)],
            &[("Origin", c.base()), ("User-Agent", ua)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "log-in: {}", r.text);
    c
}

/// The id of the session whose log-in sent `ua`.
fn session_of(app: &TestApp, ua: &str) -> String {
    text(
        app,
        &format!("SELECT id AS t FROM sessions WHERE user_agent = '{ua}'"),
    )
}

fn exec(app: &TestApp, sql: &str) {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn logged_out(c: &Client) -> bool {
    let r = c.get("/profile").await;
    r.status == StatusCode::SEE_OTHER && r.location().is_some_and(|l| l.starts_with("/auth/login"))
}

fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
}

#[tokio::test]
async fn the_page_lists_each_session_with_its_device_and_address() {
    let app = spawn_app().await;
    let first = app.signup("ana@example.com", "ana", PW).await;
    let chrome = log_in_with(&app, "ana", CHROME).await;
    let _firefox = log_in_with(&app, "ana@example.com", FIREFOX).await;
    // Another user's sessions are not listed.
    app.signup("bob@example.com", "bob", PW).await;
    log_in_with(&app, "bob", SAFARI).await;

    let p = chrome.get("/profile/sessions").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    assert!(p.text.contains("Chrome on Linux"), "{}", p.text);
    assert!(p.text.contains("Firefox on Windows"), "{}", p.text);
    assert!(
        !p.text.contains("Safari on iOS"),
        "bob's session: {}",
        p.text
    );
    // The sign-up's client sent no User-Agent.
    assert!(p.text.contains("Unknown device"), "{}", p.text);
    // The full string is in a title; the address is the one Atrium trusts.
    assert!(
        p.text.contains(&format!("title=\"{CHROME}\"")),
        "{}",
        p.text
    );
    assert!(p.text.contains("127.0.0.1"), "{}", p.text);
    assert_eq!(p.text.matches("This session").count(), 1, "{}", p.text);
    // The current session has no "End"; the two others have one each, with their names.
    assert_eq!(p.text.matches(">End</button>").count(), 2, "{}", p.text);
    assert!(
        p.text
            .contains("aria-label=\"End session on Firefox on Windows from 127.0.0.1"),
        "{}",
        p.text
    );
    assert!(
        !p.text
            .contains("aria-label=\"End session on Chrome on Linux")
    );
    assert!(p.text.contains("End all other sessions"));
    // Most recently used first (each was last seen when it began, under a minute ago).
    let at = |s: &str| p.text.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(at("Firefox on Windows") < at("Chrome on Linux"));
    assert!(at("Chrome on Linux") < at("Unknown device"));
    // The profile links to the page.
    let profile = first.get("/profile").await;
    assert!(profile.text.contains("href=\"/profile/sessions\""));
    // Sessions from before this page have neither device nor address.
    exec(
        &app,
        "UPDATE sessions SET user_agent = NULL, client_address = NULL",
    );
    let p = chrome.get("/profile/sessions").await;
    // ana's three, Unknown in the list (bob's is not there).
    assert_eq!(
        p.text.matches("<td>Unknown device").count(),
        3,
        "{}",
        p.text
    );
    assert!(p.text.contains("This session"));
    // Nothing of it needs JavaScript: plain forms with the CSRF token.
    assert!(p.text.contains("action=\"/profile/sessions/end-others\""));
    assert!(app.invariant_violations().is_empty());
}

#[tokio::test]
async fn ending_a_session_logs_that_browser_out_at_its_next_request() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let chrome = log_in_with(&app, "ana", CHROME).await;
    let firefox = log_in_with(&app, "ana", FIREFOX).await;
    // Both are in use (on SQLite, remembered by the cache of who asks).
    assert!(!logged_out(&firefox).await);
    assert!(!logged_out(&chrome).await);
    let victim = session_of(&app, FIREFOX);

    chrome.get("/profile/sessions").await;
    let r = chrome
        .post_form(&format!("/profile/sessions/{victim}/end"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text
            .contains("The session on Firefox on Windows was ended"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("Firefox on Windows</span>"), "{}", r.text);
    // At its next request, at once.
    assert!(logged_out(&firefox).await, "the ended session still works");
    assert!(!logged_out(&chrome).await, "the current one goes on");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE id = '{victim}'"
        )),
        0
    );
    // Audited in ana's personal account, by ana, about ana.
    let ana = user_id(&app, "ana");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events e JOIN accounts a ON a.id = e.account_id \
             WHERE e.action = 'atrium.session.ended' AND e.actor_id = '{ana}' \
             AND e.resource_id = '{ana}' AND a.kind = 'personal' AND a.handle = 'ana' \
             AND e.payload LIKE '%Firefox on Windows%'"
        )),
        1
    );
    // Once ended, it is gone: 404, nothing recorded.
    let r = chrome
        .post_form(&format!("/profile/sessions/{victim}/end"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The current session is not ended from the list (log out instead).
    let mine = session_of(&app, CHROME);
    let r = chrome
        .post_form(&format!("/profile/sessions/{mine}/end"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!logged_out(&chrome).await);
    assert_eq!(events(&app, "atrium.session.ended"), 1);
    assert!(app.invariant_violations().is_empty());
}

#[tokio::test]
async fn ending_all_other_sessions_logs_every_other_browser_out() {
    let app = spawn_app().await;
    let first = app.signup("ana@example.com", "ana", PW).await;
    let chrome = log_in_with(&app, "ana", CHROME).await;
    let firefox = log_in_with(&app, "ana", FIREFOX).await;
    let safari = log_in_with(&app, "ana", SAFARI).await;
    let bob = app.signup("bob@example.com", "bob", PW).await;
    for c in [&first, &chrome, &firefox, &safari, &bob] {
        assert!(!logged_out(c).await);
    }

    let p = chrome.get("/profile/sessions").await;
    assert!(p.text.contains("End all other sessions"));
    let r = chrome.post_form("/profile/sessions/end-others", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("3 other sessions were ended"), "{}", r.text);
    assert!(
        r.text.contains("You are logged in nowhere else"),
        "{}",
        r.text
    );
    for c in [&first, &firefox, &safari] {
        assert!(logged_out(c).await, "an other session still works");
    }
    assert!(!logged_out(&chrome).await);
    assert!(
        !logged_out(&bob).await,
        "another user's session is untouched"
    );
    let ana = user_id(&app, "ana");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{ana}'"
        )),
        1
    );
    let payload = text(
        &app,
        "SELECT payload AS t FROM audit_events WHERE action = 'atrium.session.ended_others'",
    );
    let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(payload["count"], 3, "{payload}");
    // Nothing left to end: nothing recorded.
    let r = chrome.post_form("/profile/sessions/end-others", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("You have no other sessions"), "{}", r.text);
    assert_eq!(events(&app, "atrium.session.ended_others"), 1);
    assert!(app.invariant_violations().is_empty());
}

#[tokio::test]
async fn nobody_ends_another_users_session_or_one_without_the_csrf_token() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let chrome = log_in_with(&app, "ana", CHROME).await;
    let firefox = log_in_with(&app, "ana", FIREFOX).await;
    let ana_session = session_of(&app, FIREFOX);
    app.signup("bob@example.com", "bob", PW).await;
    let bob = log_in_with(&app, "bob", SAFARI).await;

    // Bob names ana's session: 404, and it goes on.
    bob.get("/profile/sessions").await;
    let r = bob
        .post_form(&format!("/profile/sessions/{ana_session}/end"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!logged_out(&firefox).await);
    // Made-up ids.
    for id in [
        "0".repeat(64),
        "not-a-session".to_string(),
        ana_session.to_uppercase(),
    ] {
        let r = bob
            .post_form(&format!("/profile/sessions/{id}/end"), &[])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
    }
    // Bob's "end all others" ends only his own others (he has one: the sign-up's).
    let r = bob.post_form("/profile/sessions/end-others", &[]).await;
    assert!(r.text.contains("1 other session was ended"), "{}", r.text);
    assert!(!logged_out(&firefox).await);
    assert!(!logged_out(&chrome).await);

    // A forged post (no token) from ana's browser is refused and changes nothing.
    let r = chrome
        .post_raw(
            &format!("/profile/sessions/{ana_session}/end"),
            &[],
            &[("Origin", chrome.base())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = chrome
        .post_raw(
            "/profile/sessions/end-others",
            &[("csrf_token", "forged")],
            &[("Origin", chrome.base())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!logged_out(&firefox).await);
    assert_eq!(events(&app, "atrium.session.ended"), 0);
    assert_eq!(events(&app, "atrium.session.ended_others"), 1);
    // Signed out: the log-in page.
    let anon = app.new_client();
    let r = anon.get("/profile/sessions").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(app.invariant_violations().is_empty());
}

#[tokio::test]
async fn a_hostile_user_agent_is_shown_as_text_and_kept_short() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let hostile = format!(
        "<script>alert(1)</script>\"><img src=x onerror=alert(2)> {}",
        "y".repeat(400)
    );
    let c = log_in_with(&app, "ana", &hostile).await;
    let p = c.get("/profile/sessions").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.text.contains("<script>alert(1)"), "{}", p.text);
    assert!(!p.text.contains("<img src=x"), "{}", p.text);
    assert!(p.text.contains("&#60;script&#62;alert(1)"), "{}", p.text);
    let ana = user_id(&app, "ana");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{ana}' \
             AND LENGTH(user_agent) = 300"
        )),
        1
    );
}
