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

/// The members page of 50 rows weighs at most 40 KiB (issue #24, point 10): no per-row
/// confirmation markup (one dialog per page), no per-row htmx attributes (the table's
/// body carries them), so a page of the 10,001-member benchmark account stays light too.
#[tokio::test]
async fn the_members_page_of_50_rows_is_at_most_40_kib() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    crate::members::seed_members(&app, &acct, 60);
    let page = ana.get(&format!("/account/{acct}/members")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.text.matches("<td class=\"mono\">").count(),
        50,
        "a full page"
    );
    assert_eq!(
        page.text.matches("aria-label=\"Remove user").count(),
        49,
        "each row but the Owner's own can be removed"
    );
    let kib = page.text.len() as f64 / 1024.0;
    assert!(kib <= 40.0, "the members page of 50 rows is {kib:.1} KiB");
}

/// The Invitations tab filters by status (`?status=`, a labelled select that works without
/// JavaScript); an unknown status shows them all (issue #24, point 9).
#[tokio::test]
async fn invitations_are_filtered_by_status() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[
                ("emails", "zed@example.com, kim@example.com"),
                ("role", "member"),
            ],
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let kim = crate::support::text(
        &app,
        "SELECT id AS t FROM invitations WHERE email = 'kim@example.com'",
    );
    let r = ana
        .post_form(&format!("/account/{acct}/invitations/{kim}/revoke"), &[])
        .await;
    assert!(r.status.is_redirection(), "{}", r.text);

    let list = format!("/account/{acct}/members/invitations");
    let all = ana.get(&list).await;
    assert!(
        all.text
            .contains("<label for=\"inv-status\">Status</label>")
    );
    assert!(all.text.contains("zed@example.com") && all.text.contains("kim@example.com"));
    let pending = ana.get(&format!("{list}?status=pending")).await;
    assert_eq!(pending.status, StatusCode::OK);
    assert!(pending.text.contains("<td>zed@example.com</td>"));
    assert!(!pending.text.contains("<td>kim@example.com</td>"));
    assert!(pending.text.contains("<option value=\"pending\" selected>"));
    let revoked = ana.get(&format!("{list}?status=Revoked")).await;
    assert!(!revoked.text.contains("<td>zed@example.com</td>"));
    assert!(revoked.text.contains("<td>kim@example.com</td>"));
    let accepted = ana.get(&format!("{list}?status=accepted")).await;
    assert!(accepted.text.contains("No accepted invitations."));
    let unknown = ana.get(&format!("{list}?status=%00nope")).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(
        unknown.text.contains("<td>zed@example.com</td>")
            && unknown.text.contains("<td>kim@example.com</td>")
    );
}
