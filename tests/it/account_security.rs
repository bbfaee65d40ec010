//! E-mail verification, password reset and sudo mode (issue #19, points 5 and 6).
//!
//! Links are read from the e-mail: over real SMTP in the first test, from the outbox table
//! (the same rendered body) in the others.

use std::time::Duration;

use atrium::settings::MailTransport;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::members::{PW, create_org, user_id};
use crate::support::smtp::SmtpServer;
use crate::support::{Client, TestApp, spawn_app, spawn_app_with, text};

const NEW_PW: &str = "a brand new password";

fn exec(app: &TestApp, sql: &str) {
    diesel::sql_query(sql)
        .execute(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The path (with its code) of the newest link of `kind` e-mailed to `to`.
pub fn mailed_link(app: &TestApp, kind: &str, to: &str) -> String {
    let body = text(
        app,
        &format!(
            "SELECT text_body AS t FROM outbox WHERE kind = '{kind}' AND to_addr = '{to}' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
    );
    let start = body
        .find(&format!("{}/auth/", app.base))
        .unwrap_or_else(|| panic!("no link in the e-mail: {body}"));
    let rest = &body[start + app.base.len()..];
    rest.split_whitespace()
        .next()
        .expect("the link")
        .to_string()
}

fn path_of(link: &str) -> String {
    link.split('?').next().unwrap_or_default().to_string()
}

fn code_of(link: &str) -> String {
    link.split("code=").nth(1).unwrap_or_default().to_string()
}

fn verified(app: &TestApp, handle: &str) -> bool {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM users WHERE handle = '{handle}' AND email_verified_at IS NOT NULL"
    )) == 1
}

fn users_named(app: &TestApp, handle: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM users WHERE handle = '{handle}'"
    ))
}

async fn logged_in(c: &Client) -> bool {
    c.get("/profile").await.status == StatusCode::OK
}

async fn log_in(app: &TestApp, login: &str, password: &str) -> Option<Client> {
    let c = app.new_client();
    let r = c
        .post_form("/auth/login", &[("login", login), ("password", password)])
        .await;
    (r.status == StatusCode::SEE_OTHER).then_some(c)
}

// ---------------------------------------------------------------------------------------
// E-mail verification
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_link_mailed_at_sign_up_verifies_the_address_once() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_millis(100);
    })
    .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    assert!(!verified(&app, "ana"), "a new address starts unverified");
    let profile = ana.get("/profile").await;
    assert!(profile.text.contains("Unverified"), "{}", profile.text);
    assert!(profile.text.contains("Resend verification e-mail"));

    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t == "ana@example.com"))
        .expect("a mail to ana");
    let link = mail
        .find_link(&format!("{}/auth/verify/", app.base))
        .expect("a verification link")
        .trim_start_matches(&app.base)
        .to_string();
    // Opening it (a mail scanner, or anyone) changes nothing.
    let anon = app.new_client();
    for _ in 0..2 {
        let p = anon.get(&link).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.text.contains("Verify e-mail address"), "{}", p.text);
    }
    assert!(!verified(&app, "ana"));
    let done = anon
        .post_form(&path_of(&link), &[("code", &code_of(&link))])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("is verified"));
    assert!(verified(&app, "ana"));
    assert!(ana.get("/profile").await.text.contains("Verified"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.user.email_verified'"
        ),
        1
    );
    // Used: says so.
    let again = anon
        .post_form(&path_of(&link), &[("code", &code_of(&link))])
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text.contains("already been used"), "{}", again.text);
    // A wrong code or an unknown link: not valid.
    let wrong = anon.get(&format!("{}?code=nope", path_of(&link))).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert!(wrong.text.contains("This link is not valid"));
}

#[tokio::test]
async fn expired_and_superseded_verification_links_do_nothing_and_resending_is_throttled() {
    let app = spawn_app().await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let first = mailed_link(&app, "verify_email", "bo@example.com");
    exec(
        &app,
        "UPDATE email_tokens SET expires_at = '2000-01-01 00:00:00' WHERE purpose = 'verify'",
    );
    let anon = app.new_client();
    let p = anon.get(&first).await;
    assert_eq!(p.status, StatusCode::GONE);
    assert!(p.text.contains("This link has expired"), "{}", p.text);
    let p = anon
        .post_form(&path_of(&first), &[("code", &code_of(&first))])
        .await;
    assert_eq!(p.status, StatusCode::GONE);
    assert!(!verified(&app, "bo"));

    // "Resend verification e-mail": a new link; it works.
    let r = bo.post_form("/profile/email/verify", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("We sent a new verification link"));
    let second = mailed_link(&app, "verify_email", "bo@example.com");
    assert_ne!(first, second);
    // Throttled: three e-mails a minute.
    for _ in 0..2 {
        assert_eq!(
            bo.post_form("/profile/email/verify", &[]).await.status,
            StatusCode::OK
        );
    }
    let limited = bo.post_form("/profile/email/verify", &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text.contains("Wait a minute"));
    let newest = mailed_link(&app, "verify_email", "bo@example.com");
    // Only the newest link works.
    let old = anon
        .post_form(&path_of(&second), &[("code", &code_of(&second))])
        .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND, "{}", old.text);
    let ok = anon
        .post_form(&path_of(&newest), &[("code", &code_of(&newest))])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(verified(&app, "bo"));
}

/// The invitation link of the newest invitation to `to`, from its e-mail.
fn invitation_link(app: &TestApp, to: &str) -> String {
    let body = text(
        app,
        &format!(
            "SELECT text_body AS t FROM outbox WHERE kind = 'invitation' AND to_addr = '{to}' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
    );
    let start = body.find("/invitations/").expect("invitation link");
    body[start..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_string()
}

async fn invite(app: &TestApp, admin: &Client, account: &str, email: &str) -> String {
    let r = admin
        .post_form(
            &format!("/account/{account}/invitations"),
            &[("emails", email), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "invite: {}", r.text);
    invitation_link(app, email)
}

async fn invitation_signup(
    app: &TestApp,
    link: &str,
    handle: &str,
) -> (Client, crate::support::Page) {
    let c = app.new_client();
    let (path, code) = (path_of(link), code_of(link));
    c.get(&format!("{path}/signup?code={code}")).await;
    let r = c
        .post_form(
            &format!("{path}/signup?code={code}"),
            &[
                ("handle", handle),
                ("first_name", "New"),
                ("last_name", "Comer"),
                ("password", PW),
            ],
        )
        .await;
    (c, r)
}

#[tokio::test]
async fn an_invitation_sign_up_replaces_an_unverified_holder_of_the_address_but_not_a_verified_one()
{
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    // Someone signs up with Bob's address first, and makes an organization of their own.
    let squatter = app.signup("bob@example.com", "squatter", PW).await;
    create_org(&squatter, "Squat", "squat").await;
    let squatter_id = user_id(&app, "squatter");

    let link = invite(&app, &ana, &acme, "bob@example.com").await;
    let form = app
        .new_client()
        .get(&format!(
            "{}/signup?code={}",
            path_of(&link),
            code_of(&link)
        ))
        .await;
    assert!(
        form.text.contains("An account that never verified"),
        "the invitee is told: {}",
        form.text
    );
    let (bob, r) = invitation_signup(&app, &link, "bob").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.location().as_deref(),
        Some(format!("/account/{acme}/members").as_str())
    );
    assert!(logged_in(&bob).await);
    assert_eq!(
        users_named(&app, "squatter"),
        0,
        "the unverified holder is gone"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle IN ('squatter', 'squat')"),
        0,
        "with its personal account and the organization it alone owned"
    );
    assert!(!logged_in(&squatter).await, "its sessions ended");
    assert!(verified(&app, "bob"), "the invitation proved the address");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.user.replaced' \
             AND resource_id = '{squatter_id}' AND actor_id = '{}'",
            user_id(&app, "bob")
        )),
        1
    );

    // A verified holder still blocks the address.
    app.signup("cy@example.com", "cy", PW).await;
    exec(
        &app,
        "UPDATE users SET email_verified_at = created_at WHERE handle = 'cy'",
    );
    let link = invite(&app, &ana, &acme, "cy@example.com").await;
    let (_, r) = invitation_signup(&app, &link, "cy-two").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("already exists"));
    assert_eq!(users_named(&app, "cy"), 1);
    assert_eq!(users_named(&app, "cy-two"), 0);
}

#[tokio::test]
async fn accepting_an_invitation_while_logged_in_verifies_the_address() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let eve = app.signup("eve@example.com", "eve", PW).await;
    let link = invite(&app, &ana, &acme, "eve@example.com").await;
    eve.get(&link).await;
    let r = eve
        .post_form(
            &format!("{}/accept", path_of(&link)),
            &[("code", &code_of(&link))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(verified(&app, "eve"));
}

#[tokio::test]
async fn a_plain_sign_up_replaces_an_unverified_holder_only_after_a_link_lifetime() {
    let app = spawn_app().await;
    let signup = |handle: &'static str| {
        let c = app.new_client();
        async move {
            c.post_form(
                "/auth/signup",
                &[
                    ("email", "dan@example.com"),
                    ("handle", handle),
                    ("first_name", "Dan"),
                    ("last_name", ""),
                    ("password", PW),
                ],
            )
            .await
        }
    };
    app.signup("dan@example.com", "early", PW).await;
    let r = signup("dan").await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a fresh one blocks"
    );
    assert!(r.text.contains("already exists"));
    // Older than a verification link's lifetime (24 hours) and still unverified: replaced.
    exec(
        &app,
        "UPDATE users SET created_at = '2000-01-01 00:00:00' WHERE handle = 'early'",
    );
    let r = signup("dan").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(users_named(&app, "early"), 0);
    assert!(!verified(&app, "dan"), "a plain sign-up proves nothing yet");
    // A verified one, however old, keeps blocking.
    exec(
        &app,
        "UPDATE users SET created_at = '2000-01-01 00:00:00', email_verified_at = '2000-01-02 00:00:00' \
         WHERE handle = 'dan'",
    );
    let r = signup("dan-again").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(users_named(&app, "dan"), 1);
}

// ---------------------------------------------------------------------------------------
// Forgot password
// ---------------------------------------------------------------------------------------

async fn forgot(c: &Client, email: &str) -> crate::support::Page {
    c.get("/auth/forgot").await;
    c.post_form("/auth/forgot", &[("email", email)]).await
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let login = app.new_client().get("/auth/login").await;
    assert!(login.text.contains("href=\"/auth/forgot\""));
    let c = app.new_client();
    let known = forgot(&c, "Ana@Example.com").await;
    let unknown = forgot(&c, "nobody@example.com").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.status, StatusCode::OK);
    let notice = atrium::users::pages::security::FORGOT_SENT;
    assert!(known.text.contains(notice) && unknown.text.contains(notice));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("csrf"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&known.text), strip(&unknown.text), "the same page");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'password_reset'"),
        1,
        "a link only to the known address"
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'password_reset' AND to_addr = 'ana@example.com'"
        ),
        1
    );
}

#[tokio::test]
async fn a_reset_link_sets_the_password_once_verifies_the_address_and_ends_every_session() {
    let app = spawn_app().await;
    let laptop = app.signup("ana@example.com", "ana", PW).await;
    let phone = log_in(&app, "ana", PW).await.expect("log-in");
    let stranger = app.new_client();
    assert_eq!(
        forgot(&stranger, "ana@example.com").await.status,
        StatusCode::OK
    );
    let link = mailed_link(&app, "password_reset", "ana@example.com");
    assert!(link.starts_with("/auth/reset/"), "{link}");

    let form = stranger.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("Set new password") && form.text.contains("password_confirm"));
    let (path, code) = (path_of(&link), code_of(&link));
    let r = stranger
        .post_form(
            &path,
            &[
                ("code", &code),
                ("password", NEW_PW),
                ("password_confirm", "something else"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("id=\"password_confirm-error\""),
        "{}",
        r.text
    );
    let r = stranger
        .post_form(
            &path,
            &[
                ("code", &code),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"password-error\""));
    assert!(logged_in(&laptop).await, "nothing changed yet");

    let r = stranger
        .post_form(
            &path,
            &[
                ("code", &code),
                ("password", NEW_PW),
                ("password_confirm", NEW_PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Your password was changed"));
    assert!(!logged_in(&laptop).await, "every session ended");
    assert!(!logged_in(&phone).await, "every session ended");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = '{}'",
            user_id(&app, "ana")
        )),
        0
    );
    assert!(verified(&app, "ana"), "the link proved the address");
    assert!(log_in(&app, "ana", PW).await.is_none());
    assert!(log_in(&app, "ana", NEW_PW).await.is_some());

    // Single use: the link says so and changes nothing.
    let again = stranger.get(&link).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text.contains("already been used"));
    let r = stranger
        .post_form(
            &path,
            &[
                ("code", &code),
                ("password", "third password!"),
                ("password_confirm", "third password!"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(log_in(&app, "ana", NEW_PW).await.is_some());
    assert!(log_in(&app, "ana", "third password!").await.is_none());
    for action in [
        "atrium.user.password_reset_requested",
        "atrium.user.password_reset",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
            )),
            1,
            "{action}"
        );
    }
}

#[tokio::test]
async fn an_expired_or_unknown_reset_link_changes_nothing() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let c = app.new_client();
    forgot(&c, "ana@example.com").await;
    let link = mailed_link(&app, "password_reset", "ana@example.com");
    exec(
        &app,
        "UPDATE email_tokens SET expires_at = '2000-01-01 00:00:00' WHERE purpose = 'reset'",
    );
    let p = c.get(&link).await;
    assert_eq!(p.status, StatusCode::GONE);
    assert!(p.text.contains("This link has expired"), "{}", p.text);
    let r = c
        .post_form(
            &path_of(&link),
            &[
                ("code", &code_of(&link)),
                ("password", NEW_PW),
                ("password_confirm", NEW_PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::GONE);
    let unknown = c
        .get(&format!("/auth/reset/{}?code=x", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text.contains("This link is not valid"));
    assert!(log_in(&app, "ana", PW).await.is_some());
    assert!(log_in(&app, "ana", NEW_PW).await.is_none());
}

#[tokio::test]
async fn forgot_password_is_throttled_per_client_address() {
    let app = spawn_app_with(|s| s.login_attempts_per_minute = 3).await;
    app.signup("ana@example.com", "ana", PW).await;
    let c = app.new_client();
    for to in ["ana@example.com", "x@example.com", "ana@example.com"] {
        assert_eq!(forgot(&c, to).await.status, StatusCode::OK);
    }
    let limited = forgot(&app.new_client(), "ana@example.com").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after").as_deref(), Some("60"));
    assert!(
        limited
            .text
            .contains(atrium::users::pages::security::FORGOT_TOO_MANY)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'password_reset'"),
        2,
        "nothing sent once throttled"
    );
    // Log-ins count apart.
    assert!(log_in(&app, "ana", PW).await.is_some());
}

// ---------------------------------------------------------------------------------------
// Sudo mode
// ---------------------------------------------------------------------------------------

/// Moves the last password entry of every session of `handle` far into the past, as if
/// the password had been entered long ago (test-only: the session state in the database).
fn make_password_entry_stale(app: &TestApp, handle: &str) {
    use atrium::db::schema::sessions;
    let uid = user_id(app, handle);
    let mut c = app.conn();
    let rows: Vec<(String, String)> = sessions::table
        .filter(sessions::user_id.eq(&uid))
        .select((sessions::id, sessions::data))
        .load(&mut c)
        .expect("sessions");
    assert!(!rows.is_empty());
    for (id, data) in rows {
        let mut state: std::collections::HashMap<String, String> =
            serde_json::from_str(&data).expect("session state");
        assert!(
            state.contains_key("pw_at"),
            "log-in records the entry: {data}"
        );
        state.insert("pw_at".into(), "0".into());
        diesel::update(sessions::table.filter(sessions::id.eq(id)))
            .set(sessions::data.eq(serde_json::to_string(&state).expect("json")))
            .execute(&mut c)
            .expect("update session");
    }
}

async fn confirm(c: &Client, password: &str, next: &str) -> crate::support::Page {
    c.get(&format!("/auth/confirm?next={next}")).await;
    c.post_form("/auth/confirm", &[("password", password), ("next", next)])
        .await
}

fn keys_of(app: &TestApp, handle: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM api_keys WHERE user_id = '{}'",
        user_id(app, handle)
    ))
}

#[tokio::test]
async fn a_stale_password_entry_asks_for_the_password_before_an_api_key_is_created() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    // Fresh from sign-up: no question.
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "first"), ("expiration", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys_of(&app, "ana"), 1);

    make_password_entry_stale(&app, "ana");
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "second"), ("expiration", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("Confirm your password"));
    assert!(
        r.text.contains("name=\"next\" value=\"/profile/api-keys\""),
        "{}",
        r.text
    );
    assert_eq!(keys_of(&app, "ana"), 1, "nothing created");
    // htmx gets sent to the page.
    let r = ana
        .post_htmx(
            "/profile/api-keys",
            &[("name", "second"), ("expiration", "")],
        )
        .await;
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some("/auth/confirm?next=%2Fprofile%2Fapi-keys")
    );
    assert_eq!(keys_of(&app, "ana"), 1);

    let wrong = confirm(&ana, "not my password", "/profile/api-keys").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text.contains("id=\"password-error\""));
    let ok = confirm(&ana, PW, "/profile/api-keys").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(ok.location().as_deref(), Some("/profile/api-keys"));
    let r = ana
        .post_form(
            "/profile/api-keys",
            &[("name", "second"), ("expiration", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys_of(&app, "ana"), 2, "created after confirming");
    // Where it sends back is checked like log-in's `next`.
    make_password_entry_stale(&app, "ana");
    let r = confirm(&ana, PW, "//evil.example").await;
    assert_eq!(r.location().as_deref(), Some("/"));
}

#[tokio::test]
async fn deleting_an_account_or_a_workspace_asks_for_the_password_when_it_is_stale() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let dashboard = crate::workspaces::create_ws(&ana, &acme, "Prod", "prod").await;
    let ws = crate::support::ws_id(&dashboard);
    make_password_entry_stale(&app, "ana");

    let ws_delete = format!("/account/{acme}/workspace/{ws}/delete");
    let r = ana
        .post_form(&ws_delete, &[("confirm_handle", "prod")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("Confirm your password"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 1);
    let r = ana
        .post_form(
            &format!("/account/{acme}/delete"),
            &[("confirm_handle", "acme")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text
            .contains(&format!("value=\"/account/{acme}/settings\""))
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'acme'"),
        1
    );

    let back = format!("/account/{acme}/workspace/{ws}/settings");
    let ok = confirm(&ana, PW, &back).await;
    assert_eq!(ok.location(), Some(back));
    let r = ana
        .post_form(&ws_delete, &[("confirm_handle", "prod")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspaces"), 0);
    let r = ana
        .post_form(
            &format!("/account/{acme}/delete"),
            &[("confirm_handle", "acme")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'acme'"),
        0
    );
}

#[tokio::test]
async fn a_new_e_mail_address_counts_only_once_its_link_is_used_and_the_old_one_is_told() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    make_password_entry_stale(&app, "ana");
    let r = ana
        .post_form("/profile/email", &[("new_email", "ana@new.example")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("Confirm your password"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'change_email'"),
        0
    );
    confirm(&ana, PW, "/profile").await;
    // A verified address of someone else is refused beside the field.
    app.signup("bo@example.com", "bo", PW).await;
    exec(
        &app,
        "UPDATE users SET email_verified_at = created_at WHERE handle = 'bo'",
    );
    let r = ana
        .post_form("/profile/email", &[("new_email", "bo@example.com")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"new_email-error\""));

    let r = ana
        .post_form("/profile/email", &[("new_email", "Ana@New.example")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("We sent a link to Ana@New.example"));
    assert_eq!(
        text(&app, "SELECT email AS t FROM users WHERE handle = 'ana'"),
        "ana@example.com",
        "unchanged until the new address is proved"
    );
    let link = mailed_link(&app, "change_email", "Ana@New.example");
    let anon = app.new_client();
    let p = anon.get(&link).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text.contains("Use this address"));
    let r = anon
        .post_form(&path_of(&link), &[("code", &code_of(&link))])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        text(
            &app,
            "SELECT email_normalized AS t FROM users WHERE handle = 'ana'"
        ),
        "ana@new.example"
    );
    assert!(verified(&app, "ana"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'notice' AND to_addr = 'ana@example.com'"
        ),
        1,
        "the old address is told"
    );
    assert!(log_in(&app, "ana@new.example", PW).await.is_some());
}

#[tokio::test]
async fn the_password_confirmation_is_throttled_per_user() {
    let app = spawn_app_with(|s| s.login_attempts_per_minute = 3).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    for _ in 0..3 {
        let r = confirm(&ana, "wrong password", "/profile").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = confirm(&ana, PW, "/profile").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    // From another client of the same user too.
    let other = log_in(&app, "ana", PW).await.expect("log-in");
    let r = confirm(&other, PW, "/profile").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}
