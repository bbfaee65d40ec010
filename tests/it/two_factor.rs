//! Two-factor authentication (issue #26, point 3): set-up with a code computed here from
//! the secret the page shows (RFC 6238 through `totp-rs`, independently of Atrium's own
//! check), log-in with and without the code, wrong and replayed codes, recovery codes that
//! work once, the account setting that leads members to set it up, throttling of wrong
//! codes, and refusals that change nothing.

use reqwest::{Method, StatusCode};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::api_support::{VIEWER_ROLE, call, grant, user_key};
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{Client, Page, TestApp, spawn_app, spawn_app_with};
use crate::workspaces::create_ws;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The code of `step` (30-second steps since the epoch) for the base32 secret.
pub(crate) fn code_at(secret: &str, step: u64) -> String {
    let bytes = Secret::Encoded(secret.to_string())
        .to_bytes()
        .expect("base32 secret");
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes).generate(step * 30)
}

/// A code the server accepts now and has not seen: of the earliest step of the window
/// (one step either side of now) after `last`, which it then becomes. Waits out the last
/// seconds of a step, so that the window does not move between here and the server.
pub(crate) async fn fresh_code(secret: &str, last: &mut u64) -> String {
    loop {
        let now = unix_now();
        if now % 30 >= 27 {
            tokio::time::sleep(std::time::Duration::from_secs(4)).await;
            continue;
        }
        let current = now / 30;
        if let Some(step) = (current - 1..=current + 1).find(|s| s > last) {
            *last = step;
            return code_at(secret, step);
        }
        tokio::time::sleep(std::time::Duration::from_secs(30 - now % 30 + 1)).await;
    }
}

/// A code that is none of the window's around now (nor the next steps').
pub(crate) fn wrong_code(secret: &str) -> String {
    let current = unix_now() / 30;
    (0..1_000_000)
        .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
        .find(|w| (current - 2..=current + 3).all(|s| code_at(secret, s) != *w))
        .expect("a wrong code")
}

/// The secret the set-up page shows in text (grouped by four).
pub(crate) fn secret_on(page: &str) -> String {
    let marker = "id=\"totp-secret\">";
    let i = page.find(marker).expect("the secret in text") + marker.len();
    let end = page[i..].find('<').expect("end of the secret");
    page[i..i + end].replace(' ', "")
}

/// The recovery codes a page shows once.
pub(crate) fn codes_on(page: &str) -> Vec<String> {
    let marker = "id=\"recovery-codes\">";
    let i = page.find(marker).expect("the recovery codes") + marker.len();
    let end = page[i..].find("</pre>").expect("end of the codes");
    page[i..i + end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Turns on two-factor authentication for the signed-in `c`; answers the secret, the
/// recovery codes and the last step used.
async fn enable(c: &Client) -> (String, Vec<String>, u64) {
    let r = c.post_form("/profile/two-factor/setup", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "set-up: {}", r.text);
    let p = c.get("/profile/two-factor").await;
    let secret = secret_on(&p.text);
    let mut last = 0;
    let code = fresh_code(&secret, &mut last).await;
    let r = c
        .post_form("/profile/two-factor/confirm", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "confirm: {}", r.text);
    (secret, codes_on(&r.text), last)
}

/// A new client that sent the right password of `login`: the answer to that.
async fn password_step(app: &TestApp, login: &str, next: Option<&str>) -> (Client, Page) {
    let c = app.new_client();
    let path = match next {
        Some(n) => format!("/auth/login?next={n}"),
        None => "/auth/login".into(),
    };
    let r = c
        .post_form(&path, &[("login", login), ("password", PW)])
        .await;
    (c, r)
}

async fn signed_in(c: &Client) -> bool {
    c.get("/profile").await.status == StatusCode::OK
}

fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
}

#[tokio::test]
async fn set_up_then_log_in_with_and_without_the_code() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let ana_id = user_id(&app, "ana");

    // Off at first, with a button to set it up; the profile links to the page.
    assert!(
        ana.get("/profile")
            .await
            .text
            .contains("href=\"/profile/two-factor\"")
    );
    let p = ana.get("/profile/two-factor").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.text
            .contains(">Set up two-factor authentication</button>"),
        "{}",
        p.text
    );

    // Set-up: a QR code (inline SVG, nothing fetched), the secret in text, a labelled field.
    let r = ana.post_form("/profile/two-factor/setup", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let p = ana.get("/profile/two-factor").await;
    assert!(
        p.text.contains("src=\"data:image/svg+xml;base64,"),
        "{}",
        p.text
    );
    assert!(
        p.text
            .contains("<label for=\"code\">Code from your app</label>")
    );
    assert!(
        p.text
            .contains("otpauth://totp/Atrium:ana%40example.com?secret=")
    );
    let secret = secret_on(&p.text);
    assert_eq!(secret.len(), 32, "{secret}");
    // Sealed, never stored plain.
    let stored = crate::support::text(
        &app,
        &format!("SELECT secret_sealed AS t FROM user_totp WHERE user_id = '{ana_id}'"),
    );
    assert!(!stored.contains(&secret));

    // A wrong code: 422 beside the field, nothing changed.
    let r = ana
        .post_form("/profile/two-factor/confirm", &[("code", "000000x")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"code-error\""), "{}", r.text);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM user_totp WHERE confirmed_at IS NOT NULL"),
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM recovery_codes"), 0);

    // The right code: on, ten recovery codes shown once and stored as digests.
    let mut last = 0;
    let code = fresh_code(&secret, &mut last).await;
    let r = ana
        .post_form("/profile/two-factor/confirm", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let codes = codes_on(&r.text);
    assert_eq!(codes.len(), 10);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM recovery_codes"), 10);
    for c in &codes {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM recovery_codes WHERE digest LIKE '%{}%'",
                c.replace('-', "")
            )),
            0
        );
    }
    let again = ana.get("/profile/two-factor").await;
    assert!(!again.text.contains(&codes[0]), "the codes are shown once");
    assert!(
        again.text.contains("10 of your recovery codes are unused"),
        "{}",
        again.text
    );
    assert_eq!(events(&app, "atrium.user.two_factor_enabled"), 1);

    // Log-in: the password alone starts no session.
    let logins = events(&app, "atrium.user.logged_in");
    let (c, r) = password_step(&app, "ana", Some("/profile/sessions")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/auth/two-factor"));
    assert!(!signed_in(&c).await);
    let p = c.get("/auth/two-factor").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.text
            .contains("<label for=\"code\">Code from your app</label>")
    );
    assert!(
        p.text
            .contains("<label for=\"recovery_code\">Recovery code</label>")
    );
    assert_eq!(events(&app, "atrium.user.logged_in"), logins);

    // A wrong code: 422 beside the field, still not signed in, the failure recorded.
    let wrong = wrong_code(&secret);
    let r = c.post_form("/auth/two-factor", &[("code", &wrong)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"code-error\""), "{}", r.text);
    assert!(!signed_in(&c).await);
    assert_eq!(events(&app, "atrium.user.two_factor_failed"), 1);

    // The right code: signed in, on to `next`.
    let code = fresh_code(&secret, &mut last).await;
    let r = c.post_form("/auth/two-factor", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location().as_deref(), Some("/profile/sessions"));
    assert!(signed_in(&c).await);
    assert_eq!(events(&app, "atrium.user.logged_in"), logins + 1);
    // The step is over: the second-step page sends to the log-in page.
    let p = app.new_client().get("/auth/two-factor").await;
    assert_eq!(p.location().as_deref(), Some("/auth/login"));

    // The same code again (another browser, within its window): refused as a replay.
    let (c2, _) = password_step(&app, "ana@example.com", None).await;
    let r = c2.post_form("/auth/two-factor", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("already used"), "{}", r.text);
    assert!(!signed_in(&c2).await);

    // A user without two-factor logs in with the password alone.
    app.signup("bob@example.com", "bob", PW).await;
    let (b, r) = password_step(&app, "bob", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_ne!(r.location().as_deref(), Some("/auth/two-factor"));
    assert!(signed_in(&b).await);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let (_, codes, _) = enable(&ana).await;

    let (c, _) = password_step(&app, "ana", None).await;
    // Read leniently: upper case, spaces for the dash.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let r = c
        .post_form("/auth/two-factor", &[("recovery_code", &typed)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(&c).await);
    assert_eq!(events(&app, "atrium.user.recovery_code_used"), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM recovery_codes WHERE used_at IS NOT NULL"),
        1
    );

    // Used: refused the second time, beside its field.
    let (c, _) = password_step(&app, "ana", None).await;
    let r = c
        .post_form("/auth/two-factor", &[("recovery_code", &codes[0])])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"recovery_code-error\""), "{}", r.text);
    assert!(!signed_in(&c).await);

    // Two browsers sending one code at the same moment: exactly one gets in.
    let (x, _) = password_step(&app, "ana", None).await;
    let (y, _) = password_step(&app, "ana", None).await;
    let form = [("recovery_code", codes[1].as_str())];
    let (rx, ry) = tokio::join!(
        x.post_form("/auth/two-factor", &form),
        y.post_form("/auth/two-factor", &form)
    );
    let ok = [&rx, &ry]
        .iter()
        .filter(|r| r.status == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(ok, 1, "{} / {}", rx.status, ry.status);
    assert_eq!(events(&app, "atrium.user.recovery_code_used"), 2);

    // New codes replace the old ones, used or not.
    let r = ana
        .post_form("/profile/two-factor/recovery-codes", &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fresh = codes_on(&r.text);
    assert_eq!(fresh.len(), 10);
    assert_eq!(events(&app, "atrium.user.recovery_codes_regenerated"), 1);
    let (c, _) = password_step(&app, "ana", None).await;
    let r = c
        .post_form("/auth/two-factor", &[("recovery_code", &codes[5])])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = c
        .post_form("/auth/two-factor", &[("recovery_code", &fresh[5])])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // Turning it off removes the secret and the codes; log-ins ask for the password only.
    let r = ana.post_form("/profile/two-factor/disable", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM user_totp"), 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM recovery_codes"), 0);
    assert_eq!(events(&app, "atrium.user.two_factor_disabled"), 1);
    let (c, r) = password_step(&app, "ana", None).await;
    assert_ne!(r.location().as_deref(), Some("/auth/two-factor"));
    assert!(signed_in(&c).await);
}

#[tokio::test]
async fn wrong_codes_are_throttled_even_before_a_right_one() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let (secret, _, mut last) = enable(&ana).await;
    let (c, _) = password_step(&app, "ana", None).await;
    let wrong = wrong_code(&secret);
    for i in 0..5 {
        let r = c.post_form("/auth/two-factor", &[("code", &wrong)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    // The limit is reached: the right code waits too.
    let code = fresh_code(&secret, &mut last).await;
    let r = c.post_form("/auth/two-factor", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.header("retry-after").as_deref(), Some("60"));
    assert!(r.text.contains("Too many wrong codes"), "{}", r.text);
    assert!(!signed_in(&c).await);
    // A recovery code too, and from another browser of the same user.
    let (d, _) = password_step(&app, "ana", None).await;
    let r = d
        .post_form("/auth/two-factor", &[("recovery_code", "abcde-fghjk")])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(events(&app, "atrium.user.two_factor_failed"), 5);
}

#[tokio::test]
async fn the_account_requirement_leads_members_to_set_up() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let mel = app.signup("mel@example.com", "mel", PW).await;
    add_member(&app, &acme, "mel", "member");
    let ada = app.signup("ada@example.com", "ada", PW).await;
    add_member(&app, &acme, "ada", "admin");
    let settings = format!("/account/{acme}/settings");
    let required = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE id = '{acme}' AND require_two_factor = true"
        ))
    };
    let form = |on: bool| {
        let mut f = vec![("name", "Acme"), ("handle", "acme")];
        if on {
            f.push(("require_two_factor", "on"));
        }
        f
    };

    // The Owner sees the setting, labelled.
    let p = ana.get(&settings).await;
    assert!(
        p.text
            .contains("Require two-factor authentication for members"),
        "{}",
        p.text
    );
    // Requiring it without having it: refused beside the field, nothing changed.
    let r = ana.post_form(&settings, &form(true)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("id=\"require_two_factor-error\""),
        "{}",
        r.text
    );
    assert_eq!(required(), 0);
    // Members and Admins may not change it (403, unchanged).
    let r = mel.post_form(&settings, &form(true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = ada.post_form(&settings, &form(true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text.contains("Only Owners change whether members"),
        "{}",
        r.text
    );
    assert_eq!(required(), 0);

    // The Owner with two-factor on requires it; the change is in the audit payload.
    enable(&ana).await;
    let r = ana.post_form(&settings, &form(true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(required(), 1);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.account.updated' \
             AND payload LIKE '%\"require_two_factor\":{\"from\":false,\"to\":true}%'"
        ),
        1
    );
    // An Admin (with two-factor on) saving the other settings keeps it: the page sends it
    // along.
    enable(&ada).await;
    let p = ada.get(&settings).await;
    assert!(
        p.text
            .contains("type=\"hidden\" name=\"require_two_factor\" value=\"on\"")
    );
    let r = ada.post_form(&settings, &form(true)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(required(), 1);

    // A member without it is led to set it up: on the account's pages...
    let r = mel.get(&format!("/account/{acme}/members")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/profile/two-factor"));
    let r = mel.post_htmx(&format!("/account/{acme}/leave"), &[]).await;
    assert_eq!(
        r.header("hx-redirect").as_deref(),
        Some("/profile/two-factor")
    );
    // ... its workspaces' pages ...
    let dashboard = create_ws(&ana, &acme, "Prod", "prod").await;
    grant(&app, &crate::support::ws_id(&dashboard), "mel", VIEWER_ROLE);
    assert_eq!(ana.get(&dashboard).await.status, StatusCode::OK);
    let r = mel.get(&dashboard).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location().as_deref(), Some("/profile/two-factor"));
    let p = mel.get("/profile/two-factor").await;
    assert!(
        p.text.contains("Acme requires two-factor authentication"),
        "{}",
        p.text
    );
    // ... and at sign-in.
    let (mel2, r) = password_step(&app, "mel", Some("/account/x")).await;
    assert_eq!(r.location().as_deref(), Some("/profile/two-factor"));
    assert!(signed_in(&mel2).await);
    // Their API keys are not affected.
    let key = user_key(&app, "mel");
    let r = call(
        &app,
        Some(&key),
        Method::GET,
        &format!("/api/accounts/{acme}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    // Once set up, the account's pages open; it cannot be turned off while required.
    enable(&mel2).await;
    let r = mel2.get(&format!("/account/{acme}/members")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(mel2.get(&dashboard).await.status, StatusCode::OK);
    let r = mel2.post_form("/profile/two-factor/disable", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("cannot be turned off"), "{}", r.text);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM user_totp WHERE confirmed_at IS NOT NULL"),
        3
    );
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let before = events(&app, "atrium.user.two_factor_enabled")
        + events(&app, "atrium.user.two_factor_disabled")
        + events(&app, "atrium.user.recovery_codes_regenerated");
    // Nothing set up: confirming, regenerating and turning off are refused.
    let r = ana
        .post_form("/profile/two-factor/confirm", &[("code", "123456")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = ana
        .post_form("/profile/two-factor/recovery-codes", &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = ana.post_form("/profile/two-factor/disable", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // An empty or malformed code beside the field.
    ana.post_form("/profile/two-factor/setup", &[]).await;
    for bad in ["", "12345", "abcdef", "1234567890123", "12\u{0}456"] {
        let r = ana
            .post_form("/profile/two-factor/confirm", &[("code", bad)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert!(r.text.contains("id=\"code-error\""), "{bad:?}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM user_totp WHERE confirmed_at IS NULL"),
        1
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM recovery_codes"), 0);
    let after = events(&app, "atrium.user.two_factor_enabled")
        + events(&app, "atrium.user.two_factor_disabled")
        + events(&app, "atrium.user.recovery_codes_regenerated");
    assert_eq!(before, after);
    // The second step without a password first: to the log-in page.
    let r = app
        .new_client()
        .post_form("/auth/two-factor", &[("code", "123456")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/auth/login"));
    // The account checkbox holds only on or off.
    let acme = create_org(&ana, "Acme", "acme").await;
    let r = ana
        .post_form(
            &format!("/account/{acme}/settings"),
            &[
                ("name", "Acme"),
                ("handle", "acme"),
                ("require_two_factor", "maybe"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"require_two_factor-error\""));
}

#[tokio::test]
async fn changes_ask_for_the_password_again_outside_sudo_mode() {
    let app = spawn_app_with(|s| s.sudo_window = std::time::Duration::from_secs(0)).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    for path in [
        "/profile/two-factor/setup",
        "/profile/two-factor/recovery-codes",
        "/profile/two-factor/disable",
    ] {
        let r = ana.post_form(path, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.text.contains("/auth/confirm"), "{path}: {}", r.text);
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM user_totp"), 0);
}
