//! JSON API: the account, its memberships and its invitations (issue #5, item 5).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api_support::*;
use crate::members::role_in;
use crate::support::spawn_app;

#[tokio::test]
async fn api_read_account_answers_members_and_hides_it_from_others() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let path = format!("/api/accounts/{}", o.account);
    assert_needs_key(&app, Method::GET, &path, None).await;

    let r = get(&app, &o.ana_key, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&r.body, "AccountResponse");
    assert_eq!(r.body["id"], o.account.as_str());
    assert_eq!(r.body["handle"], "acme");
    assert_eq!(r.body["name"], "Acme");
    assert_eq!(r.body["plan_type"], "ORGANIZATION");

    // A Member reads it; so does a service account of the account (role Member).
    let bo = member(&app, &o.account, "bo", "member").await;
    assert_eq!(get(&app, &bo, &path).await.status, StatusCode::OK);
    let (_, bot_key) = bot(&app, &o.account, "ci");
    assert_eq!(get(&app, &bot_key, &path).await.status, StatusCode::OK);

    // Not a member, a Collaborator (no account permissions), an unknown or malformed id: 404.
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    let r = get(&app, &eve, &path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.detail(), "Not found");
    let col = crate::api_support::collaborator(&app, &o.account, "col").await;
    assert_eq!(get(&app, &col, &path).await.status, StatusCode::NOT_FOUND);
    for p in [
        format!("/api/accounts/{UNKNOWN}"),
        "/api/accounts/nope".into(),
    ] {
        assert_eq!(
            get(&app, &o.ana_key, &p).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // Another account's service account does not see this one.
    let personal = get(&app, &eve, "/api/me/").await.body["personal_account_id"]
        .as_str()
        .expect("personal")
        .to_string();
    let (_, other_bot) = bot(&app, &personal, "other");
    assert_eq!(
        get(&app, &other_bot, &path).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_memberships_filter_lists_users_and_service_accounts_with_filters() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let path = format!("/api/accounts/{}/account_memberships/filter", o.account);
    assert_needs_key(&app, Method::POST, &path, Some(json!({}))).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "admin").await;
    let (sa, _) = bot(&app, &o.account, "ci");

    // No body at all is allowed (every field is optional).
    let r = call(&app, Some(&o.ana_key), Method::POST, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "AccountMembershipsResponse");
    let all = r.body.as_array().expect("list");
    assert_eq!(all.len(), 4, "three people and one service account");
    let handles: Vec<&str> = all.iter().filter_map(|m| m["handle"].as_str()).collect();
    assert_eq!(handles, ["ana", "bo", "cy"], "people by handle");
    let last = &all[3];
    assert_eq!(last["actor_id"], sa.as_str());
    assert!(last["user_id"].is_null());
    assert_eq!(last["account_role_name"], "Member");
    assert_eq!(all[0]["account_role_name"], "Owner");
    assert_eq!(all[0]["account_role_id"], ACCOUNT_OWNER);
    assert_eq!(all[0]["email"], "ana@example.com");
    assert_eq!(all[0]["active"], true);

    // A Member may read the list (read:account_membership).
    let r = post(&app, &bo, &path, json!({"only_users": true})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().map(Vec::len), Some(3));

    let r = post(&app, &o.ana_key, &path, json!({"only_bots": true})).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"account_memberships": {"account_role_id": {"any_": [ACCOUNT_ADMIN]}}}),
    )
    .await;
    assert_eq!(r.body[0]["handle"], "cy");
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"account_memberships": {"operator": "or_", "email": {"like_": "BO@"}, "handle": {"any_": ["cy"]}}, "sort": "HANDLE_DESC"}),
    )
    .await;
    let handles: Vec<&str> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["handle"].as_str())
        .collect();
    assert_eq!(handles, ["cy", "bo"]);
    let r = post(&app, &o.ana_key, &path, json!({"limit": 1, "offset": 1})).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    assert_eq!(r.body[0]["handle"], "bo");
    let r = post(&app, &o.ana_key, &path, json!({"active": false})).await;
    assert_eq!(r.body, json!([]));

    // Bad input names the field.
    post(&app, &o.ana_key, &path, json!({"limit": 500}))
        .await
        .expect_422("body.limit");
    post(&app, &o.ana_key, &path, json!({"sort": "SIDEWAYS"}))
        .await
        .expect_422("body.sort");
    post(
        &app,
        &o.ana_key,
        &path,
        json!({"account_memberships": {"user_id": {"any_": ["x"]}}}),
    )
    .await
    .expect_422("body.account_memberships.user_id.any_");

    // A Collaborator or a stranger: 404.
    let col = crate::api_support::collaborator(&app, &o.account, "col").await;
    assert_eq!(
        post(&app, &col, &path, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_membership_role_change_follows_the_members_page_rules() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let cy = member(&app, &o.account, "cy", "admin").await;
    let bo_m = membership_id(&app, &o.account, "bo");
    let ana_m = membership_id(&app, &o.account, "ana");
    let path = |m: &str| format!("/api/accounts/{}/account_memberships/{m}", o.account);
    let body = json!({"account_role_id": ACCOUNT_ADMIN});
    assert_needs_key(&app, Method::PATCH, &path(&bo_m), Some(body.clone())).await;

    // A Member may see memberships but not change them: 403, nothing changed.
    let r = patch(&app, &bo, &path(&bo_m), body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(role_in(&app, &o.account, "bo").as_deref(), Some("member"));
    // Unknown membership, stranger: 404.
    assert_eq!(
        patch(&app, &o.ana_key, &path(UNKNOWN), body.clone())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        patch(&app, &eve, &path(&bo_m), body.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    // Bad input: 422 naming the field, nothing changed.
    for bad in [
        json!({}),
        json!({"account_role_id": "owner"}),
        json!({"account_role_id": ACCOUNT_COLLABORATOR}),
        json!({"account_role_id": UNKNOWN}),
    ] {
        patch(&app, &o.ana_key, &path(&bo_m), bad)
            .await
            .expect_422("body.account_role_id");
    }
    assert_eq!(role_in(&app, &o.account, "bo").as_deref(), Some("member"));
    // An Admin cannot make an Owner (403), nor change an Owner.
    let r = patch(
        &app,
        &cy,
        &path(&bo_m),
        json!({"account_role_id": ACCOUNT_OWNER}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.detail(),
        "You cannot give or change a role above your own."
    );
    assert_eq!(
        patch(
            &app,
            &cy,
            &path(&ana_m),
            json!({"account_role_id": ACCOUNT_MEMBER})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // The last Owner stays one: 409 with the page's message.
    let r = patch(
        &app,
        &o.ana_key,
        &path(&ana_m),
        json!({"account_role_id": ACCOUNT_MEMBER}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.detail(), "An account must keep at least one Owner.");
    assert_eq!(role_in(&app, &o.account, "ana").as_deref(), Some("owner"));
    assert_eq!(events(&app, "atrium.member.role_changed"), 0);

    // Success: 204, the role changed, one audit event.
    let r = patch(&app, &cy, &path(&bo_m), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(role_in(&app, &o.account, "bo").as_deref(), Some("admin"));
    assert_eq!(events(&app, "atrium.member.role_changed"), 1);
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/account_memberships/filter", o.account),
        json!({"account_memberships": {"handle": {"any_": ["bo"]}}}),
    )
    .await;
    assert_eq!(r.body[0]["account_role_id"], ACCOUNT_ADMIN);
}

#[tokio::test]
async fn api_membership_delete_removes_the_member_and_their_workspace_access() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "admin").await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    grant(&app, &ws, "bo", VIEWER_ROLE);
    let bo_m = membership_id(&app, &o.account, "bo");
    let ana_m = membership_id(&app, &o.account, "ana");
    let path = |m: &str| format!("/api/accounts/{}/account_memberships/{m}", o.account);
    assert_needs_key(&app, Method::DELETE, &path(&bo_m), None).await;

    let cy = user_key(&app, "cy");
    // A Member: 403; unknown: 404; an Admin removing an Owner: 403; oneself: 409.
    assert_eq!(
        delete(&app, &bo, &path(&ana_m)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &o.ana_key, &path(UNKNOWN)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &cy, &path(&ana_m)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = delete(&app, &o.ana_key, &path(&ana_m)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let in_org = format!(
        "SELECT COUNT(*) AS n FROM account_memberships WHERE account_id = '{}'",
        o.account
    );
    assert_eq!(app.count(&in_org), 3);

    let before = app.count("SELECT COUNT(*) AS n FROM workspace_access");
    let r = delete(&app, &cy, &path(&bo_m)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(role_in(&app, &o.account, "bo"), None);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_access"),
        before - 1,
        "the workspace access went with the membership"
    );
    assert_eq!(events(&app, "atrium.member.removed"), 1);
    // bo's key no longer reaches the account; the membership is gone.
    assert_eq!(
        get(&app, &bo, &format!("/api/accounts/{}", o.account))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &cy, &path(&bo_m)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_invitations_are_created_all_or_nothing_with_mail_through_the_outbox() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let cy = member(&app, &o.account, "cy", "admin").await;
    let path = format!("/api/accounts/{}/invitations/", o.account);
    let one = json!([{"email": "new@example.com", "account_role_id": ACCOUNT_MEMBER}]);
    assert_needs_key(&app, Method::POST, &path, Some(one.clone())).await;
    let count = || app.count("SELECT COUNT(*) AS n FROM invitations");
    let mails = || app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation'");

    // A Member may see the account's members but not invite: 403.
    assert_eq!(
        post(&app, &bo, &path, one.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    // A stranger: 404.
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        post(&app, &eve, &path, one.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // Bad input: 422 naming the item and field; nothing created, nothing sent.
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!([
            {"email": "ok@example.com", "account_role_id": ACCOUNT_MEMBER},
            {"email": "not an address", "account_role_id": ACCOUNT_MEMBER},
            {"account_role_id": ACCOUNT_COLLABORATOR}
        ]),
    )
    .await;
    let msg = r.expect_422("body.1.email");
    assert_eq!(msg, "Enter a valid e-mail address, like name@example.com.");
    r.expect_422("body.2.email");
    r.expect_422("body.2.account_role_id");
    post(&app, &o.ana_key, &path, json!({"email": "x@example.com"}))
        .await
        .expect_422("body");
    post(&app, &o.ana_key, &path, json!([]))
        .await
        .expect_422("body");
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!([
            {"email": "ok@example.com", "account_role_id": ACCOUNT_MEMBER},
            {"email": "BO@example.com", "account_role_id": ACCOUNT_MEMBER}
        ]),
    )
    .await;
    assert_eq!(
        r.expect_422("body.1.email"),
        "Already a member of this account."
    );
    // An Admin cannot invite an Owner.
    let r = post(
        &app,
        &cy,
        &path,
        json!([{"email": "boss@example.com", "account_role_id": ACCOUNT_OWNER}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!((count(), mails()), (0, 0), "nothing created on any error");

    // Success: 201 with one invitation per address, e-mails queued, events recorded.
    let r = post(
        &app,
        &cy,
        &path,
        json!([
            {"email": "New@Example.com", "account_role_id": ACCOUNT_MEMBER},
            {"email": "two@example.com", "account_role_id": ACCOUNT_ADMIN},
            {"email": "new@example.com", "account_role_id": ACCOUNT_MEMBER}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_items_match_schema(&r.body, "InvitationReadResponse");
    let list = r.body.as_array().expect("list");
    assert_eq!(list.len(), 2, "the same address twice is invited once");
    assert_eq!(list[0]["email"], "New@Example.com");
    assert_eq!(list[0]["status"], "PENDING");
    assert_eq!(list[0]["account_id"], o.account.as_str());
    assert_eq!(list[1]["account_role_id"], ACCOUNT_ADMIN);
    assert_eq!((count(), mails()), (2, 2));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE to_addr = 'two@example.com'"),
        1
    );
    assert_eq!(events(&app, "atrium.invitation.created"), 2);

    // Inviting the same address again replaces the pending invitation.
    let r = post(&app, &o.ana_key, &path, one.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'revoked'"),
        1
    );
    // Without the trailing slash too.
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/invitations", o.account),
        json!([{"email": "three@example.com", "account_role_id": ACCOUNT_MEMBER}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn api_invitations_filter_and_revoke() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/invitations/", o.account),
        json!([
            {"email": "one@example.com", "account_role_id": ACCOUNT_MEMBER},
            {"email": "two@example.com", "account_role_id": ACCOUNT_ADMIN}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let one = r.body[0]["id"].as_str().expect("id").to_string();
    let filter = format!("/api/accounts/{}/invitations/filter", o.account);
    let revoke = |id: &str| format!("/api/accounts/{}/invitations/{id}/revoke", o.account);
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;
    assert_needs_key(&app, Method::POST, &revoke(&one), None).await;

    let r = call(&app, Some(&o.ana_key), Method::POST, &filter, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "InvitationReadResponse");
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"invitations": {"email": {"like_": "ONE"}}}),
    )
    .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    assert_eq!(r.body[0]["id"], one.as_str());
    post(
        &app,
        &o.ana_key,
        &filter,
        json!({"invitations": {"status": {"any_": ["LOST"]}}}),
    )
    .await
    .expect_422("body.invitations.status");
    post(&app, &o.ana_key, &filter, json!({"offset": -1}))
        .await
        .expect_422("body.offset");

    // A Member cannot read invitations (read:invitation): they do not exist for them.
    assert_eq!(
        post(&app, &bo, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Some(&bo), Method::POST, &revoke(&one), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Some(&o.ana_key), Method::POST, &revoke(UNKNOWN), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(events(&app, "atrium.invitation.revoked"), 0);

    let r = call(&app, Some(&o.ana_key), Method::POST, &revoke(&one), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(events(&app, "atrium.invitation.revoked"), 1);
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"invitations": {"status": {"any_": ["REVOKED"]}}}),
    )
    .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    assert_eq!(r.body[0]["status"], "REVOKED");
    // Revoking again changes nothing.
    let r = call(&app, Some(&o.ana_key), Method::POST, &revoke(&one), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(events(&app, "atrium.invitation.revoked"), 1);
}

#[tokio::test]
async fn api_every_account_endpoint_is_404_for_a_stranger_and_changes_nothing() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    member(&app, &o.account, "bo", "member").await;
    grant(&app, &ws, "bo", VIEWER_ROLE);
    let bo_m = membership_id(&app, &o.account, "bo");
    let access: String = {
        use atrium::db::schema::workspace_access as a;
        use diesel::prelude::*;
        a::table
            .filter(a::workspace_id.eq(&ws))
            .filter(a::user_id.eq(crate::members::user_id(&app, "bo")))
            .select(a::id)
            .first(&mut app.conn())
            .expect("access")
    };
    let inv = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/invitations/", o.account),
        json!([{"email": "new@example.com", "account_role_id": ACCOUNT_MEMBER}]),
    )
    .await;
    let inv = inv.body[0]["id"].as_str().expect("id").to_string();
    let role = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Auditor", "scopes": ["see_flows"]}),
    )
    .await;
    let role = role.body["id"].as_str().expect("id").to_string();

    // eve has her own account and a service account there; neither reaches Acme.
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    let personal = get(&app, &eve, "/api/me/").await.body["personal_account_id"]
        .as_str()
        .expect("personal")
        .to_string();
    let (_, eve_bot) = bot(&app, &personal, "ci");

    let a = format!("/api/accounts/{}", o.account);
    let w = format!("{a}/workspaces/{ws}");
    let bo_id = crate::members::user_id(&app, "bo");
    let calls: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, a.clone(), None),
        (
            Method::POST,
            format!("{a}/account_memberships/filter"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("{a}/account_memberships/{bo_m}"),
            Some(json!({"account_role_id": ACCOUNT_ADMIN})),
        ),
        (
            Method::DELETE,
            format!("{a}/account_memberships/{bo_m}"),
            None,
        ),
        (
            Method::POST,
            format!("{a}/invitations/"),
            Some(json!([{"email": "x@example.com", "account_role_id": ACCOUNT_MEMBER}])),
        ),
        (
            Method::POST,
            format!("{a}/invitations/filter"),
            Some(json!({})),
        ),
        (Method::POST, format!("{a}/invitations/{inv}/revoke"), None),
        (
            Method::POST,
            format!("{a}/workspaces/"),
            Some(json!({"name": "X", "handle": "x"})),
        ),
        (
            Method::POST,
            format!("{a}/workspaces/filter"),
            Some(json!({})),
        ),
        (Method::GET, w.clone(), None),
        (Method::PATCH, w.clone(), Some(json!({"name": "Mine"}))),
        (Method::DELETE, w.clone(), None),
        (
            Method::POST,
            format!("{a}/workspace_roles/"),
            Some(json!({"name": "X", "scopes": ["see_flows"]})),
        ),
        (
            Method::POST,
            format!("{a}/workspace_roles/filter"),
            Some(json!({})),
        ),
        (Method::GET, format!("{a}/workspace_roles/{role}"), None),
        (
            Method::PATCH,
            format!("{a}/workspace_roles/{role}"),
            Some(json!({"name": "Mine"})),
        ),
        (Method::DELETE, format!("{a}/workspace_roles/{role}"), None),
        (
            Method::POST,
            format!("{w}/user_access/"),
            Some(json!({"user_id": bo_id, "workspace_role_id": OWNER_ROLE})),
        ),
        (
            Method::POST,
            format!("{w}/user_access/filter"),
            Some(json!({})),
        ),
        (Method::GET, format!("{w}/user_access/{access}"), None),
        (Method::DELETE, format!("{w}/user_access/{access}"), None),
    ];
    let snapshot = || {
        [
            "SELECT COUNT(*) AS n FROM account_memberships",
            "SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending'",
            "SELECT COUNT(*) AS n FROM workspaces",
            "SELECT COUNT(*) AS n FROM workspace_roles",
            "SELECT COUNT(*) AS n FROM workspace_access",
            "SELECT COUNT(*) AS n FROM audit_events WHERE action NOT LIKE 'atrium.api_key.%'",
        ]
        .map(|q| app.count(q))
    };
    let before = snapshot();
    for key in [&eve, &eve_bot] {
        for (method, path, body) in &calls {
            let r = call(&app, Some(key), method.clone(), path, body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.body
            );
            assert_eq!(r.detail(), "Not found", "{method} {path}");
        }
    }
    assert_eq!(snapshot(), before, "nothing changed");
}
