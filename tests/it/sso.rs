//! Single sign-on through an account's OpenID provider (issue #26), against a real provider
//! (`oidc-provider`, `support::oidc`): configuration, the first sign-in provisioning the
//! user with the configured role, the refusals (wrong `state`, a replayed code, an ID token
//! from another issuer or for another audience, an expired one, a person removed at the
//! provider), linking an existing user after their password, SSO required with the Owners'
//! bypass, domains proved by an e-mailed link and held by one account only, and the API.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_support::{call, user_key};
use crate::members::{PW, add_member, create_org, role_in, user_id};
use crate::support::oidc::{self, CLIENT_ID, CLIENT_SECRET, Provider};
use crate::support::{Client, TestApp, spawn_app_with, text};

pub struct Sso {
    pub app: TestApp,
    pub provider: Provider,
    pub owner: Client,
    pub account: String,
}

/// An app that may reach loopback, a provider, and an organization (Owner `owner`) whose
/// provider signs in `example.test` with the role `role`.
pub async fn setup(role: &str) -> Option<Sso> {
    let app = spawn_app_with(|s| {
        s.prefect_server_allow = atrium::egress::Egress::parse("127.0.0.1").expect("allow");
    })
    .await;
    let provider = oidc::start(&app.url("/auth/sso/callback"))?;
    let owner = app.signup("owner@acme.test", "owner", PW).await;
    let account = create_org(&owner, "Acme", "acme").await;
    let r = configure(&owner, &account, &provider.issuer, role, false).await;
    assert_eq!(r.status, StatusCode::OK, "configure: {}", r.text);
    assert!(r.text.contains("Single sign-on saved."), "{}", r.text);
    claim_and_verify(&app, &owner, &account, "example.test").await;
    Some(Sso {
        app,
        provider,
        owner,
        account,
    })
}

pub async fn configure(
    c: &Client,
    account: &str,
    issuer: &str,
    role: &str,
    required: bool,
) -> crate::support::Page {
    let mut fields = vec![
        ("issuer", issuer),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("role", role),
    ];
    if required {
        fields.push(("required", "on"));
    }
    c.post_form(&format!("/account/{account}/settings/sso"), &fields)
        .await
}

/// The proof link mailed for `domain` (its path and query).
pub fn domain_link(app: &TestApp, to: &str) -> String {
    let body = text(
        app,
        &format!(
            "SELECT text_body AS t FROM outbox WHERE kind = 'sso_domain' AND to_addr = '{to}' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
    );
    let start = body
        .find(&format!("{}/sso/", app.base))
        .unwrap_or_else(|| panic!("no link in the e-mail: {body}"));
    body[start + app.base.len()..]
        .split_whitespace()
        .next()
        .expect("the link")
        .to_string()
}

pub async fn claim_and_verify(app: &TestApp, admin: &Client, account: &str, domain: &str) {
    let to = format!("it@{domain}");
    let r = admin
        .post_form(
            &format!("/account/{account}/settings/sso/domains"),
            &[("domain", domain), ("email", &to)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "claim: {}", r.text);
    let link = domain_link(app, &to);
    let code = link.split("code=").nth(1).expect("code").to_string();
    let visitor = app.new_client();
    let page = visitor.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let r = visitor
        .post_form("/sso/domains/verify", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "verify: {}", r.text);
    assert!(r.text.contains("Domain confirmed"), "{}", r.text);
}

/// Starts "Sign in with SSO" for `email` on `c`: the provider's authorization URL (the
/// page that continues there by itself links to it).
pub async fn start(c: &Client, email: &str) -> String {
    let r = c.post_form("/auth/sso", &[("email", email)]).await;
    assert_eq!(r.status, StatusCode::OK, "start: {}", r.text);
    let marker = "id=\"continue\" href=\"";
    let at = r.text.find(marker).expect("the continue link") + marker.len();
    let rest = &r.text[at..];
    rest[..rest.find('"').expect("end of the link")]
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn path_of(url: &str, base: &str) -> String {
    url.strip_prefix(base).unwrap_or(url).to_string()
}

/// The whole sign-in for `email` on `c`: the callback's answer.
pub async fn sign_in(s: &Sso, c: &Client, email: &str) -> crate::support::Page {
    let to = start(c, email).await;
    let back = s.provider.sign_in(&to, email).await;
    c.get(&path_of(&back, &s.app.base)).await
}

async fn signed_in_as(c: &Client) -> Option<String> {
    let r = c.get("/profile").await;
    (r.status == StatusCode::OK).then_some(r.text)
}

fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
}

#[tokio::test]
async fn sso_first_sign_in_provisions_the_user_with_the_configured_role() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let c = s.app.new_client();
    let r = sign_in(&s, &c, "alice@example.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "callback: {}", r.text);
    assert!(signed_in_as(&c).await.is_some(), "signed in");
    let handle = text(
        &s.app,
        "SELECT handle AS t FROM users WHERE email_normalized = 'alice@example.test'",
    );
    assert_eq!(
        s.app.count("SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'alice@example.test' AND email_verified_at IS NOT NULL"),
        1
    );
    assert_eq!(
        role_in(&s.app, &s.account, &handle).as_deref(),
        Some("member")
    );
    let members = c.get(&format!("/account/{}/members", s.account)).await;
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(events(&s.app, "atrium.sso.user_provisioned"), 1);
    assert_eq!(events(&s.app, "atrium.sso.logged_in"), 1);

    // Again, from another browser: the same user, no second one.
    let c2 = s.app.new_client();
    let r = sign_in(&s, &c2, "alice@example.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        s.app
            .count("SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'alice@example.test'"),
        1
    );
    assert_eq!(events(&s.app, "atrium.sso.user_provisioned"), 1);
    assert_eq!(events(&s.app, "atrium.sso.logged_in"), 2);

    // The settings show the secret masked, never in clear.
    let page = s
        .owner
        .get(&format!("/account/{}/settings/sso", s.account))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains(CLIENT_SECRET));
    let sealed = text(
        &s.app,
        "SELECT client_secret_sealed AS t FROM sso_integrations",
    );
    assert!(!sealed.contains(CLIENT_SECRET));
}

#[tokio::test]
async fn sso_refuses_a_wrong_state_a_replayed_code_and_bad_tokens() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let users_before = s.app.count("SELECT COUNT(*) AS n FROM users");
    let refused = |r: &crate::support::Page, what: &str| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
    };

    // A wrong state.
    let c = s.app.new_client();
    let to = start(&c, "bob@example.test").await;
    let back = s.provider.sign_in(&to, "bob@example.test").await;
    let state = back
        .split("state=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .expect("state")
        .to_string();
    let forged = path_of(&back, &s.app.base).replace(&state, "forged-state");
    let r = c.get(&forged).await;
    refused(&r, "wrong state");
    assert!(r.text.contains("not valid in this browser"), "{}", r.text);
    assert!(signed_in_as(&c).await.is_none());

    // A replayed code: the callback again, and the code under a new sign-in's state.
    let c = s.app.new_client();
    let to = start(&c, "bob@example.test").await;
    let back = s.provider.sign_in(&to, "bob@example.test").await;
    let first = c.get(&path_of(&back, &s.app.base)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text);
    let again = c.get(&path_of(&back, &s.app.base)).await;
    refused(&again, "the same callback twice");
    let old_code = back
        .split("code=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .expect("code")
        .to_string();
    let c2 = s.app.new_client();
    let to = start(&c2, "bob@example.test").await;
    let fresh = s.provider.sign_in(&to, "bob@example.test").await;
    let fresh_code = fresh
        .split("code=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .expect("code")
        .to_string();
    let replay = path_of(&fresh, &s.app.base).replace(&fresh_code, &old_code);
    let r = c2.get(&replay).await;
    refused(&r, "a replayed code");
    assert!(r.text.contains("refused the sign-in code"), "{}", r.text);
    assert!(signed_in_as(&c2).await.is_none());
    let users_after_bob = s.app.count("SELECT COUNT(*) AS n FROM users");
    assert_eq!(users_after_bob, users_before + 1, "bob's one sign-in");

    // ID tokens from another issuer, for another audience, expired: each refused.
    for (tamper, says) in [
        (
            json!({ "iss": "http://127.0.0.1:9/another" }),
            "another issuer",
        ),
        (json!({ "aud": "someone-else" }), "another client"),
        (json!({ "expired": true }), "expired"),
    ] {
        let c = s.app.new_client();
        let to = start(&c, "carol@example.test").await;
        let back = s.provider.sign_in(&to, "carol@example.test").await;
        s.provider.tamper(tamper.clone()).await;
        let r = c.get(&path_of(&back, &s.app.base)).await;
        refused(&r, &tamper.to_string());
        assert!(r.text.contains(says), "{tamper}: {}", r.text);
        assert!(signed_in_as(&c).await.is_none());
    }
    assert_eq!(
        s.app.count("SELECT COUNT(*) AS n FROM users"),
        users_after_bob,
        "no user from a refused token"
    );

    // A person removed at the provider is refused at their next sign-in.
    s.provider.remove("bob@example.test").await;
    let c = s.app.new_client();
    let r = sign_in(&s, &c, "bob@example.test").await;
    refused(&r, "removed at the provider");
    assert!(r.text.contains("refused the sign-in"), "{}", r.text);
    assert!(signed_in_as(&c).await.is_none());
}

#[tokio::test]
async fn sso_links_an_existing_user_only_after_their_password() {
    let Some(s) = setup("Admin").await else {
        return;
    };
    let carol = s.app.signup("carol@example.test", "carol", PW).await;
    drop(carol);
    let c = s.app.new_client();
    let r = sign_in(&s, &c, "carol@example.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/auth/sso/link"));
    assert!(signed_in_as(&c).await.is_none(), "not before the password");
    let page = c.get("/auth/sso/link").await;
    assert_eq!(page.status, StatusCode::OK);
    let wrong = c
        .post_form("/auth/sso/link", &[("password", "not the password")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    let ok = c.post_form("/auth/sso/link", &[("password", PW)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert!(signed_in_as(&c).await.is_some());
    assert_eq!(
        role_in(&s.app, &s.account, "carol").as_deref(),
        Some("admin")
    );
    assert_eq!(events(&s.app, "atrium.sso.identity_linked"), 1);
    // From now on the provider signs carol in directly.
    let c2 = s.app.new_client();
    let r = sign_in(&s, &c2, "carol@example.test").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location().as_deref(), Some("/"));
}

#[tokio::test]
async fn sso_required_refuses_password_sessions_except_for_owners() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let r = configure(&s.owner, &s.account, &s.provider.issuer, "Member", true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let members = format!("/account/{}/members", s.account);
    // The Owner's password session bypasses it.
    assert_eq!(s.owner.get(&members).await.status, StatusCode::OK);
    // A member (and an Admin) with a password session is sent to the provider.
    let dan = s.app.signup("dan@example.test", "dan", PW).await;
    add_member(&s.app, &s.account, "dan", "admin");
    let r = dan.get(&members).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.location().expect("location");
    assert!(
        to.starts_with(&format!("/auth/sso/account/{}", s.account)),
        "{to}"
    );
    // A fresh SSO step lets them in (dan links his user with his password first).
    let r = dan.get(&to).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let authorize = r.location().expect("to the provider");
    let back = s.provider.sign_in(&authorize, "dan@example.test").await;
    let r = dan.get(&path_of(&back, &s.app.base)).await;
    assert_eq!(r.location().as_deref(), Some("/auth/sso/link"));
    let r = dan.post_form("/auth/sso/link", &[("password", PW)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(dan.get(&members).await.status, StatusCode::OK);
    // An SSO user reaches the pages.
    let c = s.app.new_client();
    sign_in(&s, &c, "erin@example.test").await;
    assert_eq!(c.get(&members).await.status, StatusCode::OK);
    // A password session of another member is still refused.
    let frank = s.app.signup("frank@elsewhere.test", "frank", PW).await;
    add_member(&s.app, &s.account, "frank", "member");
    assert_eq!(frank.get(&members).await.status, StatusCode::SEE_OTHER);
    let _ = user_id(&s.app, "frank");
}

#[tokio::test]
async fn sso_a_domain_is_claimed_by_one_account_only() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let other = s.app.signup("owner@other.test", "other", PW).await;
    let account2 = create_org(&other, "Other", "other-org").await;
    // A proved domain cannot be claimed again.
    let r = other
        .post_form(
            &format!("/account/{account2}/settings/sso/domains"),
            &[("domain", "example.test"), ("email", "x@example.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("Another account has already proved this domain.")
    );
    // Two pending claims: the second to be proved is refused.
    for (c, a) in [(&s.owner, &s.account), (&other, &account2)] {
        let r = c
            .post_form(
                &format!("/account/{a}/settings/sso/domains"),
                &[("domain", "shared.test"), ("email", "it@shared.test")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let links: Vec<String> = {
        let rows = text(
            &s.app,
            "SELECT COUNT(*) || '' AS t FROM outbox WHERE kind = 'sso_domain' AND to_addr = 'it@shared.test'",
        );
        assert_eq!(rows, "2");
        vec![domain_link(&s.app, "it@shared.test")]
    };
    let code = links[0].split("code=").nth(1).expect("code").to_string();
    let v = s.app.new_client();
    v.get(&links[0]).await;
    let r = v.post_form("/sso/domains/verify", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The database holds one proved claim per domain, whatever the code does.
    let mut conn = s.app.conn();
    use diesel::prelude::*;
    let other_claim: String = atrium::db::schema::sso_domains::table
        .filter(atrium::db::schema::sso_domains::domain.eq("shared.test"))
        .filter(atrium::db::schema::sso_domains::verified_at.is_null())
        .select(atrium::db::schema::sso_domains::id)
        .first(&mut conn)
        .expect("the other pending claim");
    let forced = diesel::update(atrium::db::schema::sso_domains::table.find(&other_claim))
        .set(atrium::db::schema::sso_domains::verified_at.eq(Some(atrium::db::now())))
        .execute(&mut conn);
    assert!(
        forced.is_err(),
        "the unique index refuses a second proved claim"
    );
}

#[tokio::test]
async fn sso_issuer_must_be_allowed_and_bad_input_changes_nothing() {
    let app = spawn_app_with(|_| {}).await;
    let Some(provider) = oidc::start(&app.url("/auth/sso/callback")) else {
        return;
    };
    let owner = app.signup("owner@acme.test", "owner", PW).await;
    let account = create_org(&owner, "Acme", "acme").await;
    let r = configure(&owner, &account, &provider.issuer, "Member", false).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("ATRIUM_PREFECT_SERVER_ALLOW"), "{}", r.text);
    let r = configure(&owner, &account, "not a url", "Owner", false).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("issuer-error") && r.text.contains("role-error"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sso_integrations"), 0);
    // A Member may not see the page at all.
    let m = app.signup("m@acme.test", "mem", PW).await;
    add_member(&app, &account, "mem", "member");
    assert_eq!(
        m.get(&format!("/account/{account}/settings/sso"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sso_api_lists_validates_and_deletes_the_integration() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let key = user_key(&s.app, "owner");
    let base = format!("/api/accounts/{}/sso", s.account);
    let r = call(
        &s.app,
        Some(&key),
        Method::GET,
        &format!("{base}/integrations"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let conn = &r.body["connections"][0];
    assert_eq!(conn["issuer"], json!(s.provider.issuer));
    assert_eq!(conn["domains"][0]["domain"], json!("example.test"));
    assert!(!r.body.to_string().contains(CLIENT_SECRET));
    let id = conn["id"].as_str().expect("id").to_string();
    let r = call(
        &s.app,
        Some(&key),
        Method::POST,
        &format!("{base}/validate"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = call(
        &s.app,
        Some(&key),
        Method::POST,
        &format!("{base}/validate"),
        Some(json!({ "redirect_uri": "http://elsewhere/cb" })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = call(
        &s.app,
        Some(&key),
        Method::POST,
        &format!("{base}/validate"),
        Some(json!({ "redirect_uri": 7 })),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A Member's key: nothing to see.
    s.app.signup("m@acme.test", "mem", PW).await;
    add_member(&s.app, &s.account, "mem", "member");
    let mkey = user_key(&s.app, "mem");
    let r = call(
        &s.app,
        Some(&mkey),
        Method::GET,
        &format!("{base}/integrations"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &s.app,
        Some(&mkey),
        Method::DELETE,
        &format!("{base}/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &s.app,
        Some(&key),
        Method::DELETE,
        &format!("{base}/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(events(&s.app, "atrium.sso.deleted"), 1);
    let r = call(
        &s.app,
        Some(&key),
        Method::DELETE,
        &format!("{base}/integrations/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Linking asks for the existing user's password: it is guessed no faster there than on
/// the log-in page (the same per-user count), and past the limit even the right password
/// links nothing.
#[tokio::test]
async fn sso_linking_throttles_password_guesses_like_the_log_in() {
    let Some(s) = setup("Admin").await else {
        return;
    };
    drop(s.app.signup("carol@example.test", "carol", PW).await);
    let c = s.app.new_client();
    let r = sign_in(&s, &c, "carol@example.test").await;
    assert_eq!(r.location().as_deref(), Some("/auth/sso/link"));
    let limit = s.app.settings.login_attempts_per_minute;
    for n in 0..limit {
        let wrong = c
            .post_form("/auth/sso/link", &[("password", "not the password")])
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "guess {n}");
    }
    let ok = c.post_form("/auth/sso/link", &[("password", PW)]).await;
    assert_eq!(ok.status, StatusCode::TOO_MANY_REQUESTS, "{}", ok.text);
    assert!(ok.text.contains("Too many failed log-in attempts"));
    assert_eq!(s.app.count("SELECT COUNT(*) AS n FROM sso_identities"), 0);
    assert!(signed_in_as(&c).await.is_none());
}
