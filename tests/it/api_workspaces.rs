//! JSON API: workspaces, user access to them, the orchestration paths Atrium does not
//! serve, and the OpenAPI document (issue #5, item 5).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::*;
use crate::members::{PW, role_in, user_id};
use crate::support::spawn_app;

#[tokio::test]
async fn api_create_workspace_validates_like_the_page_and_makes_the_creator_owner() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let path = format!("/api/accounts/{}/workspaces/", o.account);
    let good = json!({"name": "Production", "handle": "prod", "description": "Where flows run"});
    assert_needs_key(&app, Method::POST, &path, Some(good.clone())).await;
    let count = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspaces WHERE account_id = '{}'",
            o.account
        ))
    };

    // A Member may read workspaces but not create them; a service account neither.
    let bo = member(&app, &o.account, "bo", "member").await;
    assert_eq!(
        post(&app, &bo, &path, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let (_, bot_key) = bot(&app, &o.account, "ci");
    assert_eq!(
        post(&app, &bot_key, &path, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    app.signup("eve@example.com", "eve", PW).await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        post(&app, &eve, &path, good.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // Bad input: the page's messages, at the field.
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "", "handle": "Bad Handle"}),
    )
    .await;
    assert_eq!(r.expect_422("body.name"), "Enter a name.");
    assert_eq!(
        r.expect_422("body.handle"),
        "Use only lowercase letters, digits and dashes."
    );
    post(&app, &o.ana_key, &path, json!({"handle": "x"}))
        .await
        .expect_422("body.name");
    post(&app, &o.ana_key, &path, json!({"name": 5, "handle": "x"}))
        .await
        .expect_422("body.name");
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "handle": "x", "description": "d".repeat(501)}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.description"),
        "Descriptions are at most 500 characters."
    );
    let r = call(&app, Some(&o.ana_key), Method::POST, &path, None).await;
    r.expect_422("body");
    assert_eq!(count(), 0);

    // Success: 201 with the Workspace, the creator holds Owner, an audit event.
    let r = post(&app, &o.ana_key, &path, good.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&r.body, "Workspace");
    assert_eq!(r.body["handle"], "prod");
    assert_eq!(r.body["description"], "Where flows run");
    assert_eq!(r.body["account_id"], o.account.as_str());
    assert!(r.body["default_workspace_role_id"].is_null());
    assert_eq!(r.body["is_public"], false);
    assert_eq!(count(), 1);
    assert_eq!(events(&app, "atrium.workspace.created"), 1);
    let ws = r.body["id"].as_str().expect("id").to_string();
    let scopes = get(&app, &o.ana_key, &format!("/api/me/workspaces/{ws}/scopes")).await;
    assert_eq!(scopes.body.as_array().map(Vec::len), Some(61));

    // The handle is unique in the account; the account's limit holds.
    let r = post(&app, &o.ana_key, &path, good).await;
    assert_eq!(
        r.expect_422("body.handle"),
        "This account already has a workspace with this handle."
    );
    {
        use diesel::prelude::*;
        diesel::update(atrium::db::schema::accounts::table.find(&o.account))
            .set(atrium::db::schema::accounts::workspace_limit.eq(Some(1i64)))
            .execute(&mut app.conn())
            .expect("limit");
    }
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "Two", "handle": "two"}),
    )
    .await;
    assert!(r.expect_422("body.name").contains("limit of 1 workspace"));
    assert_eq!(count(), 1);
}

#[tokio::test]
async fn api_read_and_filter_workspaces_show_only_what_the_caller_reaches() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let prod = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let dev = api_ws(&app, &o.ana_key, &o.account, "dev").await;
    let bo = member(&app, &o.account, "bo", "member").await;
    grant(&app, &dev, "bo", VIEWER_ROLE);
    let one = |w: &str| format!("/api/accounts/{}/workspaces/{w}", o.account);
    let filter = format!("/api/accounts/{}/workspaces/filter", o.account);
    assert_needs_key(&app, Method::GET, &one(&prod), None).await;
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;

    let r = get(&app, &o.ana_key, &one(&prod)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&r.body, "Workspace");
    assert_eq!(r.body["id"], prod.as_str());

    // bo has a role on dev only: prod does not exist for him.
    assert_eq!(get(&app, &bo, &one(&dev)).await.status, StatusCode::OK);
    assert_eq!(
        get(&app, &bo, &one(&prod)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &o.ana_key, &one(UNKNOWN)).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post(&app, &bo, &filter, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_items_match_schema(&r.body, "Workspace");
    let handles = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|w| w["handle"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(handles(&r.body), ["dev"]);

    // Everyone at the account reaches prod once its default role is Viewer.
    set_default_role(&app, &prod, Some(VIEWER_ROLE));
    let r = call(&app, Some(&bo), Method::POST, &filter, None).await;
    assert_eq!(handles(&r.body), ["dev", "prod"]);
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"workspaces": {"handle": {"any_": ["prod"]}}}),
    )
    .await;
    assert_eq!(handles(&r.body), ["prod"]);
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"workspaces": {"id": {"any_": [dev]}}}),
    )
    .await;
    assert_eq!(handles(&r.body), ["dev"]);
    let r = post(&app, &o.ana_key, &filter, json!({"limit": 1, "offset": 1})).await;
    assert_eq!(handles(&r.body), ["prod"]);
    post(&app, &o.ana_key, &filter, json!({"limit": "many"}))
        .await
        .expect_422("body.limit");

    // A service account sees the workspaces it has a role on (the default role never
    // applies to it).
    let (sa, bot_key) = bot(&app, &o.account, "ci");
    let r = post(&app, &bot_key, &filter, json!({})).await;
    assert_eq!(handles(&r.body), Vec::<String>::new());
    assert_eq!(
        get(&app, &bot_key, &one(&prod)).await.status,
        StatusCode::NOT_FOUND
    );
    grant_bot(&app, &dev, &sa, RUNNER_ROLE);
    let r = post(&app, &bot_key, &filter, json!({})).await;
    assert_eq!(handles(&r.body), ["dev"]);

    // A stranger: the account does not exist.
    app.signup("eve@example.com", "eve", PW).await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        post(&app, &eve, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &eve, &one(&prod)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_update_workspace_needs_write_workspace_settings_and_validates() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    api_ws(&app, &o.ana_key, &o.account, "dev").await;
    let bo = member(&app, &o.account, "bo", "member").await;
    grant(&app, &ws, "bo", VIEWER_ROLE);
    let cy = member(&app, &o.account, "cy", "member").await;
    grant(&app, &ws, "cy", DEVELOPER_ROLE);
    let path = format!("/api/accounts/{}/workspaces/{ws}", o.account);
    let body = json!({"name": "Production EU", "description": "Moved"});
    assert_needs_key(&app, Method::PATCH, &path, Some(body.clone())).await;
    let unchanged = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{ws}' AND name = 'prod' AND handle = 'prod' AND description = ''"
        ))
    };

    // A Viewer cannot see the settings: 404. A Developer sees them but cannot write: 403.
    assert_eq!(
        patch(&app, &bo, &path, body.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch(&app, &cy, &path, body.clone()).await.status,
        StatusCode::FORBIDDEN
    );

    // Bad input: 422 naming the field, nothing changed.
    let r = patch(&app, &o.ana_key, &path, json!({"handle": "dev"})).await;
    assert_eq!(
        r.expect_422("body.handle"),
        "This account already has a workspace with this handle."
    );
    patch(&app, &o.ana_key, &path, json!({"name": ""}))
        .await
        .expect_422("body.name");
    let r = patch(
        &app,
        &o.ana_key,
        &path,
        json!({"default_workspace_role_id": UNKNOWN}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.default_workspace_role_id"),
        "Choose a role of this account, or No Access."
    );
    patch(
        &app,
        &o.ana_key,
        &path,
        json!({"default_workspace_role_id": "viewer"}),
    )
    .await
    .expect_422("body.default_workspace_role_id");
    assert_eq!(unchanged(), 1);
    assert_eq!(events(&app, "atrium.workspace.updated"), 0);

    // Success: absent fields stay, the event is recorded.
    let r = patch(&app, &o.ana_key, &path, body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = get(&app, &o.ana_key, &path).await;
    assert_eq!(r.body["name"], "Production EU");
    assert_eq!(r.body["handle"], "prod");
    assert_eq!(r.body["description"], "Moved");
    assert_eq!(events(&app, "atrium.workspace.updated"), 1);
    // The default role alone: its own event name; null is No Access.
    let r = patch(
        &app,
        &o.ana_key,
        &path,
        json!({"default_workspace_role_id": VIEWER_ROLE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(events(&app, "atrium.workspace.default_role_changed"), 1);
    assert_eq!(
        get(&app, &o.ana_key, &path).await.body["default_workspace_role_id"],
        VIEWER_ROLE
    );
    let r = patch(
        &app,
        &o.ana_key,
        &path,
        json!({"default_workspace_role_id": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(get(&app, &o.ana_key, &path).await.body["default_workspace_role_id"].is_null());

    // A service account with the Owner role on the workspace may change it (audited as such).
    let (sa, bot_key) = bot(&app, &o.account, "ci");
    grant_bot(&app, &ws, &sa, OWNER_ROLE);
    let r = patch(&app, &bot_key, &path, json!({"description": "by a bot"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        last_actor_kind(&app, "atrium.workspace.updated"),
        "service_account"
    );
}

#[tokio::test]
async fn api_delete_workspace_needs_manage_workspace_settings_and_then_everything_is_404() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let bo = member(&app, &o.account, "bo", "member").await;
    grant(&app, &ws, "bo", VIEWER_ROLE);
    let path = format!("/api/accounts/{}/workspaces/{ws}", o.account);
    assert_needs_key(&app, Method::DELETE, &path, None).await;
    let count = || app.count("SELECT COUNT(*) AS n FROM workspaces");

    assert_eq!(delete(&app, &bo, &path).await.status, StatusCode::NOT_FOUND);
    // write_workspace_settings is not enough to delete.
    let role = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Settings editor", "scopes": ["write_workspace_settings"]}),
    )
    .await;
    grant(&app, &ws, "bo", role.body["id"].as_str().expect("id"));
    assert_eq!(delete(&app, &bo, &path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(
            &app,
            &o.ana_key,
            &format!("/api/accounts/{}/workspaces/{UNKNOWN}", o.account)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(), 1);

    let r = delete(&app, &o.ana_key, &path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(count(), 0);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM workspace_access"), 0);
    assert_eq!(events(&app, "atrium.workspace.deleted"), 1);
    // Its PREFECT_API_URL and everything below it now answer 404.
    assert_eq!(
        get(&app, &o.ana_key, &path).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&app, &o.ana_key, &format!("{path}/flows/filter"), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &o.ana_key, &format!("/api/me/workspaces/{ws}/scopes"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &o.ana_key, &path).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_user_access_upsert_follows_the_sharing_rules() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let bo_key = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "member").await;
    app.signup("eve@example.com", "eve", PW).await;
    let (bo, eve) = (user_id(&app, "bo"), user_id(&app, "eve"));
    let path = format!("/api/accounts/{}/workspaces/{ws}/user_access/", o.account);
    let one = json!({"user_id": bo, "workspace_role_id": VIEWER_ROLE});
    assert_needs_key(&app, Method::POST, &path, Some(one.clone())).await;
    let accesses = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access WHERE workspace_id = '{ws}'"
        ))
    };
    assert_eq!(accesses(), 1, "ana, the creator");

    // bo cannot see the workspace yet: 404. As a Viewer he sees it, not its users: 404.
    assert_eq!(
        post(&app, &bo_key, &path, one.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    grant(&app, &ws, "cy", VIEWER_ROLE);
    let cy_key = user_key(&app, "cy");
    assert_eq!(
        post(&app, &cy_key, &path, one.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    // With see_workspace_users but not manage: 403.
    let role = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Member list", "scopes": ["see_workspace_users", "see_flows"]}),
    )
    .await;
    let seer = role.body["id"].as_str().expect("id").to_string();
    grant(&app, &ws, "cy", &seer);
    assert_eq!(
        post(&app, &cy_key, &path, one.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(accesses(), 2);

    // Bad input, all or nothing: nothing changes when one item is bad.
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!([one.clone(), {"user_id": eve, "workspace_role_id": VIEWER_ROLE}]),
    )
    .await;
    assert_eq!(
        r.expect_422("body.1.user_id"),
        "Only members of the account can be added."
    );
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"user_id": bo, "workspace_role_id": UNKNOWN}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.workspace_role_id"),
        "Choose a role of this account."
    );
    post(&app, &o.ana_key, &path, json!({"user_id": "bo"}))
        .await
        .expect_422("body.user_id");
    post(&app, &o.ana_key, &path, json!({"user_id": bo}))
        .await
        .expect_422("body.workspace_role_id");
    assert_eq!(accesses(), 2);
    assert_eq!(events(&app, "atrium.workspace_access.granted"), 0);

    // Success, one object: answered with one object.
    let r = post(&app, &o.ana_key, &path, one).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&r.body, "WorkspaceUserAccessResponse");
    assert_eq!(r.body["user_id"], bo.as_str());
    assert_eq!(r.body["actor_id"], bo.as_str());
    assert_eq!(r.body["handle"], "bo");
    assert_eq!(r.body["email"], "bo@example.com");
    assert_eq!(r.body["workspace_role_id"], VIEWER_ROLE);
    assert_eq!(r.body["workspace_id"], ws.as_str());
    assert_eq!(accesses(), 3);
    assert_eq!(events(&app, "atrium.workspace_access.granted"), 1);
    // A list: answered with a list; an existing access changes role.
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!([{"user_id": bo, "workspace_role_id": DEVELOPER_ROLE}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_items_match_schema(&r.body, "WorkspaceUserAccessResponse");
    assert_eq!(r.body[0]["workspace_role_id"], DEVELOPER_ROLE);
    assert_eq!(accesses(), 3);
    assert_eq!(events(&app, "atrium.workspace_access.role_changed"), 1);

    // Nobody grants a role with scopes they lack: a manager without Owner's scopes.
    let mgr = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "People manager", "scopes": ["manage_workspace_users", "see_flows"]}),
    )
    .await;
    grant(&app, &ws, "cy", mgr.body["id"].as_str().expect("id"));
    let r = post(
        &app,
        &cy_key,
        &path,
        json!({"user_id": bo, "workspace_role_id": OWNER_ROLE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.detail(),
        "You cannot give a role with permissions you do not have yourself."
    );
    // …nor changes the role of someone holding more than they do.
    let r = post(
        &app,
        &cy_key,
        &path,
        json!({"user_id": bo, "workspace_role_id": seer}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Without a trailing slash too; cy may give a role within their own scopes.
    let r = post(
        &app,
        &cy_key,
        path.trim_end_matches('/'),
        json!({"user_id": user_id(&app, "ana"), "workspace_role_id": OWNER_ROLE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn api_user_access_filter_and_delete_by_access_id() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let bo_key = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "collaborator").await;
    grant(&app, &ws, "bo", VIEWER_ROLE);
    grant(&app, &ws, "cy", RUNNER_ROLE);
    let base = format!("/api/accounts/{}/workspaces/{ws}/user_access", o.account);
    let filter = format!("{base}/filter");
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;

    let r = call(&app, Some(&o.ana_key), Method::POST, &filter, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "WorkspaceUserAccessResponse");
    let list = r.body.as_array().expect("list").clone();
    let handles: Vec<&str> = list.iter().filter_map(|a| a["handle"].as_str()).collect();
    assert_eq!(handles, ["ana", "bo", "cy"]);
    let cy_access = list[2]["id"].as_str().expect("id").to_string();
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"workspace_accesses": {"workspace_role_id": {"any_": [RUNNER_ROLE]}}}),
    )
    .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"users": {"email": {"like_": "BO@"}}, "sort": "HANDLE_DESC"}),
    )
    .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));
    assert_eq!(r.body[0]["handle"], "bo");
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"sort": "HANDLE_DESC", "limit": 2}),
    )
    .await;
    let handles: Vec<&str> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["handle"].as_str())
        .collect();
    assert_eq!(handles, ["cy", "bo"]);
    post(
        &app,
        &o.ana_key,
        &filter,
        json!({"users": {"id": {"any_": [1]}}}),
    )
    .await
    .expect_422("body.users.id.any_");
    // A Viewer does not see the workspace's users.
    assert_eq!(
        post(&app, &bo_key, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );

    // Read and delete by the access's id.
    let one = format!("{base}/{cy_access}");
    let r = get(&app, &o.ana_key, &one).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&r.body, "WorkspaceUserAccessResponse");
    assert_eq!(r.body["handle"], "cy");
    assert_needs_key(&app, Method::DELETE, &one, None).await;
    assert_eq!(
        delete(&app, &bo_key, &one).await.status,
        StatusCode::NOT_FOUND
    );
    // Someone who sees the users but does not manage them: 403.
    let role = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Member list", "scopes": ["see_workspace_users"]}),
    )
    .await;
    grant(&app, &ws, "bo", role.body["id"].as_str().expect("id"));
    assert_eq!(
        delete(&app, &bo_key, &one).await.status,
        StatusCode::FORBIDDEN
    );
    // A user id is not an access id.
    assert_eq!(
        delete(&app, &o.ana_key, &format!("{base}/{}", user_id(&app, "cy")))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &o.ana_key, &format!("{base}/{UNKNOWN}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        role_in(&app, &o.account, "cy").as_deref(),
        Some("collaborator")
    );

    let r = delete(&app, &o.ana_key, &one).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(events(&app, "atrium.workspace_access.revoked"), 1);
    // cy was a Collaborator with no other access: no longer a member.
    assert_eq!(role_in(&app, &o.account, "cy"), None);
    assert_eq!(
        get(&app, &o.ana_key, &one).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_orchestration_paths_below_a_workspace_need_a_key_and_a_server() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let base = format!("/api/accounts/{}/workspaces/{ws}", o.account);
    for (method, tail) in [
        (Method::POST, "/flows/filter"),
        (Method::GET, "/deployments/abc"),
        (Method::POST, "/deployments/abc/create_flow_run"),
        (Method::GET, "/health"),
    ] {
        let path = format!("{base}{tail}");
        assert_needs_key(&app, method.clone(), &path, None).await;
        let r = call(&app, Some(&o.ana_key), method, &path, None).await;
        // No Prefect server is connected yet: come back later.
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(r.detail(), atrium::gateway::forward::NO_SERVER);
    }
    // An operation outside the gateway's table is refused (fail closed).
    let r = call(
        &app,
        Some(&o.ana_key),
        Method::GET,
        &format!("{base}/no_such_thing"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.detail(), atrium::authz::gateway::NOT_MAPPED);
    // Other unknown API paths stay a plain 404.
    let r = call(&app, None, Method::GET, "/api/nothing-here", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Real routes below a workspace are not shadowed.
    let r = post(
        &app,
        &o.ana_key,
        &format!("{base}/user_access/filter"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn api_openapi_document_lists_every_implemented_path() {
    let app = spawn_app().await;
    let r = call(&app, None, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().expect("paths");
    let expect = [
        ("/api/accounts/{account_id}", "get"),
        (
            "/api/accounts/{account_id}/account_memberships/filter",
            "post",
        ),
        (
            "/api/accounts/{account_id}/account_memberships/{id}",
            "patch",
        ),
        (
            "/api/accounts/{account_id}/account_memberships/{id}",
            "delete",
        ),
        ("/api/accounts/{account_id}/invitations/", "post"),
        ("/api/accounts/{account_id}/invitations/filter", "post"),
        ("/api/accounts/{account_id}/invitations/{id}/revoke", "post"),
        ("/api/accounts/{account_id}/workspaces/", "post"),
        ("/api/accounts/{account_id}/workspaces/filter", "post"),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}",
            "get",
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}",
            "patch",
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}",
            "delete",
        ),
        ("/api/accounts/{account_id}/workspace_roles/", "post"),
        ("/api/accounts/{account_id}/workspace_roles/filter", "post"),
        ("/api/accounts/{account_id}/workspace_roles/{id}", "get"),
        ("/api/accounts/{account_id}/workspace_roles/{id}", "patch"),
        ("/api/accounts/{account_id}/workspace_roles/{id}", "delete"),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/",
            "post",
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/filter",
            "post",
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
            "get",
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/user_access/{id}",
            "delete",
        ),
        ("/api/me/", "get"),
    ];
    for (p, m) in expect {
        let op = &paths
            .get(p)
            .unwrap_or_else(|| panic!("{p} missing from the document"))[m];
        assert!(op.is_object(), "{m} {p} missing");
        assert!(
            op["responses"].is_object() && op["security"].is_array(),
            "{m} {p} documents responses and the key"
        );
    }
    for schema in [
        "AccountResponse",
        "AccountMembershipsResponse",
        "InvitationReadResponse",
        "Workspace",
        "WorkspaceRole",
        "WorkspaceUserAccessResponse",
    ] {
        assert!(
            r.body["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
}

/// The API's transfer endpoints check the key and the caller's rights before they read the
/// body (they read it with a typed extractor that could answer first): a bad body must not
/// answer 422 to a caller without a key, a stranger, or someone who may not move the
/// workspace.
#[tokio::test]
async fn api_transfer_checks_the_caller_before_the_body() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let dev = member(&app, &o.account, "dev", "member").await;
    grant(&app, &ws, "dev", DEVELOPER_ROLE);
    app.signup("out@example.com", "out", PW).await;
    let out = user_key(&app, "out");
    for what in ["validate_transfer", "transfer"] {
        let path = format!("/api/accounts/{}/workspaces/{ws}/{what}", o.account);
        for body in [json!({}), json!({"to_account_id": "not an id"})] {
            let answer = |key: Option<String>| {
                let (app, path, body) = (&app, path.clone(), body.clone());
                async move {
                    call(app, key.as_deref(), Method::POST, &path, Some(body))
                        .await
                        .status
                }
            };
            assert_eq!(
                answer(None).await,
                StatusCode::UNAUTHORIZED,
                "{what} {body}"
            );
            assert_eq!(
                answer(Some(out.clone())).await,
                StatusCode::NOT_FOUND,
                "{what}"
            );
            assert_eq!(
                answer(Some(dev.clone())).await,
                StatusCode::FORBIDDEN,
                "{what}"
            );
            assert_eq!(
                answer(Some(o.ana_key.clone())).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{what} {body}"
            );
        }
    }
}
