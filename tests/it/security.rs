//! Issue #19: the holes found by attacking Atrium from outside, each with the attack that
//! worked before and is refused now.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_keys::{api, create_user_key};
use crate::members::{PW, add_member, create_org, user_id};
use crate::service_accounts::{create_sa, custom_role, grant_user, sa_id};
use crate::support::{TestApp, spawn_app, spawn_app_with, ws_id};
use crate::workspaces::create_ws;

const OWNER_ROLE: &str = "00000000-0000-4000-8000-000000000001";
const VIEWER: &str = "00000000-0000-4000-8000-000000000004";

/// Everything a role write could change: accesses of people and service accounts, pending
/// invitations, the workspace's default role.
fn role_state(app: &TestApp, ws: &str) -> (i64, i64, i64, String) {
    (
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE workspace_id = '{ws}' AND role_id = '{OWNER_ROLE}'"
        )),
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_bot_access WHERE workspace_id = '{ws}'"
        )),
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM invitations WHERE workspace_id = '{ws}'"
        )),
        crate::support::text(
            app,
            &format!("SELECT COALESCE(default_role_id, 'none') AS t FROM workspaces WHERE id = '{ws}'"),
        ),
    )
}

fn set_default(app: &TestApp, ws: &str, role: Option<&str>) {
    use diesel::prelude::*;
    let mut c = app.conn();
    diesel::update(atrium::db::schema::workspaces::table.find(ws))
        .set(atrium::db::schema::workspaces::default_role_id.eq(role))
        .execute(&mut c)
        .expect("set default role");
}

/// Point 1: every write that sets a role on a workspace — the default role (its new and its
/// old value), a person's access, a workspace invitation, a service account's access, on
/// the pages and on the API — is refused to someone who lacks the role's scopes, and
/// changes nothing. Mallory holds a custom role with exactly the scopes each of these
/// writes needs (settings, members, service accounts), and not Owner's.
#[tokio::test]
async fn nobody_sets_a_role_with_scopes_they_do_not_hold_on_any_write() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let ws = ws_id(&create_ws(&ana, &acct, "Production", "prod").await);
    create_sa(&ana, &acct, "ci-bot", None).await;
    let bot = sa_id(&app, "ci-bot");
    let keeper = custom_role(
        &app,
        &acct,
        "Keeper",
        "viewer",
        &[
            "see_workspace_settings",
            "write_workspace_settings",
            "see_workspace_users",
            "manage_workspace_users",
            "see_workspace_service_accounts",
            "manage_workspace_service_accounts",
        ],
    );
    let mallory = app.signup("mallory@example.com", "mallory", PW).await;
    add_member(&app, &acct, "mallory", "member");
    grant_user(&app, &ws, "mallory", &keeper);
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");
    let bo = user_id(&app, "bo");
    let key = create_user_key(&mallory, "mine", "").await;
    // The default role never reaches a Collaborator or a service account: holding the
    // same custom role, they may not take away a default above their own scopes.
    let colin = app.signup("colin@example.com", "colin", PW).await;
    add_member(&app, &acct, "colin", "collaborator");
    grant_user(&app, &ws, "colin", &keeper);
    let keeper_bot_key = create_sa(&ana, &acct, "keeper-bot", Some((&ws, &keeper))).await;
    let base = format!("/account/{acct}/workspace/{ws}");
    let api_ws = format!("/api/accounts/{acct}/workspaces/{ws}");
    let settings = |default: &str| {
        vec![
            ("name".to_string(), "Production".to_string()),
            ("handle".to_string(), "prod".to_string()),
            ("description".to_string(), String::new()),
            ("default_role".to_string(), default.to_string()),
        ]
    };

    // (what, the write; the status it must get)
    enum Write {
        Page(String, Vec<(String, String)>),
        Api(Method, String, serde_json::Value),
        /// The same, by the Collaborator (page) or the service account (API).
        CollabPage(String, Vec<(String, String)>),
        BotApi(Method, String, serde_json::Value),
    }
    let cases: Vec<(&str, Option<&str>, Write, u16)> = vec![
        (
            "page: default role raised to Owner",
            None,
            Write::Page(format!("{base}/settings"), settings(OWNER_ROLE)),
            403,
        ),
        (
            "API: default role raised to Owner",
            None,
            Write::Api(
                Method::PATCH,
                api_ws.clone(),
                json!({ "default_workspace_role_id": OWNER_ROLE }),
            ),
            403,
        ),
        (
            "page: default role Owner taken away (old value above own)",
            Some(OWNER_ROLE),
            Write::CollabPage(format!("{base}/settings"), settings("none")),
            403,
        ),
        (
            "API: default role Owner replaced by Viewer (old value above own)",
            Some(OWNER_ROLE),
            Write::BotApi(
                Method::PATCH,
                api_ws.clone(),
                json!({ "default_workspace_role_id": VIEWER }),
            ),
            403,
        ),
        (
            "page: a member given Owner",
            None,
            Write::Page(
                format!("{base}/settings/members"),
                vec![
                    ("user_id".into(), bo.clone()),
                    ("role_id".into(), OWNER_ROLE.into()),
                ],
            ),
            422,
        ),
        (
            "API: a member given Owner",
            None,
            Write::Api(
                Method::POST,
                format!("{api_ws}/user_access/"),
                json!({ "user_id": bo, "workspace_role_id": OWNER_ROLE }),
            ),
            403,
        ),
        (
            "page: an invitation as Owner",
            None,
            Write::Page(
                format!("{base}/settings/members/invite"),
                vec![
                    ("email".into(), "new@example.com".into()),
                    ("role_id".into(), OWNER_ROLE.into()),
                ],
            ),
            422,
        ),
        (
            "page: a service account given Owner",
            None,
            Write::Page(
                format!("{base}/settings/service-accounts"),
                vec![
                    ("service_account_id".into(), bot.clone()),
                    ("role_id".into(), OWNER_ROLE.into()),
                ],
            ),
            422,
        ),
        (
            "API: a service account given Owner",
            None,
            Write::Api(
                Method::POST,
                format!("{api_ws}/bot_access/"),
                json!({ "bot_id": bot, "workspace_role_id": OWNER_ROLE }),
            ),
            403,
        ),
    ];
    for (what, default, write, want) in cases {
        set_default(&app, &ws, default);
        let before = role_state(&app, &ws);
        let (page_user, api_key, write) = match write {
            Write::CollabPage(p, f) => (&colin, &key, Write::Page(p, f)),
            Write::BotApi(m, p, b) => (&mallory, &keeper_bot_key, Write::Api(m, p, b)),
            w => (&mallory, &key, w),
        };
        let status = match write {
            Write::Page(path, fields) => {
                let fields: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let r = page_user.post_form(&path, &fields).await;
                assert!(
                    r.text.contains("permissions you do not have"),
                    "{what}: the refusal is said: {}",
                    r.text
                );
                r.status
            }
            Write::Api(method, path, body) => {
                let (status, body) = api(&app, Some(api_key), method, &path, Some(body)).await;
                assert!(
                    body.to_string().contains("permissions you do not have"),
                    "{what}: {body}"
                );
                status
            }
            Write::CollabPage(..) | Write::BotApi(..) => unreachable!("mapped above"),
        };
        assert_eq!(status.as_u16(), want, "{what}");
        assert_eq!(role_state(&app, &ws), before, "{what}: nothing changed");
    }

    // Mallory's scopes never grew: the workspace's members panel still refuses Owner, and
    // the delete (manage_workspace_settings, Owner only) stays refused.
    set_default(&app, &ws, None);
    let r = mallory
        .post_form(&format!("{base}/delete"), &[("confirm_handle", "prod")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // What she holds she may give: Viewer as the default, on the page and the API.
    let r = mallory
        .post_form(
            &format!("{base}/settings"),
            &settings(VIEWER)
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(role_state(&app, &ws).3, VIEWER);
    let (status, _) = api(
        &app,
        Some(&key),
        Method::PATCH,
        &api_ws,
        Some(json!({ "default_workspace_role_id": null })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(role_state(&app, &ws).3, "none");
    // The settings page offers only roles she may give as the default.
    let page = mallory.get(&format!("{base}/settings")).await;
    assert!(!page.text.contains(&format!("value=\"{OWNER_ROLE}\"")));
    assert!(page.text.contains(&format!("value=\"{VIEWER}\"")));
}

/// A log-in posted from `from` (the address a trusted proxy in front names).
async fn login_from(c: &crate::support::Client, from: &str, login: &str, pw: &str) -> StatusCode {
    let token = c.csrf().await;
    c.post_raw(
        "/auth/login",
        &[("login", login), ("password", pw), ("csrf_token", &token)],
        &[("Origin", c.base()), ("X-Forwarded-For", from)],
    )
    .await
    .status
}

fn failed_logins(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.user.login_failed'")
}

/// Point 2: 40 wrong guesses sent at once from one address get at most the limit (10) of
/// password checks; the rest, and then the right password, get 429.
#[tokio::test]
async fn a_burst_of_concurrent_guesses_gets_at_most_the_limit_checked() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let limit = app.settings.login_attempts_per_minute;
    // Each guesser has its form (and token) ready, then all post at once.
    let mut guessers = Vec::new();
    for _ in 0..40 {
        let c = app.new_client();
        let token = c.csrf().await;
        guessers.push((c, token));
    }
    let mut set = tokio::task::JoinSet::new();
    for (c, token) in guessers {
        set.spawn(async move {
            let origin = c.base().to_string();
            c.post_raw(
                "/auth/login",
                &[
                    ("login", "ana"),
                    ("password", "wrong password!"),
                    ("csrf_token", &token),
                ],
                &[("Origin", &origin)],
            )
            .await
            .status
        });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(status) = set.join_next().await {
        match status.expect("guess") {
            StatusCode::OK => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected answer to a guess: {other}"),
        }
    }
    assert!(
        checked <= limit,
        "{checked} guesses were checked (limit {limit})"
    );
    assert_eq!(checked + refused, 40);
    assert_eq!(failed_logins(&app), checked, "each check recorded once");
    let c = app.new_client();
    let r = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password waits"
    );
}

/// Point 2: the per-account count is the user's, whatever names them: guesses on the
/// handle from one address lock the e-mail log-in from another address too; and a
/// success does not count against the next attempts.
#[tokio::test]
async fn the_per_account_limit_keys_on_the_user_not_the_typed_identifier() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = atrium::settings::TrustedProxies::parse("127.0.0.1").expect("net");
    })
    .await;
    app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let limit = app.settings.login_attempts_per_minute;
    let c = app.new_client();
    // Successful log-ins give their slot back: more than the limit in a row pass.
    for _ in 0..limit + 2 {
        assert_eq!(
            login_from(&app.new_client(), "198.51.100.7", "bo", PW).await,
            StatusCode::SEE_OTHER
        );
    }
    for i in 0..limit {
        let status = login_from(&c, &format!("198.51.100.{}", i + 1), "ana", "wrong!!!").await;
        assert_eq!(status, StatusCode::OK, "guess {i}");
    }
    // Another address, the e-mail address this time, the right password: refused.
    assert_eq!(
        login_from(&app.new_client(), "203.0.113.50", "ANA@example.com", PW).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Someone else logs in from there as usual.
    assert_eq!(
        login_from(&app.new_client(), "203.0.113.50", "bo", PW).await,
        StatusCode::SEE_OTHER
    );
}

/// Point 2: the current password of the password change and sign-ups are throttled per
/// address too.
#[tokio::test]
async fn password_checks_and_sign_ups_are_throttled() {
    let app = spawn_app_with(|s| s.signups_per_hour = 3).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let limit = app.settings.login_attempts_per_minute;
    for _ in 0..limit {
        let r = ana
            .post_form(
                "/profile/password",
                &[
                    ("current_password", "not it at all"),
                    ("new_password", "another long password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = ana
        .post_form(
            "/profile/password",
            &[
                ("current_password", PW),
                ("new_password", "another long password"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains("Too many wrong passwords"));

    // Ana's was the first sign-up of the hour; two more pass, the fourth is refused.
    app.signup("bo@example.com", "bo", PW).await;
    app.signup("cy@example.com", "cy", PW).await;
    let users = app.count("SELECT COUNT(*) AS n FROM users");
    let c = app.new_client();
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "dee@example.com"),
                ("handle", "dee"),
                ("first_name", "Dee"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.text
            .contains("Too many accounts were created from your address")
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users"), users);
}

/// Point 4: `X-Forwarded-For` / `Forwarded` are believed only from a trusted proxy, and
/// then only what the trusted hops appended (the rightmost untrusted address).
#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    let ip_of_last_failure = |app: &TestApp| {
        crate::support::text(
            app,
            "SELECT ip AS t FROM audit_events WHERE action = 'atrium.user.login_failed' ORDER BY id DESC LIMIT 1",
        )
    };
    // No proxy trusted: the headers are ignored.
    let app = spawn_app().await;
    login_from(&app.new_client(), "203.0.113.9", "nobody", "wrong!!!").await;
    assert_eq!(ip_of_last_failure(&app), "127.0.0.1");

    let app = spawn_app_with(|s| {
        s.trusted_proxies =
            atrium::settings::TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8").expect("nets");
    })
    .await;
    login_from(&app.new_client(), "203.0.113.9", "nobody", "wrong!!!").await;
    assert_eq!(ip_of_last_failure(&app), "203.0.113.9");
    // A client's own claim at the start of the list is not believed past an untrusted hop.
    login_from(
        &app.new_client(),
        "6.6.6.6, 203.0.113.10, 10.1.2.3",
        "nobody",
        "wrong!!!",
    )
    .await;
    assert_eq!(ip_of_last_failure(&app), "203.0.113.10");
    // `Forwarded` (RFC 7239) when there is no `X-Forwarded-For`.
    let c = app.new_client();
    let token = c.csrf().await;
    let origin = c.base().to_string();
    c.post_raw(
        "/auth/login",
        &[
            ("login", "nobody"),
            ("password", "wrong!!!"),
            ("csrf_token", &token),
        ],
        &[
            ("Origin", &origin),
            ("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
        ],
    )
    .await;
    assert_eq!(ip_of_last_failure(&app), "2001:db8::7");
}

fn session_rows(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM sessions")
}

/// Point 3: anonymous page views write nothing; their forms keep their CSRF protection
/// (the token travels in the encrypted session cookie); a row appears at log-in.
#[tokio::test]
async fn anonymous_page_views_write_no_session_rows() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let after_signup = session_rows(&app);
    for path in ["/auth/login", "/auth/signup", "/auth/login?next=/profile"] {
        for _ in 0..17 {
            let c = app.new_client();
            assert_eq!(c.get(path).await.status, StatusCode::OK);
        }
    }
    let c = app.new_client();
    for _ in 0..10 {
        c.get("/auth/login").await;
    }
    assert_eq!(
        session_rows(&app),
        after_signup,
        "61 anonymous views, no rows"
    );

    // The anonymous form still needs its token: none, or another visitor's, is refused.
    let other = app.new_client();
    let others_token = other.csrf().await;
    let r = c
        .post_raw(
            "/auth/login",
            &[
                ("login", "ana"),
                ("password", PW),
                ("csrf_token", &others_token),
            ],
            &[("Origin", c.base())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A hand-made anonymous state is not a session: the cookie is encrypted.
    let forged = {
        use base64::Engine;
        let json = format!(
            r#"{{"state":{{"csrf":"\"forged-token\""}},"exp":{}}}"#,
            chrono::Utc::now().timestamp() + 3600
        );
        format!(
            "anon.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    };
    let f = crate::support::Client::with_session_cookie(&app.base, &forged);
    let r = f
        .post_raw(
            "/auth/login",
            &[
                ("login", "ana"),
                ("password", PW),
                ("csrf_token", "forged-token"),
            ],
            &[("Origin", f.base())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(session_rows(&app), after_signup);

    // Log-in with the page's own token: one row.
    let r = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(session_rows(&app), after_signup + 1);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);
}

/// Point 6: a session unused for longer than the idle timeout has ended; one in use goes
/// on (its last use is written at most once a minute).
#[tokio::test]
async fn sessions_end_after_the_idle_timeout() {
    let app =
        spawn_app_with(|s| s.session_idle_timeout = std::time::Duration::from_secs(1800)).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let set_seen = |handle: &str, minutes_ago: i64| {
        let uid = user_id(&app, handle);
        let at = atrium::db::now() - chrono::TimeDelta::minutes(minutes_ago);
        use diesel::prelude::*;
        diesel::update(
            atrium::db::schema::sessions::table
                .filter(atrium::db::schema::sessions::user_id.eq(uid)),
        )
        .set(atrium::db::schema::sessions::last_seen_at.eq(at))
        .execute(&mut app.conn())
        .expect("set last seen");
    };
    set_seen("ana", 31);
    set_seen("bo", 20);
    crate::support::let_remembered_answers_expire().await;
    let r = ana.get("/profile").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "idle for 31 minutes: ended"
    );
    assert!(r.location().is_some_and(|l| l.starts_with("/auth/login")));
    assert_eq!(bo.get("/profile").await.status, StatusCode::OK);
    // Bo's use was noted: 20 more minutes later he is still in.
    let seen_recently = app.count(&format!(
        "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{}' AND last_seen_at > created_at",
        user_id(&app, "bo")
    ));
    assert_eq!(seen_recently, 1);
    set_seen("bo", 0);
    assert_eq!(bo.get("/profile").await.status, StatusCode::OK);
}

/// Point 7: HSTS exactly when the public URL is https.
#[tokio::test]
async fn strict_transport_security_is_sent_when_the_public_url_is_https() {
    let plain = spawn_app().await;
    let r = plain.client.get("/auth/login").await;
    assert_eq!(r.header("strict-transport-security"), None);
    let https = spawn_app_with(|s| {
        s.public_url = Some(url::Url::parse("https://atrium.example.com/").expect("url"));
    })
    .await;
    // (TLS is the proxy's: Atrium itself listens on plain http behind it.)
    let r = reqwest::get(format!("http://127.0.0.1:{}/auth/login", https.port))
        .await
        .expect("GET");
    assert_eq!(
        r.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
}

/// Point 7: only Owners change the audit retention (an Admin could erase the trail of
/// their own actions), and the change is recorded.
#[tokio::test]
async fn only_owners_change_the_audit_retention_and_the_change_is_recorded() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let adam = app.signup("adam@example.com", "adam", PW).await;
    add_member(&app, &acct, "adam", "admin");
    let path = format!("/account/{acct}/settings");
    let form = |days: &'static str| {
        [
            ("name", "Acme"),
            ("handle", "acme"),
            ("workspace_limit", ""),
            ("audit_retention_days", days),
        ]
    };
    let retention = || {
        app.count(&format!(
            "SELECT CAST(audit_retention_days AS BIGINT) AS n FROM accounts WHERE id = '{acct}'"
        ))
    };
    let page = adam.get(&path).await;
    assert!(page.text.contains("Only Owners change it."));
    let r = adam.post_form(&path, &form("1")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text
            .contains("Only Owners change how long audit events are kept.")
    );
    assert_eq!(retention(), 365);
    // The Admin still saves the rest, with the retention as it is.
    let r = adam
        .post_form(
            &path,
            &[
                ("name", "Acme Inc"),
                ("handle", "acme"),
                ("workspace_limit", ""),
                ("audit_retention_days", "365"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The Owner changes it; the event records from and to.
    let r = ana.post_form(&path, &form("30")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(retention(), 30);
    let payload = crate::support::text(
        &app,
        "SELECT payload AS t FROM audit_events WHERE action = 'atrium.account.updated' ORDER BY id DESC LIMIT 1",
    );
    let v: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(v["audit_retention_days"], json!({ "from": 365, "to": 30 }));
}

/// Point 7: handles of Atrium's own words are refused, for people, organizations and
/// workspaces, beside the field; nothing is created.
#[tokio::test]
async fn reserved_handles_are_refused() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let users = app.count("SELECT COUNT(*) AS n FROM users");
    for handle in ["admin", "api", "static", "auth", "account"] {
        let c = app.new_client();
        let r = c
            .post_form(
                "/auth/signup",
                &[
                    ("email", &format!("{handle}@example.com")),
                    ("handle", handle),
                    ("first_name", "X"),
                    ("last_name", ""),
                    ("password", PW),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{handle}");
        assert!(r.text.contains("That handle is reserved"), "{handle}");
        let r = ana
            .post_form("/accounts/new", &[("name", "Org"), ("handle", handle)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{handle}");
        assert!(r.text.contains("That handle is reserved"), "{handle}");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users"), users);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle IN ('admin','api','static','auth','account')"), 0);
    let acct = create_org(&ana, "Acme", "acme").await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/workspaces"),
            &[("name", "Admin"), ("handle", "admin"), ("description", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("That handle is reserved"));
}

/// Point 7: a 400 page says what went wrong without the parser's internals (actix's
/// messages name serde's types and fields, e.g. "duplicate field `next`").
#[tokio::test]
async fn the_400_page_does_not_echo_parser_internals() {
    let app = spawn_app().await;
    let c = app.signup("ana@example.com", "ana", PW).await;
    let token = c.csrf().await;
    let answers = [
        // A query with a field twice.
        c.inner
            .get(app.url("/auth/login?next=/a&next=/b"))
            .send()
            .await
            .expect("GET"),
        // A form with a field twice.
        c.inner
            .post(app.url("/profile/password"))
            .header("Origin", c.base())
            .header("X-CSRF-Token", &token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("current_password=a&current_password=b&new_password=c")
            .send()
            .await
            .expect("POST"),
    ];
    for resp in answers {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(
            text.contains("Bad request") || text.contains("bad request"),
            "{text}"
        );
        for internal in [
            "duplicate field",
            "`",
            "deserialize",
            "Deserialize",
            "Parse error",
        ] {
            assert!(
                !text.contains(internal),
                "the 400 page says {internal:?}: {text}"
            );
        }
    }
}
