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
