//! Teams and the rest of the account (issue #25): a transfer lists the people whose access
//! came through a team of the source account and ends the team accesses; deleting a
//! workspace removes its team accesses; leaving an account (or being removed) leaves its
//! teams; a custom role held by a team is in use. The API and pages of teams are in
//! `api_teams` and `teams_pages`; the gateway through a team in `gateway_access`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_support::{RUNNER_ROLE, call, membership_id, user_key};
use crate::gateway_access::team_with_access;
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{spawn_app, ws_id};
use crate::workspaces::create_ws;

#[tokio::test]
async fn a_transfer_lists_who_loses_access_through_a_team_and_ends_team_accesses() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    app.signup("cy@example.com", "cy", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let beta = create_org(&ana, "Beta", "beta").await;
    let ws = ws_id(&create_ws(&ana, &acme, "Pipelines", "pipelines").await);
    add_member(&app, &acme, "bo", "member");
    add_member(&app, &acme, "cy", "member");
    add_member(&app, &beta, "cy", "member");
    team_with_access(&app, &acme, &ws, "Data", &["bo", "cy"], RUNNER_ROLE);
    let ana_key = user_key(&app, "ana");
    let base = format!("/api/accounts/{acme}/workspaces/{ws}");

    let r = call(
        &app,
        Some(&ana_key),
        Method::POST,
        &format!("{base}/validate_transfer"),
        Some(json!({ "to_account_id": beta })),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["teams_losing_access"][0]["team"], "Data");
    assert_eq!(r.body["teams_losing_access"][0]["role"], "Runner");
    let people: Vec<&str> = r.body["users_losing_team_access"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|u| u["handle"].as_str())
        .collect();
    assert_eq!(people, ["bo", "cy"], "{:?}", r.body);
    // The page shows the same.
    let page = ana
        .get(&format!(
            "/account/{acme}/workspace/{ws}/settings/transfer/preview?target={beta}&new_handle="
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("The team Data (Runner)"),
        "{}",
        page.text
    );
    assert!(page.text.contains("bo has access through the team Data"));

    let r = call(
        &app,
        Some(&ana_key),
        Method::POST,
        &format!("{base}/transfer"),
        Some(json!({ "to_account_id": beta })),
    )
    .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_team_access"),
        0
    );
    // The team itself stays in Acme, with its members.
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 2);
    // Cy is a member of Beta without a role there: the workspace is gone for him.
    let r = call(
        &app,
        Some(&user_key(&app, "cy")),
        Method::GET,
        "/api/me/workspaces",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.body.to_string().contains(&ws),
        "cy still reaches the moved workspace: {:?}",
        r.body
    );
}

#[tokio::test]
async fn deleting_a_workspace_ends_its_team_accesses_and_leaving_an_account_leaves_its_teams() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let ws = ws_id(&create_ws(&ana, &acme, "Pipelines", "pipelines").await);
    let other = ws_id(&create_ws(&ana, &acme, "Staging", "staging").await);
    add_member(&app, &acme, "bo", "member");
    let team = team_with_access(&app, &acme, &ws, "Data", &["bo"], RUNNER_ROLE);
    let ana_key = user_key(&app, "ana");
    let r = call(
        &app,
        Some(&ana_key),
        Method::PUT,
        &format!("/api/accounts/{acme}/workspaces/{other}/team_access/"),
        Some(json!([{ "team_id": team, "workspace_role_id": RUNNER_ROLE }])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_team_access"),
        2
    );

    let r = call(
        &app,
        Some(&ana_key),
        Method::DELETE,
        &format!("/api/accounts/{acme}/workspaces/{ws}"),
        None,
    )
    .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_team_access"),
        1
    );
    let payload = crate::support::text(
        &app,
        "SELECT payload AS t FROM audit_events WHERE action = 'atrium.workspace.deleted'",
    );
    assert!(payload.contains("\"team_accesses\":1"), "{payload}");

    // Bo still reaches staging through the team; removed from Acme, he leaves the team.
    let bo_key = user_key(&app, "bo");
    let r = call(&app, Some(&bo_key), Method::GET, "/api/me/workspaces", None).await;
    assert!(r.body.to_string().contains(&other), "{:?}", r.body);
    let r = call(
        &app,
        Some(&ana_key),
        Method::DELETE,
        &format!(
            "/api/accounts/{acme}/account_memberships/{}",
            membership_id(&app, &acme, "bo")
        ),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 0);
    let _ = user_id(&app, "bo");
}

#[tokio::test]
async fn a_custom_role_a_team_holds_is_in_use() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let ws = ws_id(&create_ws(&ana, &acme, "Pipelines", "pipelines").await);
    let role = {
        let mut c = app.conn();
        let usage = atrium::workspaces::model::role_usage(&mut c, RUNNER_ROLE).expect("usage");
        assert!(usage.held.is_empty());
        RUNNER_ROLE
    };
    team_with_access(&app, &acme, &ws, "Data", &[], role);
    let mut c = app.conn();
    let usage = atrium::workspaces::model::role_usage(&mut c, role).expect("usage");
    assert_eq!(usage.held, ["Pipelines"]);
}

/// A Member may read the account's teams, but a workspace they have no scope on does not
/// exist for them (DESIGN §2 rule 4), even in a team's list of workspaces.
#[tokio::test]
async fn a_member_sees_only_the_workspaces_they_reach_in_a_teams_list() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let open = ws_id(&create_ws(&ana, &acme, "Open", "open").await);
    let secret = ws_id(&create_ws(&ana, &acme, "Secret plans", "secret-plans").await);
    add_member(&app, &acme, "bo", "member");
    let team = team_with_access(&app, &acme, &open, "Data", &["bo"], RUNNER_ROLE);
    let ana_key = user_key(&app, "ana");
    let r = call(
        &app,
        Some(&ana_key),
        Method::PUT,
        &format!("/api/accounts/{acme}/workspaces/{secret}/team_access/"),
        Some(json!([{ "team_id": team, "workspace_role_id": RUNNER_ROLE }])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Bo reaches both through the team: he sees both.
    let bo_key = user_key(&app, "bo");
    let path = format!("/api/accounts/{acme}/teams/{team}");
    let r = call(&app, Some(&bo_key), Method::GET, &path, None).await;
    assert_eq!(r.body["workspaces"].as_array().map(Vec::len), Some(2));
    // Cy is a Member outside the team: neither workspace exists for him.
    let cy = app.signup("cy@example.com", "cy", PW).await;
    add_member(&app, &acme, "cy", "member");
    let cy_key = user_key(&app, "cy");
    let r = call(&app, Some(&cy_key), Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["workspaces"], json!([]), "{:?}", r.body);
    let page = cy.get(&format!("/account/{acme}/teams/{team}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("Secret plans"), "{}", page.text);
    // Ana (Owner) sees both on the page.
    let page = ana.get(&format!("/account/{acme}/teams/{team}")).await;
    assert!(page.text.contains("Secret plans"));
    let _ = bo;
}
