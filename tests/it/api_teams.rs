//! JSON API: Teams (issue #25) — the account's teams, their members, and their roles on
//! workspaces, with Prefect Cloud's paths and shapes; and what a team's role gives its
//! members (effective scopes), taken away at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::*;
use crate::members::{PW, create_org, user_id};
use crate::support::{TestApp, spawn_app};

const NAME_TAKEN: &str = "A team with this name already exists in this account.";
const NOT_A_MEMBER: &str = "Only members of the account can join a team.";
const PEOPLE_ONLY: &str =
    "Teams in Atrium hold people; give service accounts a workspace role directly.";

async fn put(app: &TestApp, key: &str, path: &str, body: Value) -> Resp {
    call(app, Some(key), Method::PUT, path, Some(body)).await
}

fn teams_of(account: &str) -> String {
    format!("/api/accounts/{account}/teams")
}

fn team_path(account: &str, team: &str) -> String {
    format!("/api/accounts/{account}/teams/{team}")
}

fn access_of(account: &str, ws: &str) -> String {
    format!("/api/accounts/{account}/workspaces/{ws}/team_access")
}

/// Creates a team through the API; returns its id.
async fn new_team(app: &TestApp, key: &str, account: &str, name: &str) -> String {
    let r = post(
        app,
        key,
        &format!("{}/", teams_of(account)),
        json!({"name": name}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "create team {name}: {}",
        r.body
    );
    r.body["id"].as_str().expect("id").to_string()
}

/// Adds users to the team through the API.
async fn add_people(app: &TestApp, key: &str, account: &str, team: &str, ids: &[&str]) {
    let members: Vec<Value> = ids
        .iter()
        .map(|id| json!({"member_id": id, "member_type": "user"}))
        .collect();
    let r = put(
        app,
        key,
        &format!("{}/members", team_path(account, team)),
        json!({ "members": members }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "add members: {}", r.body);
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn member_handles(team: &Value) -> Vec<String> {
    team["memberships"]
        .as_array()
        .unwrap_or_else(|| panic!("memberships: {team}"))
        .iter()
        .map(|m| m["handle"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn team_count(app: &TestApp, account: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM teams WHERE account_id = '{account}'"
    ))
}

fn team_members(app: &TestApp, team: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM team_members WHERE team_id = '{team}'"
    ))
}

fn team_accesses(app: &TestApp, team: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM workspace_team_access WHERE team_id = '{team}'"
    ))
}

/// A second organization, `other`, owned by `oli`, with a team; returns (account, team).
async fn other_org(app: &TestApp) -> (String, String) {
    let oli = app.signup("oli@example.com", "oli", PW).await;
    let other = create_org(&oli, "Other", "other").await;
    let key = user_key(app, "oli");
    let team = new_team(app, &key, &other, "Theirs").await;
    (other, team)
}

#[tokio::test]
async fn api_create_team_validates_and_only_owners_and_admins_create() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let path = format!("{}/", teams_of(&o.account));
    let good = json!({"name": "Platform", "description": "Runs the platform"});
    assert_needs_key(&app, Method::POST, &path, Some(good.clone())).await;

    // A Member reads teams but may not create them (403 before the body is read); a
    // service account neither; a Collaborator and a stranger do not see the account's teams.
    let bo = member(&app, &o.account, "bo", "member").await;
    assert_eq!(
        post(&app, &bo, &path, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&app, &bo, &path, json!({"name": 5})).await.status,
        StatusCode::FORBIDDEN
    );
    let (_, bot_key) = bot(&app, &o.account, "ci");
    assert_eq!(
        post(&app, &bot_key, &path, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let col = collaborator(&app, &o.account, "col").await;
    assert_eq!(
        post(&app, &col, &path, good.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    app.signup("eve@example.com", "eve", PW).await;
    let eve = user_key(&app, "eve");
    assert_eq!(
        post(&app, &eve, &path, good.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    // Bad input: 422 at the field, nothing created.
    let r = post(&app, &o.ana_key, &path, json!({"name": "  "})).await;
    assert_eq!(r.expect_422("body.name"), "Enter a name.");
    post(&app, &o.ana_key, &path, json!({"description": "x"}))
        .await
        .expect_422("body.name");
    post(&app, &o.ana_key, &path, json!({"name": 5}))
        .await
        .expect_422("body.name");
    post(&app, &o.ana_key, &path, json!({"name": "n".repeat(101)}))
        .await
        .expect_422("body.name");
    let r = post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "description": "d".repeat(1001)}),
    )
    .await;
    assert_eq!(
        r.expect_422("body.description"),
        "Use at most 1,000 characters."
    );
    post(
        &app,
        &o.ana_key,
        &path,
        json!({"name": "X", "colour": "red"}),
    )
    .await
    .expect_422("body.colour");
    post(&app, &o.ana_key, &path, json!(["Platform"]))
        .await
        .expect_422("body");
    call(&app, Some(&o.ana_key), Method::POST, &path, None)
        .await
        .expect_422("body");
    assert_eq!(team_count(&app, &o.account), 0);
    assert_eq!(events(&app, "atrium.team.created"), 0);

    // Success: 201 with the TeamResponse, an audit event.
    let r = post(&app, &o.ana_key, &path, good.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_matches_schema(&r.body, "TeamResponse");
    assert_eq!(r.body["name"], "Platform");
    assert_eq!(r.body["description"], "Runs the platform");
    assert_eq!(r.body["account_id"], o.account.as_str());
    assert_eq!(r.body["memberships"], json!([]));
    assert_eq!(r.body["workspaces"], json!([]));
    assert!(r.body["workos_directory_group_id"].is_null());
    assert_eq!(team_count(&app, &o.account), 1);
    assert_eq!(events(&app, "atrium.team.created"), 1);
    assert_eq!(last_actor_kind(&app, "atrium.team.created"), "user");

    // Names are unique in the account, ignoring case; the directory group id is ignored.
    let r = post(&app, &o.ana_key, &path, json!({"name": " PLATFORM "})).await;
    assert_eq!(r.expect_422("body.name"), NAME_TAKEN);
    assert_eq!(team_count(&app, &o.account), 1);
    let r = post(
        &app,
        &o.ana_key,
        &teams_of(&o.account),
        json!({"name": "Data", "description": null, "workos_directory_group_id": "dir_1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["description"], "");
    assert!(r.body["workos_directory_group_id"].is_null());

    // An Admin creates teams too; another account may use the same name.
    let ada = member(&app, &o.account, "ada", "admin").await;
    let r = post(&app, &ada, &path, json!({"name": "Ops"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (other, _) = other_org(&app).await;
    let oli = user_key(&app, "oli");
    let r = post(
        &app,
        &oli,
        &format!("{}/", teams_of(&other)),
        json!({"name": "Platform"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(team_count(&app, &o.account), 3);
    assert_eq!(events(&app, "atrium.team.created"), 5);
}

#[tokio::test]
async fn api_read_rename_and_delete_a_team() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let platform = new_team(&app, &o.ana_key, &o.account, "Platform").await;
    new_team(&app, &o.ana_key, &o.account, "Data").await;
    let one = team_path(&o.account, &platform);
    assert_needs_key(&app, Method::GET, &one, None).await;
    assert_needs_key(&app, Method::PUT, &one, Some(json!({"name": "x"}))).await;
    assert_needs_key(&app, Method::DELETE, &one, None).await;
    let bo = member(&app, &o.account, "bo", "member").await;
    let col = collaborator(&app, &o.account, "col").await;
    let (other, theirs) = other_org(&app).await;

    // Read: every member of the account (Members hold read:team); 404 for the rest.
    let r = get(&app, &o.ana_key, &one).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&r.body, "TeamResponse");
    assert_eq!(r.body["id"], platform.as_str());
    let r = get(&app, &bo, &one).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["name"], "Platform");
    assert_eq!(get(&app, &col, &one).await.status, StatusCode::NOT_FOUND);
    for missing in [
        team_path(&o.account, UNKNOWN),
        team_path(&o.account, "not-an-id"),
        team_path(&o.account, &theirs),
        team_path(&other, &platform),
    ] {
        assert_eq!(
            get(&app, &o.ana_key, &missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // Rename: Owners and Admins; a Member gets 403, another account's team is 404.
    let renamed = json!({"name": "Platform Team", "description": "Keeps it running"});
    assert_eq!(
        put(&app, &bo, &one, renamed.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(&app, &bo, &team_path(&o.account, &theirs), renamed.clone())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(
            &app,
            &o.ana_key,
            &team_path(&o.account, &theirs),
            renamed.clone()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let r = put(&app, &o.ana_key, &one, json!({"name": "data"})).await;
    assert_eq!(r.expect_422("body.name"), NAME_TAKEN);
    put(&app, &o.ana_key, &one, json!({"description": "no name"}))
        .await
        .expect_422("body.name");
    put(&app, &o.ana_key, &one, json!({"name": "X", "members": []}))
        .await
        .expect_422("body.members");
    put(
        &app,
        &o.ana_key,
        &one,
        json!({"name": "X", "workos_directory_group_id": 7}),
    )
    .await
    .expect_422("body.workos_directory_group_id");
    assert_eq!(events(&app, "atrium.team.renamed"), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM teams WHERE id = '{platform}' AND name = 'Platform'"
        )),
        1
    );

    let r = put(&app, &o.ana_key, &one, renamed.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&r.body, "TeamResponse");
    assert_eq!(r.body["name"], "Platform Team");
    assert_eq!(r.body["description"], "Keeps it running");
    assert_eq!(events(&app, "atrium.team.renamed"), 1);
    // The same again changes nothing and records nothing; the directory id is ignored.
    let r = put(
        &app,
        &o.ana_key,
        &one,
        json!({"name": "Platform Team", "description": "Keeps it running", "workos_directory_group_id": "g1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["workos_directory_group_id"].is_null());
    assert_eq!(events(&app, "atrium.team.renamed"), 1);
    // Only the name's case: still a rename of this team (not taken by itself).
    let r = put(&app, &o.ana_key, &one, json!({"name": "PLATFORM TEAM"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["description"], "", "an absent description is empty");
    assert_eq!(events(&app, "atrium.team.renamed"), 2);

    // Delete: 403 for a Member, 404 for another account's team, then 204 and gone.
    assert_eq!(delete(&app, &bo, &one).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(&app, &o.ana_key, &team_path(&o.account, &theirs))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = delete(&app, &o.ana_key, &one).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(events(&app, "atrium.team.deleted"), 1);
    assert_eq!(
        get(&app, &o.ana_key, &one).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete(&app, &o.ana_key, &one).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(events(&app, "atrium.team.deleted"), 1);
    assert_eq!(
        team_count(&app, &other),
        1,
        "the other account's team stays"
    );
}

#[tokio::test]
async fn api_filter_teams_by_name_member_workspace_role_with_sort_and_paging() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let filter = format!("{}/filter", teams_of(&o.account));
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let bo = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "member").await;
    let (bo_id, cy_id) = (user_id(&app, "bo"), user_id(&app, "cy"));
    let platform = new_team(&app, &o.ana_key, &o.account, "Platform").await;
    let data = new_team(&app, &o.ana_key, &o.account, "Data").await;
    let science = new_team(&app, &o.ana_key, &o.account, "Data Science").await;
    let ops = new_team(&app, &o.ana_key, &o.account, "ops").await;
    add_people(&app, &o.ana_key, &o.account, &platform, &[&bo_id, &cy_id]).await;
    add_people(&app, &o.ana_key, &o.account, &science, &[&cy_id]).await;
    let r = put(
        &app,
        &o.ana_key,
        &format!("{}/", access_of(&o.account, &ws)),
        json!([
            {"team_id": data, "workspace_role_id": VIEWER_ROLE},
            {"team_id": ops, "workspace_role_id": DEVELOPER_ROLE}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Another account's team never shows.
    other_org(&app).await;

    let by = |body: Value| {
        let (app, key, filter) = (&app, o.ana_key.clone(), filter.clone());
        async move {
            let r = post(app, &key, &filter, body.clone()).await;
            assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
            assert_items_match_schema(&r.body, "TeamResponse");
            names(&r.body)
        }
    };
    let all = ["Data", "Data Science", "ops", "Platform"];
    assert_eq!(by(json!({})).await, all);
    assert_eq!(by(Value::Null).await, all);
    let r = call(&app, Some(&o.ana_key), Method::POST, &filter, None).await;
    assert_eq!(names(&r.body), all);
    // A Member reads the same list.
    let r = post(&app, &bo, &filter, json!({})).await;
    assert_eq!(names(&r.body), all);

    // name
    assert_eq!(
        by(json!({"teams": {"name": {"like_": "DATA"}}})).await,
        ["Data", "Data Science"]
    );
    assert_eq!(
        by(json!({"teams": {"name": {"like_": "%"}}})).await,
        Vec::<String>::new(),
        "like_ is a plain substring"
    );
    assert_eq!(
        by(json!({"teams": {"name": {"any_": ["OPS", "data"]}}})).await,
        ["Data", "ops"]
    );
    // id, member, workspace, role
    assert_eq!(
        by(json!({"teams": {"id": {"any_": [platform, UNKNOWN]}}})).await,
        ["Platform"]
    );
    assert_eq!(
        by(json!({"teams": {"member_id": {"any_": [cy_id]}}})).await,
        ["Data Science", "Platform"]
    );
    assert_eq!(
        by(json!({"teams": {"member_id": {"any_": [bo_id]}}})).await,
        ["Platform"]
    );
    assert_eq!(
        by(json!({"teams": {"workspace_id": {"any_": [ws]}}})).await,
        ["Data", "ops"]
    );
    assert_eq!(
        by(json!({"teams": {"workspace_role_id": {"any_": [DEVELOPER_ROLE]}}})).await,
        ["ops"]
    );
    assert_eq!(
        by(json!({"teams": {"name": {"like_": "data"}, "member_id": {"any_": [cy_id]}}})).await,
        ["Data Science"]
    );
    assert_eq!(
        by(json!({"teams": {"id": null, "name": null, "member_id": {"any_": null}}})).await,
        all
    );
    // Teams have no directory id and hold no service accounts in Atrium.
    assert_eq!(
        by(json!({"teams": {"directory_id": {"any_": ["dir_1"]}}})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        by(json!({"bots": {"name": {"like_": "ci"}}})).await,
        Vec::<String>::new()
    );
    assert_eq!(by(json!({"bots": {}})).await, all);
    // users: teams with a member matching.
    assert_eq!(
        by(json!({"users": {"handle": {"any_": ["bo"]}}})).await,
        ["Platform"]
    );
    assert_eq!(
        by(json!({"users": {"email": {"like_": "CY@"}}})).await,
        ["Data Science", "Platform"]
    );
    assert_eq!(
        by(json!({"users": {"id": {"not_any_": [cy_id]}}})).await,
        ["Platform"]
    );
    assert_eq!(
        by(json!({"users": {"handle": {"any_": ["cy"]}}, "teams": {"id": {"any_": [science, data]}}}))
            .await,
        ["Data Science"]
    );

    // sort, limit, offset
    assert_eq!(
        by(json!({"sort": "NAME_DESC"})).await,
        ["Platform", "ops", "Data Science", "Data"]
    );
    assert_eq!(
        by(json!({"sort": "CREATED_ASC"})).await,
        ["Platform", "Data", "Data Science", "ops"]
    );
    assert_eq!(
        by(json!({"sort": "CREATED_DESC"})).await,
        ["ops", "Data Science", "Data", "Platform"]
    );
    assert_eq!(by(json!({"sort": null})).await, all);
    assert_eq!(
        by(json!({"limit": 2, "offset": 1})).await,
        ["Data Science", "ops"]
    );
    assert_eq!(
        by(json!({"limit": 2, "offset": 1, "sort": "CREATED_DESC"})).await,
        ["Data Science", "Data"]
    );
    assert_eq!(by(json!({"limit": 0})).await, Vec::<String>::new());
    assert_eq!(by(json!({"offset": 10})).await, Vec::<String>::new());

    // The answer holds the members and the workspace roles.
    let r = post(
        &app,
        &o.ana_key,
        &filter,
        json!({"teams": {"id": {"any_": [platform, ops]}}}),
    )
    .await;
    assert_eq!(member_handles(&r.body[1]), ["bo", "cy"]);
    assert_eq!(r.body[1]["memberships"][0]["type"], "user");
    assert_eq!(r.body[1]["memberships"][0]["email"], "bo@example.com");
    assert_eq!(r.body[1]["memberships"][0]["id"], bo_id.as_str());
    assert_eq!(
        r.body[0]["workspaces"],
        json!([{
            "workspace_id": ws,
            "workspace_handle": "prod",
            "workspace_role_id": DEVELOPER_ROLE,
            "workspace_role_name": "Developer"
        }])
    );

    // Bad filters: 422 at the field.
    for (body, loc) in [
        (json!({"limit": 201}), "body.limit"),
        (json!({"limit": "many"}), "body.limit"),
        (json!({"offset": -1}), "body.offset"),
        (json!({"sort": "SIZE_ASC"}), "body.sort"),
        (json!({"sort": 1}), "body.sort"),
        (json!({"teams": []}), "body.teams"),
        (json!({"teams": {"colour": {}}}), "body.teams.colour"),
        (
            json!({"teams": {"id": {"any_": ["nope"]}}}),
            "body.teams.id.any_",
        ),
        (
            json!({"teams": {"name": {"like_": 5}}}),
            "body.teams.name.like_",
        ),
        (
            json!({"teams": {"name": {"not_": "x"}}}),
            "body.teams.name.not_",
        ),
        (
            json!({"users": {"id": {"any_": ["nope"]}}}),
            "body.users.id.any_",
        ),
        (json!({"bots": {"id": {"all_": []}}}), "body.bots.id.all_"),
        (json!([]), "body"),
    ] {
        post(&app, &o.ana_key, &filter, body).await.expect_422(loc);
    }

    // A Collaborator and a stranger do not see the account's teams.
    let col = collaborator(&app, &o.account, "col").await;
    assert_eq!(
        post(&app, &col, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    let oli = user_key(&app, "oli");
    assert_eq!(
        post(&app, &oli, &filter, json!({})).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn api_team_members_are_added_all_or_none_and_removed() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let team = new_team(&app, &o.ana_key, &o.account, "Platform").await;
    let one = team_path(&o.account, &team);
    let members = format!("{one}/members");
    let bo = member(&app, &o.account, "bo", "member").await;
    member(&app, &o.account, "cy", "admin").await;
    member(&app, &o.account, "dee", "member").await;
    collaborator(&app, &o.account, "col").await;
    app.signup("eve@example.com", "eve", PW).await;
    let (sa, _) = bot(&app, &o.account, "ci");
    let (other, theirs) = other_org(&app).await;
    let id = |h: &str| user_id(&app, h);
    let user = |uid: &str| json!({"member_id": uid, "member_type": "user"});
    assert_needs_key(
        &app,
        Method::PUT,
        &members,
        Some(json!({"members": [user(&id("bo"))]})),
    )
    .await;

    // Refused without update:team (403), and for another account's team (404).
    assert_eq!(
        put(&app, &bo, &members, json!({"members": [user(&id("bo"))]}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(
            &app,
            &o.ana_key,
            &format!("{}/members", team_path(&o.account, &theirs)),
            json!({"members": [user(&id("bo"))]})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        put(
            &app,
            &o.ana_key,
            &format!("{}/members", team_path(&other, &team)),
            json!({"members": [user(&id("bo"))]})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Bad items: 422 at the item, nothing added.
    let r = put(
        &app,
        &o.ana_key,
        &members,
        json!({"members": [user(&id("dee")), {"member_id": sa, "member_type": "service_account"}]}),
    )
    .await;
    assert_eq!(r.expect_422("body.members.1.member_type"), PEOPLE_ONLY);
    for outsider in [id("eve"), id("col"), UNKNOWN.to_string(), sa.clone()] {
        let r = put(
            &app,
            &o.ana_key,
            &members,
            json!({"members": [user(&id("dee")), user(&outsider)]}),
        )
        .await;
        assert_eq!(
            r.expect_422("body.members.1.member_id"),
            NOT_A_MEMBER,
            "{outsider}"
        );
    }
    for (body, loc) in [
        (
            json!({"members": [{"member_id": id("dee"), "member_type": "robot"}]}),
            "body.members.0.member_type",
        ),
        (
            json!({"members": [{"member_id": id("dee")}]}),
            "body.members.0.member_type",
        ),
        (
            json!({"members": [{"member_id": "dee", "member_type": "user"}]}),
            "body.members.0.member_id",
        ),
        (
            json!({"members": [{"member_id": id("dee"), "member_type": "user", "role": "x"}]}),
            "body.members.0.role",
        ),
        (json!({"members": ["dee"]}), "body.members.0"),
        (json!({"members": "dee"}), "body.members"),
        (json!({"members": null}), "body.members"),
        (json!({}), "body.members"),
        (json!([]), "body"),
    ] {
        put(&app, &o.ana_key, &members, body).await.expect_422(loc);
    }
    assert_eq!(team_members(&app, &team), 0);
    assert_eq!(events(&app, "atrium.team.member_added"), 0);

    // Added: 200 with the team, its members by handle; one event each.
    let r = put(
        &app,
        &o.ana_key,
        &members,
        json!({"members": [user(&id("dee")), user(&id("bo")), user(&id("cy"))]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_matches_schema(&r.body, "TeamResponse");
    assert_eq!(member_handles(&r.body), ["bo", "cy", "dee"]);
    assert_eq!(events(&app, "atrium.team.member_added"), 3);
    // Adding someone already in the team changes nothing; an empty list neither.
    let r = put(
        &app,
        &o.ana_key,
        &members,
        json!({"members": [user(&id("bo"))]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_handles(&r.body), ["bo", "cy", "dee"]);
    let r = put(&app, &o.ana_key, &members, json!({"members": []})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(events(&app, "atrium.team.member_added"), 3);
    assert_eq!(team_members(&app, &team), 3);
    // An Admin adds people too.
    let cy = user_key(&app, "cy");
    let ana_id = id("ana");
    let r = put(&app, &cy, &members, json!({"members": [user(&ana_id)]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_handles(&r.body), ["ana", "bo", "cy", "dee"]);

    // Removed: 204, an event; not in the team (any more) is 404.
    let remove = |uid: &str| format!("{one}/members/{uid}");
    assert_needs_key(&app, Method::DELETE, &remove(&id("bo")), None).await;
    assert_eq!(
        delete(&app, &bo, &remove(&id("dee"))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(
            &app,
            &o.ana_key,
            &format!("{}/members/{}", team_path(&o.account, &theirs), id("oli"))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let r = delete(&app, &o.ana_key, &remove(&id("bo"))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(events(&app, "atrium.team.member_removed"), 1);
    for gone in [id("bo"), id("eve"), UNKNOWN.to_string(), "not-an-id".into()] {
        assert_eq!(
            delete(&app, &o.ana_key, &remove(&gone)).await.status,
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    assert_eq!(events(&app, "atrium.team.member_removed"), 1);
    let r = get(&app, &o.ana_key, &one).await;
    assert_eq!(member_handles(&r.body), ["ana", "cy", "dee"]);
}

#[tokio::test]
async fn api_team_access_is_given_listed_and_taken_away() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let platform = new_team(&app, &o.ana_key, &o.account, "Platform").await;
    let data = new_team(&app, &o.ana_key, &o.account, "Data").await;
    let (other, theirs) = other_org(&app).await;
    let base = access_of(&o.account, &ws);
    let upsert = format!("{base}/");
    let filter = format!("{base}/filter");
    let give = |team: &str, role: &str| json!([{"team_id": team, "workspace_role_id": role}]);
    assert_needs_key(
        &app,
        Method::PUT,
        &upsert,
        Some(give(&platform, VIEWER_ROLE)),
    )
    .await;
    assert_needs_key(&app, Method::POST, &filter, Some(json!({}))).await;
    assert_needs_key(&app, Method::DELETE, &format!("{base}/{platform}"), None).await;

    // Who may not see the workspace's users gets 404; who sees them but may not manage
    // teams, 403 (before the body is read).
    let bo = member(&app, &o.account, "bo", "member").await;
    let viewer = member(&app, &o.account, "vic", "member").await;
    grant(&app, &ws, "vic", VIEWER_ROLE);
    let lead = member(&app, &o.account, "lea", "member").await;
    let r = post(
        &app,
        &o.ana_key,
        &format!("/api/accounts/{}/workspace_roles/", o.account),
        json!({"name": "People lead", "scopes": ["see_flows", "see_workspace_users"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    grant(&app, &ws, "lea", r.body["id"].as_str().expect("role id"));
    for key in [&bo, &viewer] {
        assert_eq!(
            put(&app, key, &upsert, give(&platform, VIEWER_ROLE))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&app, key, &filter, json!({})).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            delete(&app, key, &format!("{base}/{platform}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    for body in [give(&platform, VIEWER_ROLE), json!("not a list")] {
        assert_eq!(
            put(&app, &lead, &upsert, body).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        delete(&app, &lead, &format!("{base}/{platform}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = post(&app, &lead, &filter, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!([]));

    // Bad input: 422 at the item and field, nothing given (all or none).
    for (body, loc) in [
        (
            json!({"team_id": platform, "workspace_role_id": VIEWER_ROLE}),
            "body",
        ),
        (json!([{"team_id": platform}]), "body.0.workspace_role_id"),
        (
            json!([{"team_id": "x", "workspace_role_id": VIEWER_ROLE}]),
            "body.0.team_id",
        ),
        (
            json!([{"team_id": platform, "workspace_role_id": VIEWER_ROLE, "x": 1}]),
            "body.0.x",
        ),
        (json!([5]), "body.0"),
        (
            json!([
                {"team_id": data, "workspace_role_id": VIEWER_ROLE},
                {"team_id": UNKNOWN, "workspace_role_id": VIEWER_ROLE}
            ]),
            "body.1.team_id",
        ),
        (
            json!([
                {"team_id": data, "workspace_role_id": VIEWER_ROLE},
                {"team_id": theirs, "workspace_role_id": VIEWER_ROLE}
            ]),
            "body.1.team_id",
        ),
        (
            json!([
                {"team_id": data, "workspace_role_id": VIEWER_ROLE},
                {"team_id": platform, "workspace_role_id": UNKNOWN}
            ]),
            "body.1.workspace_role_id",
        ),
    ] {
        put(&app, &o.ana_key, &upsert, body).await.expect_422(loc);
    }
    call(&app, Some(&o.ana_key), Method::PUT, &upsert, None)
        .await
        .expect_422("body");
    assert_eq!(team_accesses(&app, &data), 0);
    assert_eq!(team_accesses(&app, &platform), 0);
    assert_eq!(events(&app, "atrium.team_access.granted"), 0);

    // Given: 200 with the WorkspaceTeamAccess list; the same again changes nothing.
    let r = put(
        &app,
        &o.ana_key,
        &upsert,
        json!([
            {"team_id": platform, "workspace_role_id": VIEWER_ROLE},
            {"team_id": data, "workspace_role_id": RUNNER_ROLE}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "WorkspaceTeamAccess");
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    assert_eq!(r.body[0]["team_id"], platform.as_str());
    assert_eq!(r.body[0]["workspace_id"], ws.as_str());
    assert_eq!(r.body[0]["workspace_role_id"], VIEWER_ROLE);
    assert_eq!(events(&app, "atrium.team_access.granted"), 2);
    let r = put(&app, &o.ana_key, &upsert, give(&platform, VIEWER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(events(&app, "atrium.team_access.granted"), 2);
    assert_eq!(events(&app, "atrium.team_access.role_changed"), 0);
    // Changed: Developer instead of Viewer, without the trailing slash too.
    let r = put(&app, &o.ana_key, &base, give(&platform, DEVELOPER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["workspace_role_id"], DEVELOPER_ROLE);
    assert_eq!(events(&app, "atrium.team_access.role_changed"), 1);
    let r = put(&app, &o.ana_key, &upsert, json!([])).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!([])));

    // Listed by team name, with paging; the team shows its workspace.
    let r = post(&app, &o.ana_key, &filter, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_items_match_schema(&r.body, "WorkspaceTeamAccessResponse");
    let teams: Vec<&str> = r
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["team_name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(teams, ["Data", "Platform"]);
    assert_eq!(r.body[1]["workspace_role_id"], DEVELOPER_ROLE);
    assert_eq!(r.body[1]["team_id"], platform.as_str());
    let r = call(&app, Some(&o.ana_key), Method::POST, &filter, None).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    let r = post(&app, &o.ana_key, &filter, json!({"limit": 1, "offset": 1})).await;
    assert_eq!(r.body[0]["team_name"], "Platform");
    post(&app, &o.ana_key, &filter, json!({"limit": 201}))
        .await
        .expect_422("body.limit");
    post(&app, &o.ana_key, &filter, json!({"offset": "x"}))
        .await
        .expect_422("body.offset");
    let r = get(&app, &o.ana_key, &team_path(&o.account, &platform)).await;
    assert_matches_schema(&r.body, "TeamResponse");
    assert_eq!(r.body["workspaces"][0]["workspace_handle"], "prod");
    assert_eq!(r.body["workspaces"][0]["workspace_role_name"], "Developer");

    // Another account's workspace, or this workspace under another account: 404.
    let oli = user_key(&app, "oli");
    let theirs_ws = api_ws(&app, &oli, &other, "theirs").await;
    assert_eq!(
        put(
            &app,
            &o.ana_key,
            &format!("{}/", access_of(&o.account, &theirs_ws)),
            give(&platform, VIEWER_ROLE)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(
            &app,
            &oli,
            &format!("{}/filter", access_of(&other, &ws)),
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Taken away: 204 and an event; a team without a role here is 404.
    let r = delete(&app, &o.ana_key, &format!("{base}/{platform}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(events(&app, "atrium.team_access.revoked"), 1);
    for gone in [platform.as_str(), UNKNOWN, theirs.as_str(), "not-an-id"] {
        assert_eq!(
            delete(&app, &o.ana_key, &format!("{base}/{gone}"))
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    assert_eq!(events(&app, "atrium.team_access.revoked"), 1);
    assert_eq!(team_accesses(&app, &platform), 0);
    assert_eq!(team_accesses(&app, &data), 1);
}

#[tokio::test]
async fn api_team_access_cannot_give_or_take_a_role_above_the_callers_scopes() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    let team = new_team(&app, &o.ana_key, &o.account, "Platform").await;
    let roles = format!("/api/accounts/{}/workspace_roles/", o.account);
    let role = |name: &str, scopes: Value| {
        let (app, key, roles) = (&app, o.ana_key.clone(), roles.clone());
        let body = json!({"name": name, "scopes": scopes});
        async move {
            let r = post(app, &key, &roles, body).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().expect("role id").to_string()
        }
    };
    // lea manages the workspace's teams, and holds little else.
    let team_lead = role(
        "Team lead",
        json!(["see_flows", "see_workspace_users", "manage_workspace_teams"]),
    )
    .await;
    let looker = role("Looker", json!(["see_flows"])).await;
    let lea = member(&app, &o.account, "lea", "member").await;
    grant(&app, &ws, "lea", &team_lead);
    let base = access_of(&o.account, &ws);
    let give = |role: &str| json!([{"team_id": team, "workspace_role_id": role}]);

    // Developer holds scopes lea lacks: 403, nothing given, nothing recorded.
    for above in [DEVELOPER_ROLE, VIEWER_ROLE, OWNER_ROLE] {
        let r = put(&app, &lea, &format!("{base}/"), give(above)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{above}: {}", r.body);
        assert_eq!(
            r.detail(),
            "You cannot give a role with permissions you do not have yourself."
        );
    }
    // Not even within a list that starts with a role she may give.
    let r = put(
        &app,
        &lea,
        &format!("{base}/"),
        json!([
            {"team_id": team, "workspace_role_id": looker},
            {"team_id": team, "workspace_role_id": DEVELOPER_ROLE}
        ]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(team_accesses(&app, &team), 0);
    assert_eq!(events(&app, "atrium.team_access.granted"), 0);

    // A role within her scopes: given.
    let r = put(&app, &lea, &format!("{base}/"), give(&looker)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(events(&app, "atrium.team_access.granted"), 1);
    // Once the Owner gives the team Developer, lea can neither change nor take it away.
    let r = put(&app, &o.ana_key, &format!("{base}/"), give(DEVELOPER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = put(&app, &lea, &format!("{base}/"), give(&looker)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = delete(&app, &lea, &format!("{base}/{team}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = post(&app, &lea, &format!("{base}/filter"), json!({})).await;
    assert_eq!(r.body[0]["workspace_role_id"], DEVELOPER_ROLE);
    assert_eq!(events(&app, "atrium.team_access.role_changed"), 1);
    assert_eq!(events(&app, "atrium.team_access.revoked"), 0);
}

/// What a team's role gives: a Member with no role of their own on a workspace whose
/// default is No Access reaches it through their team, and stops reaching it at once when
/// they leave the team, or when the team's role goes.
#[tokio::test]
async fn a_teams_role_gives_its_members_the_workspace_and_taking_it_away_is_immediate() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "prod").await;
    set_default_role(&app, &ws, None);
    let bo = member(&app, &o.account, "bo", "member").await;
    let bo_id = user_id(&app, "bo");
    let team = new_team(&app, &o.ana_key, &o.account, "Readers").await;
    let ws_path = format!("/api/accounts/{}/workspaces/{ws}", o.account);
    let reaches = |expected: bool, why: &'static str| {
        let (app, bo, ws, ws_path) = (&app, bo.clone(), ws.clone(), ws_path.clone());
        async move {
            let r = get(app, &bo, "/api/me/workspaces").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let listed = r
                .body
                .as_array()
                .expect("list")
                .iter()
                .any(|w| w["workspace_id"] == ws.as_str());
            assert_eq!(listed, expected, "/api/me/workspaces {why}: {}", r.body);
            let status = get(app, &bo, &ws_path).await.status;
            let want = if expected {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "GET the workspace {why}");
            let scopes = get(app, &bo, &format!("/api/me/workspaces/{ws}/scopes")).await;
            assert_eq!(scopes.status, want, "scopes {why}");
            scopes.body
        }
    };
    reaches(false, "before any team").await;

    // In the team, but the team has no role yet: nothing.
    add_people(&app, &o.ana_key, &o.account, &team, &[&bo_id]).await;
    reaches(false, "in a team without a role").await;
    let access = format!("{}/", access_of(&o.account, &ws));
    let give = |role: &str| json!([{"team_id": team, "workspace_role_id": role}]);
    let r = put(&app, &o.ana_key, &access, give(VIEWER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let scopes = reaches(true, "through the team's Viewer role").await;
    let has = |s: &Value, scope: &str| {
        s.as_array()
            .expect("scopes")
            .iter()
            .any(|x| x == scope || x["name"] == scope)
    };
    assert!(has(&scopes, "see_flows"), "{scopes}");
    assert!(!has(&scopes, "run_deployments"), "{scopes}");
    // A role change reaches them at once too.
    let r = put(&app, &o.ana_key, &access, give(RUNNER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let scopes = reaches(true, "through the team's Runner role").await;
    assert!(has(&scopes, "run_deployments"), "{scopes}");

    // Out of the team: gone at once.
    let r = delete(
        &app,
        &o.ana_key,
        &format!("{}/members/{bo_id}", team_path(&o.account, &team)),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    reaches(false, "after leaving the team").await;

    // Back in: reached again; the team's role taken away: gone at once.
    add_people(&app, &o.ana_key, &o.account, &team, &[&bo_id]).await;
    reaches(true, "back in the team").await;
    let r = delete(
        &app,
        &o.ana_key,
        &format!("{}/{team}", access_of(&o.account, &ws)),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    reaches(false, "after the team's access was removed").await;

    // And once more through a role, then the team deleted.
    let r = put(&app, &o.ana_key, &access, give(VIEWER_ROLE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    reaches(true, "the team given Viewer again").await;
    let r = delete(&app, &o.ana_key, &team_path(&o.account, &team)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    reaches(false, "after the team was deleted").await;

    // Every change was recorded.
    for (action, n) in [
        ("atrium.team.created", 1),
        ("atrium.team.member_added", 2),
        ("atrium.team.member_removed", 1),
        ("atrium.team_access.granted", 2),
        ("atrium.team_access.role_changed", 1),
        ("atrium.team_access.revoked", 1),
        ("atrium.team.deleted", 1),
    ] {
        assert_eq!(events(&app, action), n, "{action}");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_teams_endpoints() {
    let app = spawn_app().await;
    let r = call(&app, None, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    for (path, methods) in [
        ("/api/accounts/{account_id}/teams/", &["post"][..]),
        ("/api/accounts/{account_id}/teams/filter", &["post"]),
        (
            "/api/accounts/{account_id}/teams/{id}",
            &["get", "put", "delete"],
        ),
        ("/api/accounts/{account_id}/teams/{id}/members", &["put"]),
        (
            "/api/accounts/{account_id}/teams/{team_id}/members/{actor_id}",
            &["delete"],
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/",
            &["put"],
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/filter",
            &["post"],
        ),
        (
            "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/{team_id}",
            &["delete"],
        ),
    ] {
        let item = &doc["paths"][path];
        assert!(item.is_object(), "{path} missing");
        let listed: Vec<&String> = item.as_object().expect("path item").keys().collect();
        assert_eq!(listed.len(), methods.len(), "{path}: {listed:?}");
        for m in methods {
            assert!(
                item[*m]["responses"].is_object() && item[*m]["security"].is_array(),
                "{m} {path}"
            );
        }
    }
    for schema in [
        "TeamCreate",
        "TeamUpdate",
        "TeamResponse",
        "TeamMemberResponse",
        "TeamWorkspaceAccess",
        "TeamFilter",
        "TeamSort",
        "TeamMembershipCreate",
        "WorkspaceTeamAccessCreate",
        "WorkspaceTeamAccess",
        "WorkspaceTeamAccessResponse",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    // A documented path asked with another method: 405 with the methods it has.
    let a = UNKNOWN;
    let r = call(
        &app,
        None,
        Method::PATCH,
        &format!("/api/accounts/{a}/teams/{a}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = call(
        &app,
        None,
        Method::POST,
        &format!("/api/accounts/{a}/workspaces/{a}/team_access/"),
        Some(json!([])),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
