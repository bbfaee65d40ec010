//! Sign-up, log-in, sessions, CSRF and the page shell (issue: foundation).

use reqwest::StatusCode;

use crate::support::{Client, spawn_app, spawn_app_with};

const PW: &str = "correct horse battery";

#[tokio::test]
async fn root_redirects_to_the_login_page() {
    let app = spawn_app().await;
    let r = app.client.get("/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/auth/login"));
    let login = app.client.get("/auth/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.text.contains("Log in to Atrium"));
}

#[tokio::test]
async fn signup_creates_user_personal_account_and_owner_membership() {
    let app = spawn_app().await;
    let c = app.new_client();
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "Ana@Example.com"),
                ("handle", "ana"),
                ("first_name", "Ana"),
                ("last_name", "Lima"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location().as_deref(), Some("/onboarding"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'ana@example.com'"),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE kind = 'personal' AND handle = 'ana' AND name = 'Ana Lima'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM account_memberships m JOIN accounts a ON a.id = m.account_id \
             JOIN users u ON u.id = m.user_id WHERE u.handle = 'ana' AND a.handle = 'ana' AND m.role = 'owner'"
        ),
        1
    );
    // The password is stored as an argon2id PHC string with at least the default cost.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'"),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.user.signed_up'"),
        1
    );
    let onboarding = c.get("/onboarding").await;
    assert_eq!(onboarding.status, StatusCode::OK);
    assert!(onboarding.text.contains("Welcome to Atrium, Ana"));
}

#[tokio::test]
async fn duplicate_email_in_any_case_or_handle_is_refused_beside_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let before = app.count("SELECT COUNT(*) AS n FROM users")
        + app.count("SELECT COUNT(*) AS n FROM accounts");

    let c = app.new_client();
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "ANA@example.COM"),
                ("handle", "other"),
                ("first_name", "A"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"email-error\""), "{}", r.text);
    assert!(
        r.text
            .contains("An account with this e-mail already exists")
    );

    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "bo@example.com"),
                ("handle", "ana"),
                ("first_name", "Bo"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"handle-error\""));
    assert!(r.text.contains("This handle is already taken"));
    // The form keeps what was typed, except the password.
    assert!(r.text.contains("value=\"bo@example.com\""));
    assert!(!r.text.contains(PW));

    let after = app.count("SELECT COUNT(*) AS n FROM users")
        + app.count("SELECT COUNT(*) AS n FROM accounts");
    assert_eq!(before, after);
}

#[tokio::test]
async fn bad_signup_input_is_reported_per_field() {
    let app = spawn_app().await;
    let c = app.new_client();
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "not-an-email"),
                ("handle", "Bad_Handle"),
                ("first_name", ""),
                ("last_name", "x\ny"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["email", "handle", "first_name", "last_name", "password"] {
        assert!(
            r.text.contains(&format!("id=\"{field}-error\"")),
            "no error for {field}"
        );
    }
    assert!(r.text.contains("Use at least 10 characters."));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users"), 0);
}

#[tokio::test]
async fn login_with_email_or_handle_logout_and_wrong_password() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;

    let c = app.new_client();
    let wrong = c
        .post_form(
            "/auth/login",
            &[
                ("login", "ana@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.text.contains("Wrong e-mail, handle or password."));
    let unknown = c
        .post_form(
            "/auth/login",
            &[
                ("login", "nobody@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert!(unknown.text.contains("Wrong e-mail, handle or password."));
    assert_eq!(c.get("/profile").await.status, StatusCode::SEE_OTHER);

    let ok = c
        .post_form(
            "/auth/login",
            &[("login", "ANA@example.com"), ("password", PW)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);

    let out = c.post_form("/auth/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location().as_deref(), Some("/auth/login"));
    assert_eq!(c.get("/profile").await.status, StatusCode::SEE_OTHER);

    let by_handle = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(by_handle.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);

    for action in [
        "atrium.user.logged_in",
        "atrium.user.login_failed",
        "atrium.user.logged_out",
    ] {
        assert!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
            )) >= 1,
            "no {action} event"
        );
    }
}

#[tokio::test]
async fn session_id_changes_at_login() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let c = app.new_client();
    c.get("/auth/login").await;
    let before = c
        .session_cookie()
        .expect("an anonymous session carries the CSRF token");
    let r = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let after = c.session_cookie().expect("session after log-in");
    assert_ne!(before, after);
    // The pre-login session value is not authenticated.
    let old = Client::with_session_cookie(&app.base, &before);
    assert_eq!(old.get("/profile").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_stolen_session_is_refused_after_logout() {
    let app = spawn_app().await;
    let c = app.signup("ana@example.com", "ana", PW).await;
    let stolen = c.session_cookie().expect("session");
    let thief = Client::with_session_cookie(&app.base, &stolen);
    assert_eq!(thief.get("/profile").await.status, StatusCode::OK);
    c.post_form("/auth/logout", &[]).await;
    let r = thief.get("/profile").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().unwrap_or_default().starts_with("/auth/login"));
}

#[tokio::test]
async fn password_change_ends_the_other_sessions() {
    let app = spawn_app().await;
    let laptop = app.signup("ana@example.com", "ana", PW).await;
    let phone = app.new_client();
    phone
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(phone.get("/profile").await.status, StatusCode::OK);

    let wrong = laptop
        .post_form(
            "/profile/password",
            &[
                ("current_password", "not it at all"),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text.contains("id=\"current_password-error\""));
    assert_eq!(
        phone.get("/profile").await.status,
        StatusCode::OK,
        "a refused change ends nothing"
    );

    let r = laptop
        .post_form(
            "/profile/password",
            &[
                ("current_password", PW),
                ("new_password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Your password was changed"));
    assert_eq!(
        phone.get("/profile").await.status,
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    assert_eq!(
        laptop.get("/profile").await.status,
        StatusCode::OK,
        "this session goes on"
    );
    // The page's token still works after the change.
    let again = laptop
        .post_form("/profile", &[("first_name", "Ana"), ("last_name", "Lima")])
        .await;
    assert_eq!(again.status, StatusCode::OK);

    let c = app.new_client();
    let old = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert!(old.text.contains("Wrong e-mail, handle or password."));
    let new = c
        .post_form(
            "/auth/login",
            &[("login", "ana"), ("password", "a brand new secret")],
        )
        .await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.user.password_changed'"
        ),
        1
    );
}

#[tokio::test]
async fn a_post_without_a_valid_csrf_token_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let c = app.signup("ana@example.com", "ana", PW).await;
    let other = app.signup("bo@example.com", "bo", PW).await;
    let others_token = other.csrf().await;

    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields, Fields)> = vec![
        (
            "no token",
            vec![("first_name", "Mallory"), ("last_name", "")],
            vec![],
        ),
        (
            "wrong token",
            vec![
                ("first_name", "Mallory"),
                ("last_name", ""),
                ("csrf_token", "00ff"),
            ],
            vec![],
        ),
        (
            "another session's token",
            vec![
                ("first_name", "Mallory"),
                ("last_name", ""),
                ("csrf_token", &others_token),
            ],
            vec![],
        ),
        (
            "wrong htmx header",
            vec![("first_name", "Mallory"), ("last_name", "")],
            vec![("X-CSRF-Token", "nope"), ("HX-Request", "true")],
        ),
    ];
    for (what, fields, headers) in cases {
        let r = c.post_raw("/profile", &fields, &headers).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
    }
    // A right token from a foreign origin is refused too.
    let token = c.csrf().await;
    let r = c
        .post_raw(
            "/profile",
            &[("first_name", "Mallory"), ("csrf_token", &token)],
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post_raw(
            "/profile",
            &[("first_name", "Mallory"), ("csrf_token", &token)],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Log-out without a token does not end the session.
    assert_eq!(
        c.post_raw("/auth/logout", &[], &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(c.get("/profile").await.status, StatusCode::OK);

    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE first_name = 'Mallory'"),
        0
    );
    // The htmx way with the right header works.
    let ok = c
        .post_htmx("/profile", &[("first_name", "Ana"), ("last_name", "Lima")])
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE first_name = 'Ana'"),
        1
    );
}

#[tokio::test]
async fn the_eleventh_failed_login_within_a_minute_is_refused() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    let c = app.new_client();
    for i in 0..10 {
        let r = c
            .post_form(
                "/auth/login",
                &[("login", "ana"), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "attempt {}", i + 1);
    }
    let r = c
        .post_form("/auth/login", &[("login", "ana"), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text.contains("Too many failed log-in attempts"));
    assert_eq!(r.header("retry-after").as_deref(), Some("60"));
    assert_eq!(
        c.get("/profile").await.status,
        StatusCode::SEE_OTHER,
        "even the right password waits"
    );
}

#[tokio::test]
async fn next_after_login_only_goes_to_paths_on_this_site() {
    let app = spawn_app().await;
    app.signup("ana@example.com", "ana", PW).await;
    for (next, expected) in [
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/profile", "/profile"),
    ] {
        let c = app.new_client();
        let q: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        let r = c
            .post_form(
                &format!("/auth/login?next={q}"),
                &[("login", "ana"), ("password", PW)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location().as_deref(), Some(expected), "next={next}");
    }
    // A protected page sends the visitor to log in and back.
    let c = app.new_client();
    let r = c.get("/profile").await;
    assert_eq!(r.location().as_deref(), Some("/auth/login?next=%2Fprofile"));
}

#[tokio::test]
async fn the_page_shell_renders_for_a_logged_in_user() {
    let app = spawn_app().await;
    let c = app.signup("ana@example.com", "ana", PW).await;
    let r = c.get("/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    for part in [
        "class=\"sidebar\"",
        "id=\"switcher\"",
        ">Members</a>",
        ">Service Accounts</a>",
        ">Roles</a>",
        ">Audit log</a>",
        ">Settings</a>",
        ">Profile</a>",
        ">Log out</button>",
        "hx-headers='{\"X-CSRF-Token\":\"",
        "/static/htmx.min.js?v=",
    ] {
        assert!(r.text.contains(part), "shell lacks {part}");
    }
    let js = c.get("/static/htmx.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.header("cache-control")
            .unwrap_or_default()
            .contains("max-age=31536000")
    );
    assert!(js.text.contains("htmx"));
}

#[tokio::test]
async fn security_headers_are_on_pages_errors_and_assets() {
    let app = spawn_app().await;
    let c = app.new_client();
    for path in ["/auth/login", "/no/such/page", "/static/atrium.css", "/"] {
        let r = c.get(path).await;
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some("same-origin"),
            "{path}"
        );
    }
    let nf = c.get("/no/such/page").await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    assert!(nf.text.contains("Page not found"));
    // htmx gets the error as a fragment aimed at the flash region.
    let frag = c.get_with("/no/such/page", &[("HX-Request", "true")]).await;
    assert_eq!(frag.status, StatusCode::NOT_FOUND);
    assert!(!frag.text.contains("<html"));
    assert_eq!(frag.header("hx-retarget").as_deref(), Some("#flash"));
    // The session cookie is HttpOnly and SameSite=Lax.
    let cookie = c.get("/auth/login").await;
    let _ = cookie;
    let r = app.new_client().get("/auth/login").await;
    let set_cookie = r.header("set-cookie").unwrap_or_default();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
}

#[tokio::test]
async fn an_htmx_request_without_a_session_is_told_to_log_in() {
    let app = spawn_app().await;
    let r = app
        .client
        .get_with("/profile", &[("HX-Request", "true")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.header("hx-redirect")
            .unwrap_or_default()
            .starts_with("/auth/login")
    );
    assert!(!r.text.contains("Profile"));
}

#[tokio::test]
async fn invite_only_signup_closes_the_form() {
    let app = spawn_app_with(|s| s.signup = atrium::settings::SignupPolicy::InviteOnly).await;
    let c = app.new_client();
    let page = c.get("/auth/signup").await;
    assert!(page.text.contains("by invitation only"));
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", "ana@example.com"),
                ("handle", "ana"),
                ("first_name", "Ana"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users"), 0);
}

#[tokio::test]
async fn profile_names_are_validated_and_saved() {
    let app = spawn_app().await;
    let c = app.signup("ana@example.com", "ana", PW).await;
    let bad = c
        .post_form("/profile", &[("first_name", ""), ("last_name", "Lima")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("id=\"first_name-error\""));
    let ok = c
        .post_form(
            "/profile",
            &[("first_name", "Ana <b>"), ("last_name", "Lima")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(
        ok.text.contains("Ana &#60;b&#62;") || ok.text.contains("Ana &lt;b&gt;"),
        "escaped"
    );
    assert!(!ok.text.contains("Ana <b>"));
}
