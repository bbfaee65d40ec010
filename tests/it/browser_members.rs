//! Real Chromium: an Admin invites two people, one signs up from the e-mailed link, and
//! the Admin changes the new member's role inline (htmx, no page reload).

use std::time::Duration;

use atrium::settings::MailTransport;

use crate::members::{PW, add_member, create_org, role_in};
use crate::support::browser::Browser;
use crate::support::smtp::SmtpServer;
use crate::support::spawn_app_with;

#[tokio::test]
async fn an_admin_invites_two_people_and_changes_the_new_members_role_inline() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_millis(100);
    })
    .await;
    let owner = app.signup("owner@example.com", "owner", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("adam@example.com", "adam", PW).await;
    add_member(&app, &acct, "adam", "admin");

    // The Admin, in a real browser.
    let admin = Browser::start().await;
    admin.goto(&app.url("/auth/login")).await;
    admin.fill("E-mail or handle", "adam").await;
    admin.fill("Password", PW).await;
    admin.click_button("Log in").await;
    // The log-in (argon2) finishes and lands before the next page is opened.
    admin.wait_for_url(|u| !u.contains("/auth/login")).await;
    admin
        .goto(&app.url(&format!("/account/{acct}/members")))
        .await;
    admin
        .fill("E-mail addresses", "first@example.com, second@example.com")
        .await;
    admin.select("Role", "Member").await;
    admin.click_button("Send invitations").await;
    admin
        .wait_for_text("first@example.com: Invitation sent.")
        .await;
    admin
        .wait_for_text("second@example.com: Invitation sent.")
        .await;

    // The second person opens the link from the e-mail in a fresh browser.
    // The two invitations, besides the verification e-mails of the sign-ups.
    let mails = smtp.wait_for_messages(4, Duration::from_secs(10)).await;
    let mail = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t == "second@example.com"))
        .expect("mail to second");
    let link = mail
        .find_link(&format!("{}/invitations/", app.base))
        .expect("link");
    let invitee = Browser::start().await;
    invitee.goto(&link).await;
    invitee.wait_for_text("Join Acme").await;
    invitee.click_link("Sign up as second@example.com").await;
    invitee.fill("First name", "Sam").await;
    invitee.fill("Last name", "Second").await;
    invitee.fill("Handle", "sam").await;
    invitee.fill("Password", PW).await;
    invitee.click_button("Sign up").await;
    invitee.wait_for_text("Members").await;
    invitee
        .wait_for_url(|u| u.ends_with(&format!("/account/{acct}/members")))
        .await;
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("member"));
    invitee.close().await;

    // The Admin changes Sam's role inline; the page is not reloaded.
    admin
        .goto(&app.url(&format!("/account/{acct}/members")))
        .await;
    admin.wait_for_text("sam").await;
    admin
        .client
        .execute("window.__notReloaded = 42; return null;", vec![])
        .await
        .expect("mark the page");
    admin.select("Role of sam", "Admin").await;
    admin.wait_for_text("Role saved.").await;
    let marker = admin
        .client
        .execute("return window.__notReloaded || null;", vec![])
        .await
        .expect("read the marker");
    assert_eq!(marker, serde_json::json!(42), "the page was not reloaded");
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("admin"));
    admin.close().await;
}
