//! Invitations: the e-mail over real SMTP, per-address results, accepting, declining,
//! resending, revoking, expiry and races (issue: accounts, members and invitations).

use std::time::Duration;

use atrium::settings::MailTransport;
use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org, role_in, user_id};
use crate::support::smtp::{ReceivedMail, SmtpMode, SmtpServer};
use crate::support::{TestApp, spawn_app_with};

async fn app_with_smtp() -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_millis(100);
        s.mail_retry_base = Duration::from_millis(300);
    })
    .await;
    (app, smtp)
}

/// The invitation e-mails received so far (sign-ups also send verification e-mails).
fn invitation_mails(app: &TestApp, smtp: &SmtpServer) -> Vec<ReceivedMail> {
    let prefix = format!("{}/invitations/", app.base);
    smtp.messages()
        .into_iter()
        .filter(|m| m.find_link(&prefix).is_some())
        .collect()
}

/// Waits until at least `n` invitation e-mails have arrived; returns them.
async fn wait_for_invitations(app: &TestApp, smtp: &SmtpServer, n: usize) -> Vec<ReceivedMail> {
    let start = std::time::Instant::now();
    loop {
        let mails = invitation_mails(app, smtp);
        if mails.len() >= n {
            return mails;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {n} invitation e-mail(s); got {}",
            mails.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The path (with code) of the newest invitation link sent to `to`.
async fn link_for(app: &TestApp, smtp: &SmtpServer, to: &str, nth: usize) -> String {
    let mails = wait_for_invitations(app, smtp, nth).await;
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
        .expect("a mail to the invitee");
    let link = mail
        .find_link(&format!("{}/invitations/", app.base))
        .expect("link in the mail");
    link.trim_start_matches(&app.base).to_string()
}

fn invitation_id(path: &str) -> String {
    path.trim_start_matches("/invitations/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn code_of(path: &str) -> String {
    path.split("code=").nth(1).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_mixed_invite_list_reports_each_address_and_the_valid_ones_receive_the_email() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme <Data>", "acme").await;
    add_member(&app, &acct, "bo", "member");

    // A first invitation that the second list replaces.
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "dan@example.com"), ("role", "member")],
    )
    .await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[
                (
                    "emails",
                    "cy@example.com, not-an-address\nBO@example.com dan@example.com",
                ),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("cy@example.com</span>: Invitation sent."));
    assert!(
        r.text
            .contains("not-an-address</span>: Enter a valid e-mail address")
    );
    assert!(
        r.text
            .contains("BO@example.com</span>: Already a member of this account.")
    );
    assert!(
        r.text.contains(
            "dan@example.com</span>: Invitation sent; it replaces the earlier pending one."
        )
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending'"),
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'revoked'"),
        1
    );
    // Codes are stored only as digests.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE length(code_digest) = 64"),
        3
    );

    // cy and dan (the replaced first mail to dan may have been cancelled before sending).
    let mails = wait_for_invitations(&app, &smtp, 2).await;
    let to_cy = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t == "cy@example.com"))
        .expect("mail to cy");
    assert!(to_cy.is_multipart_alternative());
    assert_eq!(
        to_cy.subject(),
        "Test ana invited you to Acme <Data> on Atrium"
    );
    let text = to_cy.text_body().expect("text part");
    let html = to_cy.html_body().expect("html part");
    assert!(text.contains("as Admin") && text.contains("expires on"));
    assert!(
        html.contains("Acme &#60;Data&#62;") || html.contains("Acme &lt;Data&gt;"),
        "html escapes names"
    );
    let link = to_cy
        .find_link(&format!("{}/invitations/", app.base))
        .expect("link");
    assert!(link.contains("?code="));
    assert!(html.contains(&link.replace('&', "&amp;")) || html.contains(&link));
    // The cancelled first mail to dan is not sent after the replacement.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_dan = smtp
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "dan@example.com"))
        .count();
    assert!(to_dan <= 2);
    // Too many addresses at once is one clear error, and nothing is sent.
    let many: Vec<String> = (0..51).map(|i| format!("p{i}@example.com")).collect();
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[("emails", &many.join(",")), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("at most 50"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM invitations"), 3);
}

#[tokio::test]
async fn opening_the_link_changes_nothing_and_accepting_with_the_invited_address_joins() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let cy = app.signup("Cy@Example.com", "cy", PW).await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "cy@example.com"), ("role", "member")],
    )
    .await;
    let path = link_for(&app, &smtp, "cy@example.com", 1).await;

    // Mail scanners: opening the link twice (logged out and in) consumes nothing.
    let scanner = app.new_client();
    let page = scanner.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Join Acme") && page.text.contains("Sign up as cy@example.com"));
    cy.get(&path).await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending'"),
        1
    );
    assert_eq!(role_in(&app, &acct, "cy"), None);

    let page = cy.get(&path).await;
    assert!(page.text.contains("Accept invitation"));
    let r = cy
        .post_form(
            &format!("/invitations/{}/accept", invitation_id(&path)),
            &[("code", &code_of(&path))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some(format!("/account/{acct}/members")));
    assert_eq!(role_in(&app, &acct, "cy").as_deref(), Some("member"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'accepted'"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.invitation.accepted'"
        ),
        1
    );

    // Used links say so, and change nothing.
    let again = scanner.get(&path).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.text.contains("This invitation has already been used"));
    // A wrong code is not an invitation at all.
    let bad = scanner
        .get(&format!("/invitations/{}?code=nope", invitation_id(&path)))
        .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    assert!(bad.text.contains("This invitation link is not valid"));
}

#[tokio::test]
async fn someone_else_logged_in_is_told_and_a_newcomer_signs_up_with_the_fixed_address() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "new@example.com"), ("role", "admin")],
    )
    .await;
    let path = link_for(&app, &smtp, "new@example.com", 1).await;

    let page = ana.get(&path).await;
    assert!(page.text.contains(
        "You are logged in as ana@example.com, but this invitation is for new@example.com."
    ));
    assert!(
        page.text
            .contains("Log out and continue as new@example.com")
    );
    let r = ana
        .post_form(
            &format!("/invitations/{}/accept", invitation_id(&path)),
            &[("code", &code_of(&path))],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "refused: back to the invitation page"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending'"),
        1
    );

    let newcomer = app.new_client();
    let signup_path = format!(
        "/invitations/{}/signup?code={}",
        invitation_id(&path),
        code_of(&path)
    );
    let form = newcomer.get(&signup_path).await;
    assert!(form.text.contains("value=\"new@example.com\"") && form.text.contains("readonly"));
    // The posted e-mail is ignored: the invited address is used.
    let r = newcomer
        .post_form(
            &signup_path,
            &[
                ("email", "other@example.com"),
                ("handle", "newbie"),
                ("first_name", "New"),
                ("last_name", "Comer"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location(), Some(format!("/account/{acct}/members")));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'new@example.com'"),
        1
    );
    assert_eq!(role_in(&app, &acct, "newbie").as_deref(), Some("admin"));
    assert_eq!(
        newcomer
            .get(&format!("/account/{acct}/members"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn invitation_signup_works_when_open_signup_is_closed() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_millis(100);
    })
    .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    // Close sign-up after the first user exists (settings are per process: restart-free test by flag).
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "z@example.com"), ("role", "member")],
    )
    .await;
    let path = link_for(&app, &smtp, "z@example.com", 1).await;
    let c = app.new_client();
    let signup_path = format!(
        "/invitations/{}/signup?code={}",
        invitation_id(&path),
        code_of(&path)
    );
    let r = c
        .post_form(
            &signup_path,
            &[
                ("handle", "zed"),
                ("first_name", "Zed"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(role_in(&app, &acct, "zed").as_deref(), Some("member"));
}

#[tokio::test]
async fn expiry_resend_revoke_decline_and_an_inviter_who_lost_the_right() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let al = app.signup("al@example.com", "al", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "al", "admin");
    let visitor = app.new_client();

    // Expired.
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "e@example.com"), ("role", "member")],
    )
    .await;
    let expired = link_for(&app, &smtp, "e@example.com", 1).await;
    {
        use diesel::prelude::*;
        let mut c = app.conn();
        diesel::sql_query("UPDATE invitations SET expires_at = '2020-01-01 00:00:00' WHERE email_normalized = 'e@example.com'")
            .execute(&mut c)
            .expect("expire");
    }
    let page = visitor.get(&expired).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text.contains("This invitation has expired"));
    let tab = ana
        .get(&format!("/account/{acct}/members/invitations"))
        .await;
    assert!(tab.text.contains(">Expired</span>"));

    // Resend: a new link works, the old one is dead.
    let iid = invitation_id(&expired);
    let r = ana
        .post_form(&format!("/account/{acct}/invitations/{iid}/resend"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let fresh = link_for(&app, &smtp, "e@example.com", 2).await;
    assert_ne!(fresh, expired);
    assert_eq!(visitor.get(&expired).await.status, StatusCode::NOT_FOUND);
    assert_eq!(visitor.get(&fresh).await.status, StatusCode::OK);

    // Decline.
    let r = visitor
        .post_form(
            &format!("/invitations/{iid}/decline"),
            &[("code", &code_of(&fresh))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        visitor
            .get(&fresh)
            .await
            .text
            .contains("This invitation was declined")
    );

    // Revoke.
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "r@example.com"), ("role", "member")],
    )
    .await;
    let revoked = link_for(&app, &smtp, "r@example.com", 3).await;
    let rid = invitation_id(&revoked);
    let r = ana
        .post_form(&format!("/account/{acct}/invitations/{rid}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        visitor
            .get(&revoked)
            .await
            .text
            .contains("This invitation was withdrawn")
    );

    // An Admin's invitation stops working when they are demoted to Member.
    al.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "l@example.com"), ("role", "member")],
    )
    .await;
    let lost = link_for(&app, &smtp, "l@example.com", 4).await;
    assert_eq!(visitor.get(&lost).await.status, StatusCode::OK);
    let al_id = user_id(&app, "al");
    ana.post_htmx(
        &format!("/account/{acct}/members/{al_id}/role"),
        &[("role", "member")],
    )
    .await;
    let page = visitor.get(&lost).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text.contains("This invitation is no longer valid"));

    for action in [
        "atrium.invitation.resent",
        "atrium.invitation.revoked",
        "atrium.invitation.declined",
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
async fn accepting_the_same_invitation_twice_at_once_yields_one_membership() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let cy = app.signup("cy@example.com", "cy", PW).await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "cy@example.com"), ("role", "member")],
    )
    .await;
    let path = link_for(&app, &smtp, "cy@example.com", 1).await;
    let (id, code) = (invitation_id(&path), code_of(&path));
    let cy2 = cy.clone();
    let a = {
        let (id, code) = (id.clone(), code.clone());
        tokio::spawn(async move {
            cy.post_form(&format!("/invitations/{id}/accept"), &[("code", &code)])
                .await
                .status
        })
    };
    let b = tokio::spawn(async move {
        cy2.post_form(&format!("/invitations/{id}/accept"), &[("code", &code)])
            .await
            .status
    });
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    assert_eq!(
        (a, b),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER),
        "both end on the account"
    );
    let cy_id = user_id(&app, "cy");
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM account_memberships WHERE account_id = '{acct}' AND user_id = '{cy_id}'")),
        1
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.invitation.accepted'"
        ),
        1
    );
}

#[tokio::test]
async fn while_smtp_refuses_the_invitation_stays_pending_and_is_delivered_once_when_it_is_back() {
    let (app, smtp) = app_with_smtp().await;
    smtp.set_mode(SmtpMode::RejectTransient);
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    ana.post_form(
        &format!("/account/{acct}/invitations"),
        &[("emails", "cy@example.com"), ("role", "member")],
    )
    .await;
    // Wait for a refused attempt, then look at the tab.
    for _ in 0..100 {
        if smtp.attempts() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tab = ana
        .get(&format!("/account/{acct}/members/invitations"))
        .await;
    assert!(
        tab.text.contains("Failing (attempt"),
        "delivery shown as failing"
    );
    assert!(tab.text.contains(">Pending</span>"));
    assert!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.email.delivery_failed'"
        ) >= 1
    );

    smtp.set_mode(SmtpMode::Accept);
    let mails = wait_for_invitations(&app, &smtp, 1).await;
    assert_eq!(mails.len(), 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        invitation_mails(&app, &smtp).len(),
        1,
        "delivered exactly once"
    );
    let tab = ana
        .get(&format!("/account/{acct}/members/invitations"))
        .await;
    assert!(tab.text.contains(">Delivered</span>"));
}

#[tokio::test]
async fn a_workspace_invitation_makes_a_collaborator_who_goes_with_their_last_access() {
    let (app, smtp) = app_with_smtp().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = crate::workspaces::create_ws(&ana, &acct, "Production", "prod").await;
    let panel = dash.replace("/dashboard", "/settings/members");
    const DEVELOPER: &str = "00000000-0000-4000-8000-000000000002";

    let bad = ana
        .post_form(
            &format!("{panel}/invite"),
            &[("email", "not-an-email"), ("role_id", DEVELOPER)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = ana
        .post_form(
            &format!("{panel}/invite"),
            &[("email", "col@example.com"), ("role_id", DEVELOPER)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Invitation sent to col@example.com."));
    let path = link_for(&app, &smtp, "col@example.com", 1).await;
    let mails = invitation_mails(&app, &smtp);
    assert!(mails[0].subject().contains("workspace Production of Acme"));
    assert!(
        mails[0]
            .text_body()
            .unwrap_or_default()
            .contains("as Developer")
    );

    let col = app.new_client();
    let page = col.get(&path).await;
    assert!(page.text.contains("workspace Production of Acme"));
    let signup = format!(
        "/invitations/{}/signup?code={}",
        invitation_id(&path),
        code_of(&path)
    );
    let r = col
        .post_form(
            &signup,
            &[
                ("handle", "col"),
                ("first_name", "Col"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location(), Some(dash.clone()));
    assert_eq!(role_in(&app, &acct, "col").as_deref(), Some("collaborator"));
    let d = col.get(&dash).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains(">Developer</dd>"));
    assert_eq!(
        col.get(&format!("/account/{acct}/members")).await.status,
        StatusCode::NOT_FOUND
    );

    // Removing the last access removes the Collaborator membership.
    let col_id = user_id(&app, "col");
    let r = ana
        .post_form(&format!("{panel}/{col_id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(role_in(&app, &acct, "col"), None);
    assert_eq!(col.get(&dash).await.status, StatusCode::NOT_FOUND);
}
