//! JSON API: workspace roles, built-in and custom (issue #5, item 5).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::*;
use crate::support::spawn_app;

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn api_create_workspace_role_validates_like_the_roles_page() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let path = format!("/api/accounts/{}/workspace_roles/", o.account);
    let good = json!({
        "name": "Deployer",
        "description": "Runs and edits deployments",
        "scopes": ["write_deployments", "see_flows"],
        "inherited_role_id": VIEWER_ROLE
    });
    assert_needs_key(&app, Method::POST, &path, Some(good.clone())).await;
    let count =
        || app.count("SELECT COUNT(*) AS n FROM workspace_roles WHERE account_id IS NOT NULL");

    // A Member reads roles but may not create them; a stranger does not see the account.
    assert_eq!(
        post(&app, &bo, &path, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        post(&app, &eve, &path, good.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // Bad input: the page's messages at the API's field names; nothing created.
    post(&app, &o.ana_key, &path, json!({"scopes": ["see_flows"]}))
        .await
        .expect_422("body.name");
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "scopes": ["fly_rockets"]}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.scopes"),
        "Unknown scope \"fly_rockets\"."
    );
    let r = post(&app, &o.ana_key, &path, json!({"name": "X"})).await;
    assert_eq!(
        r.expect_422("body.scopes"),
        "Tick at least one scope, or inherit a built-in role."
    );
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "scopes": ["see_flows"], "description": "d".repeat(141)}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.description"),
        "Descriptions are at most 140 characters."
    );
    post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "inherited_role_id": UNKNOWN}),
    )
    .await
    .expect_422("body.inherited_role_id");
    post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "scopes": "see_flows"}),
    )
    .await
    .expect_422("body.scopes");
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "viewer", "scopes": ["see_flows"]}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.name"),
        "A role with this name already exists in this account."
    );
    assert_eq!(count(), 0);
    assert_eq!(events(&app, "atrium.role.created"), 0);

    // Success: 201 with the role; its scopes closed under the nesting rule.
    let r = post(&app, &o.ana_key, &path, good.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&r.body, "WorkspaceRole");
    assert_eq!(r.body["name"], "Deployer");
    assert_eq!(r.body["account_id"], o.account.as_str());
    assert_eq!(r.body["inherited_role_id"], VIEWER_ROLE);
    let scopes: Vec<&str> = r.body["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for s in [
        "see_flows",
        "see_deployments",
        "run_deployments",
        "write_deployments",
    ] {
        assert!(scopes.contains(&s), "{s} in {scopes:?}");
    }
    assert_eq!(count(), 1);
    assert_eq!(events(&app, "atrium.role.created"), 1);
    // Names are unique in the account, case-insensitively.
    post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "DEPLOYER", "scopes": ["see_flows"]}),
    )
    .await
    .expect_422("body.name");
    assert_eq!(count(), 1);
}

#[tokio::test]
async fn api_read_and_filter_workspace_roles_list_builtin_and_the_accounts_own() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Auditor", "scopes": ["see_flows"]}),
    )
    .await;
    let auditor = r.body["id"].as_str().expect("id").to_string();
    let filter = format!("/api/accounts/{}/workspace_roles/filter", o.account);
    let one = |id: &str| format!("/api/accounts/{}/workspace_roles/{id}", o.account);
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;
    assert_needs_key(&app, Method::GET, &one(&auditor), None).await;

    // A Member reads them (read:workspace_role).
    let r = call(&app, Some(&bo), Method::POST, &filter, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "WorkspaceRole");
    assert_eq!(
        names(&r.body),
        [
            "Owner",
            "Developer",
            "Runner",
            "Viewer",
            "Worker",
            "Auditor"
        ]
    );
    assert!(r.body[0]["account_id"].is_null());
    assert_eq!(r.body[0]["scopes"].as_array().map(Vec::len), Some(61));
    let r = post(
        &app,
        &bo,
        &filter,
        json!({"workspace_roles": {"is_global": false}}),
    )
    .await;
    assert_eq!(names(&r.body), ["Auditor"]);
    let r = post(
        &app,
        &bo,
        &filter,
        json!({"workspace_roles": {"is_global": true, "name": {"any_": ["Viewer", "Auditor"]}}}),
    )
    .await;
    assert_eq!(names(&r.body), ["Viewer"]);
    let r = post(&app, &bo, &filter, json!({"limit": 2, "offset": 4})).await;
    assert_eq!(names(&r.body), ["Worker", "Auditor"]);
    post(
        &app,
        &bo,
        &filter,
        json!({"workspace_roles": {"is_global": "yes"}}),
    )
    .await
    .expect_422("body.workspace_roles.is_global");

    let r = get(&app, &bo, &one(&auditor)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_matches_schema(&r.body, "WorkspaceRole");
    assert_eq!(r.body["scopes"], json!(["see_flows"]));
    assert!(r.body["inherited_role_id"].is_null());
    let r = get(&app, &bo, &one(VIEWER_ROLE)).await;
    assert_eq!(r.body["name"], "Viewer");
    assert_eq!(
        get(&app, &bo, &one(UNKNOWN)).await.status,
        StatusCode::NOT_FOUND
    );

    // Another account's custom role does not exist here; a Collaborator sees no roles.
    app.signup("eve@example.com", "eve", crate::members::PW)
        .await;
    let eve = user_key(&app, "eve");
    let personal = get(&app, &eve, "/api/me/").await.body["personal_account_id"]
        .as_str()
        .expect("personal")
        .to_string();
    assert_eq!(
        get(
            &app,
            &eve,
            &format!("/api/accounts/{personal}/workspace_roles/{auditor}")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &eve, &one(&auditor)).await.status,
        StatusCode::NOT_FOUND
    );
    let col = crate::api_support::collaborator(&app, &o.account, "col").await;
    assert_eq!(
        post(&app, &col, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_update_workspace_role_changes_only_what_is_given() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Auditor", "description": "Reads", "scopes": ["see_flows"], "inherited_role_id": VIEWER_ROLE}),
    )
    .await;
    let auditor = r.body["id"].as_str().expect("id").to_string();
    post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "Other", "scopes": ["see_flows"]}),
    )
    .await;
    let one = |id: &str| format!("/api/accounts/{}/workspace_roles/{id}", o.account);
    let body = json!({"description": "Reads flows and variables", "scopes": ["see_flows", "see_variables"]});
    assert_needs_key(&app, Method::PATCH, &one(&auditor), Some(body.clone())).await;
    let stored = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_roles WHERE id = '{auditor}' AND name = 'Auditor' AND description = 'Reads'"
        ))
    };

    assert_eq!(
        patch(&app, &bo, &one(&auditor), body.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(&app, &o.ana_key, &one(UNKNOWN), body.clone())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = patch(&app, &o.ana_key, &one(VIEWER_ROLE), body.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "built-in roles do not change"
    );
    let r = patch(&app, &o.ana_key, &one(&auditor), json!({"name": "other"})).await;
    assert_eq!(
        r.expect_422("body.name"),
        "A role with this name already exists in this account."
    );
    patch(
        &app,
        &o.ana_key,
        &one(&auditor),
        json!({"scopes": ["nope"]}),
    )
    .await
    .expect_422("body.scopes");
    patch(
        &app,
        &o.ana_key,
        &one(&auditor),
        json!({"inherited_role_id": "viewer"}),
    )
    .await
    .expect_422("body.inherited_role_id");
    assert_eq!(stored(), 1);
    assert_eq!(events(&app, "atrium.role.updated"), 0);

    let r = patch(&app, &o.ana_key, &one(&auditor), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = get(&app, &o.ana_key, &one(&auditor)).await;
    assert_eq!(r.body["name"], "Auditor", "absent fields stay");
    assert_eq!(r.body["description"], "Reads flows and variables");
    assert_eq!(r.body["scopes"], json!(["see_flows", "see_variables"]));
    assert_eq!(r.body["inherited_role_id"], VIEWER_ROLE);
    assert_eq!(events(&app, "atrium.role.updated"), 1);
    // null inherits nothing.
    let r = patch(
        &app,
        &o.ana_key,
        &one(&auditor),
        json!({"inherited_role_id": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(get(&app, &o.ana_key, &one(&auditor)).await.body["inherited_role_id"].is_null());
}

#[tokio::test]
async fn api_delete_workspace_role_is_refused_while_used() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let create = |name: &str| {
        let (app, key, account) = (&app, o.ana_key.clone(), o.account.clone());
        let name = name.to_string();
        async move {
            let r = post(
                app,
                &key,
                &format!("/api/accounts/{account}/workspace_roles/"),
                json!({"name": name, "scopes": ["see_flows"]}),
            )
            .await;
            r.body["id"].as_str().expect("id").to_string()
        }
    };
    let held = create("Held").await;
    let by_bot = create("Bot role").await;
    let default = create("Default").await;
    let free = create("Free").await;
    grant(&app, &ws, "bo", &held);
    let (sa, _) = bot(&app, &o.account, "ci");
    grant_bot(&app, &ws, &sa, &by_bot);
    set_default_role(&app, &ws, Some(&default));
    let one = |id: &str| format!("/api/accounts/{}/workspace_roles/{id}", o.account);
    assert_needs_key(&app, Method::DELETE, &one(&free), None).await;
    let count =
        || app.count("SELECT COUNT(*) AS n FROM workspace_roles WHERE account_id IS NOT NULL");

    assert_eq!(
        delete(&app, &bo, &one(&free)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &o.ana_key, &one(UNKNOWN)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &o.ana_key, &one(OWNER_ROLE)).await.status,
        StatusCode::FORBIDDEN
    );
    for (id, where_) in [
        (&held, "held by members of prod"),
        (&by_bot, "held by members of prod"),
        (&default, "the default role of prod"),
    ] {
        let r = delete(&app, &o.ana_key, &one(id)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r.detail().contains(where_), "{}", r.detail());
    }
    assert_eq!(count(), 4);
    assert_eq!(events(&app, "atrium.role.deleted"), 0);

    let r = delete(&app, &o.ana_key, &one(&free)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(count(), 3);
    assert_eq!(events(&app, "atrium.role.deleted"), 1);
    assert_eq!(
        get(&app, &o.ana_key, &one(&free)).await.status,
        StatusCode::NOT_FOUND
    );
}
