//! Small things a real administrator minds (issue #24, points 7–9): what the pages say
//! must be true and readable.

use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org};
use crate::support::spawn_app;

/// Signing up signs in, so the new Owner's row does not say "Last log-in: Never"; a
/// Member sees no Invitations tab (its page would answer 404) while an Admin does; a custom
/// role names the built-in role it inherits as people read it ("Developer").
#[tokio::test]
async fn the_pages_say_what_is_true_and_readable() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let sam = app.signup("sam@example.com", "sam", PW).await;
    add_member(&app, &acct, "sam", "member");

    let members = format!("/account/{acct}/members");
    let page = ana.get(&members).await;
    assert_eq!(page.status, StatusCode::OK);
    let ana_row = page
        .text
        .split("<tr")
        .find(|r| r.contains(">ana<") || r.contains("ana@example.com"))
        .expect("ana's row");
    assert!(!ana_row.contains("Never"), "{ana_row}");

    let invitations = format!("/account/{acct}/members/invitations");
    assert!(page.text.contains(&format!("href=\"{invitations}\"")));
    let page = sam.get(&members).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.text.contains(&format!("href=\"{invitations}\"")),
        "a Member is shown no Invitations tab"
    );
    assert_eq!(sam.get(&invitations).await.status, StatusCode::NOT_FOUND);

    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[
                ("name", "Lead"),
                ("description", ""),
                ("inherit", "developer"),
                ("scopes", "manage_workspace_users"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let roles = ana.get(&format!("/account/{acct}/roles")).await;
    let lead = roles
        .text
        .split("<tr")
        .find(|r| r.contains("<td>Lead</td>"))
        .expect("the Lead row");
    assert!(lead.contains("<td>Developer</td>"), "{lead}");
    assert!(!lead.contains("<td>developer</td>"), "{lead}");
}

/// After a form came back with an error the address bar holds the address it was posted
/// to; opening that address (a bookmark, a reload) leads to the page the form is on
/// instead of an error (issue #24, point 7).
#[tokio::test]
async fn a_form_address_opened_leads_back_to_its_page() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&ana, &acct, "Production", "prod").await,
    );
    for (posted, page) in [
        (
            format!("/account/{acct}/invitations"),
            format!("/account/{acct}/members"),
        ),
        (
            format!("/account/{acct}/leave"),
            format!("/account/{acct}/members"),
        ),
        (
            format!("/account/{acct}/delete"),
            format!("/account/{acct}/settings#delete-account"),
        ),
        (
            format!("/account/{acct}/workspace/{ws}/delete"),
            format!("/account/{acct}/workspace/{ws}/settings#delete-workspace"),
        ),
    ] {
        let r = ana.get(&posted).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{posted}");
        assert_eq!(r.location().as_deref(), Some(page.as_str()), "{posted}");
        let p = ana.get(page.split('#').next().unwrap_or_default()).await;
        assert_eq!(p.status, StatusCode::OK, "{page}");
        if let Some((_, anchor)) = page.split_once('#') {
            assert!(p.text.contains(&format!("id=\"{anchor}\"")), "{page}");
        }
    }
    // Nothing changed: the account, its workspace and its Owner are all there.
    assert_eq!(
        ana.get(&format!("/account/{acct}/members")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        ana.get(&format!("/account/{acct}/workspace/{ws}/settings"))
            .await
            .status,
        StatusCode::OK
    );
}
