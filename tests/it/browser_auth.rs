//! Real Chromium: sign up, onboarding, log out, log in, wrong password.

use crate::support::browser::Browser;
use crate::support::spawn_app;

#[tokio::test]
async fn a_person_signs_up_logs_out_and_logs_in_again_in_a_real_browser() {
    let app = spawn_app().await;
    let b = Browser::start().await;
    b.goto(&app.url("/")).await;
    b.wait_for_text("Log in to Atrium").await;
    b.click_link("Create an account").await;
    b.fill("E-mail", "ana@example.com").await;
    b.fill("First name", "Ana").await;
    b.fill("Last name", "Lima").await;
    b.fill("Handle", "ana").await;
    b.fill("Password", "correct horse battery").await;
    b.click_button("Sign up").await;
    b.wait_for_text("Welcome to Atrium, Ana").await;
    assert!(b.current_url().await.ends_with("/onboarding"));

    // Log out from the user menu.
    b.click_button("User menu for Ana Lima").await;
    b.click_button("Log out").await;
    b.wait_for_text("Log in to Atrium").await;

    b.fill("E-mail or handle", "ana@example.com").await;
    b.fill("Password", "not my password").await;
    b.click_button("Log in").await;
    b.wait_for_text("Wrong e-mail, handle or password.").await;

    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", "correct horse battery").await;
    b.click_button("Log in").await;
    b.wait_for_text("Welcome to Atrium, Ana").await;
    b.close().await;
}
