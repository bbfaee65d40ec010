//! Real Chromium (issue #26): "Sign in with SSO" through a real OpenID provider
//! (`oidc-provider`): the address first, the provider's own sign-in form, back to Atrium
//! signed in as a new user with the configured role; an account requiring SSO sends a
//! member's password session to the provider.

use crate::members::{PW, add_member, role_in};
use crate::sso::{configure, setup};
use crate::support::browser::Browser;
use crate::support::text;

#[tokio::test]
async fn browser_sso_first_sign_in_through_the_provider_provisions_the_member() {
    let Some(s) = setup("Member").await else {
        return;
    };
    let b = Browser::start().await;
    b.goto(&s.app.url("/auth/login")).await;
    b.click_link("Sign in with SSO").await;
    b.fill("Work e-mail", "grace@example.test").await;
    b.click_button("Continue").await;
    // The provider's sign-in page (another origin), reached without a click.
    b.wait_for_url(|u| u.starts_with(&s.provider.issuer)).await;
    b.fill("E-mail", "grace@example.test").await;
    b.click_button("Sign in").await;
    b.wait_for_url(|u| u.starts_with(&s.app.base) && !u.contains("/auth/"))
        .await;
    let handle = text(
        &s.app,
        "SELECT handle AS t FROM users WHERE email_normalized = 'grace@example.test'",
    );
    assert_eq!(
        role_in(&s.app, &s.account, &handle).as_deref(),
        Some("member")
    );
    b.goto(&s.app.url(&format!("/account/{}/members", s.account)))
        .await;
    b.wait_for_text("grace@example.test").await;
    b.close().await;

    // Required: a member's password session goes to the provider, and comes back in.
    let r = configure(&s.owner, &s.account, &s.provider.issuer, "Member", true).await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.text);
    s.app.signup("hal@example.test", "hal", PW).await;
    add_member(&s.app, &s.account, "hal", "member");
    let b = Browser::start().await;
    b.goto(&s.app.url("/auth/login")).await;
    b.fill("E-mail or handle", "hal").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    b.goto(&s.app.url(&format!("/account/{}/members", s.account)))
        .await;
    b.wait_for_url(|u| u.starts_with(&s.provider.issuer)).await;
    b.fill("E-mail", "hal@example.test").await;
    b.click_button("Sign in").await;
    // hal has a password: he links his user once.
    b.wait_for_url(|u| u.contains("/auth/sso/link")).await;
    b.fill("Password", PW).await;
    b.click_button("Link and sign in").await;
    b.wait_for_url(|u| u.contains("/members")).await;
    b.wait_for_text("hal@example.test").await;
    b.close().await;
}
