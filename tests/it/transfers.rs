//! Workspace transfer (issue: transfer and delete): the preview, moving a workspace with
//! what it holds, requests with approval/decline/expiry/cancel, both audit logs, and races
//! against delete and against a second transfer.

use crate::support::ws_id;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{Client, TestApp, spawn_app};
use crate::workspaces::{VIEWER, create_ws, grant, set_default_role};

const DEVELOPER: &str = "00000000-0000-4000-8000-000000000002";

fn account_of(app: &TestApp, ws: &str) -> Option<String> {
    use atrium::db::schema::workspaces;
    workspaces::table
        .find(ws)
        .select(workspaces::account_id)
        .first(&mut app.conn())
        .optional()
        .expect("query")
}

fn custom_role(app: &TestApp, account_id: &str, name: &str) -> String {
    use atrium::db::schema::workspace_roles as r;
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(r::table)
        .values((
            r::id.eq(&id),
            r::account_id.eq(account_id),
            r::name.eq(name),
            r::description.eq(""),
            r::scopes.eq(r#"["see_flows"]"#),
            r::created_at.eq(atrium::db::now()),
            r::updated_at.eq(atrium::db::now()),
        ))
        .execute(&mut app.conn())
        .expect("custom role");
    id
}

fn service_account_with_access(app: &TestApp, account_id: &str, ws: &str, name: &str) -> String {
    let mut c = app.conn();
    let (sa, _, key) =
        atrium::service_accounts::model::create(&mut c, account_id, name, None, None).expect("sa");
    atrium::service_accounts::model::set_bot_access(&mut c, ws, &sa.id, VIEWER).expect("access");
    key
}

fn events(app: &TestApp, action: &str, account: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND account_id = '{account}'"
    ))
}

/// Ana owns Acme (workspace prod with people, a service account, a custom role and an
/// invitation) and Beta (which already has a workspace with the handle prod).
struct World {
    app: TestApp,
    ana: Client,
    acme: String,
    beta: String,
    ws: String,
    dash: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    for h in ["bo", "cy", "dee", "eve"] {
        app.signup(&format!("{h}@example.com"), h, PW).await;
    }
    let acme = create_org(&ana, "Acme", "acme").await;
    let beta = create_org(&ana, "Beta", "beta").await;
    let dash = create_ws(&ana, &acme, "Production", "prod").await;
    create_ws(&ana, &beta, "Beta prod", "prod").await;
    let ws = ws_id(&dash);
    // bo: only in Acme → loses access. cy: in both → keeps Viewer. dee: in both, with a
    // custom role of Acme → access removed, falls back to the default. eve: a Collaborator
    // of Acme with this access only → loses access and the Collaborator membership.
    add_member(&app, &acme, "bo", "member");
    add_member(&app, &acme, "cy", "member");
    add_member(&app, &beta, "cy", "member");
    add_member(&app, &acme, "dee", "member");
    add_member(&app, &beta, "dee", "member");
    add_member(&app, &acme, "eve", "collaborator");
    let ops = custom_role(&app, &acme, "Ops");
    grant(&app, &ws, "bo", DEVELOPER);
    grant(&app, &ws, "cy", VIEWER);
    grant(&app, &ws, "dee", &ops);
    grant(&app, &ws, "eve", VIEWER);
    set_default_role(&app, &dash, Some(VIEWER));
    service_account_with_access(&app, &acme, &ws, "ci-bot");
    let r = ana
        .post_form(
            &dash.replace("/dashboard", "/settings/members/invite"),
            &[("email", "zed@example.com"), ("role_id", VIEWER)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Invitation sent to zed@example.com."));
    World {
        app,
        ana,
        acme,
        beta,
        ws,
        dash,
    }
}

#[tokio::test]
async fn the_preview_lists_who_loses_access_and_the_handle_conflict() {
    let w = world().await;
    let transfer = w.dash.replace("/dashboard", "/settings/transfer");
    let settings = w.ana.get(&w.dash.replace("/dashboard", "/settings")).await;
    assert!(settings.text.contains("Transfer workspace"), "menu item");
    let page = w.ana.get(&format!("{transfer}?target={}", w.beta)).await;
    assert_eq!(page.status, StatusCode::OK);
    let t = &page.text;
    assert!(
        t.contains("bo is not a member of Beta: loses access."),
        "{t}"
    );
    assert!(!t.contains("cy is not a member"));
    assert!(t.contains("dee&#39;s role Ops does not exist in Beta: falls back to the workspace default, Viewer.") || t.contains("dee&#x27;s role Ops does not exist in Beta: falls back to the workspace default, Viewer."), "{t}");
    assert!(t.contains("eve is not a member of Beta"));
    assert!(t.contains("ci-bot belongs to"));
    assert!(t.contains("zed@example.com"));
    assert!(t.contains("already taken there; choose a new handle"));
    // The htmx fragment is just the preview.
    let frag = w
        .ana
        .get_with(
            &format!("{transfer}/preview?target={}&new_handle=prod2", w.beta),
            &[("HX-Request", "true")],
        )
        .await;
    assert!(frag.text.starts_with("<div id=\"transfer-preview\""));
    assert!(frag.text.contains("prod2"));
    assert!(!frag.text.contains("already taken there"));
    assert!(!frag.text.contains("<html"));
}

#[tokio::test]
async fn a_transfer_needs_a_free_handle_then_moves_the_workspace_with_what_it_keeps() {
    let w = world().await;
    let app = &w.app;
    let transfer = w.dash.replace("/dashboard", "/settings/transfer");
    let before_access = app.count("SELECT COUNT(*) AS n FROM workspace_access");
    let refused = w
        .ana
        .post_form(&transfer, &[("target", &w.beta), ("new_handle", "")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("id=\"new_handle-error\""));
    assert_eq!(account_of(app, &w.ws).as_deref(), Some(w.acme.as_str()));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_access"),
        before_access
    );
    let bad = w
        .ana
        .post_form(&transfer, &[("target", &w.beta), ("new_handle", "Not OK!")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let ok = w
        .ana
        .post_form(&transfer, &[("target", &w.beta), ("new_handle", "prod2")])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let to = ok.location().expect("location");
    assert!(to.starts_with(&format!("/account/{}/workspace/{}/settings", w.beta, w.ws)));
    assert_eq!(account_of(app, &w.ws).as_deref(), Some(w.beta.as_str()));
    let handle: String = {
        use atrium::db::schema::workspaces;
        workspaces::table
            .find(&w.ws)
            .select(workspaces::handle)
            .first(&mut app.conn())
            .expect("handle")
    };
    assert_eq!(handle, "prod2");
    // cy kept Viewer; bo, dee (custom role) and eve lost their own roles; the service
    // account lost access; the invitation is revoked; eve is no longer a Collaborator.
    let holders: Vec<String> = {
        use atrium::db::schema::{users, workspace_access as wa};
        wa::table
            .inner_join(users::table)
            .filter(wa::workspace_id.eq(&w.ws))
            .select(users::handle)
            .load(&mut app.conn())
            .expect("holders")
    };
    let mut holders = holders;
    holders.sort();
    // ana (the creator, Owner of Beta too) and cy keep their roles.
    assert_eq!(holders, ["ana", "cy"]);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_bot_access"),
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending'"),
        0
    );
    assert_eq!(crate::members::role_in(app, &w.acme, "eve"), None);
    assert_eq!(
        crate::members::role_in(app, &w.acme, "bo").as_deref(),
        Some("member")
    );
    // Both accounts' audit logs record it.
    assert_eq!(events(app, "atrium.workspace.transferred", &w.acme), 1);
    assert_eq!(events(app, "atrium.workspace.transferred", &w.beta), 1);
    // The old URLs are gone, the new ones work; dee reaches it through Beta's default role.
    assert_eq!(w.ana.get(&w.dash).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.ana.get(&to).await.status, StatusCode::OK);
}

async fn login(app: &TestApp, handle: &str) -> Client {
    let c = app.new_client();
    c.get("/auth/login").await;
    let r = c
        .post_form("/auth/login", &[("login", handle), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "log-in of {handle}");
    c
}

/// Ana owns Acme and is only a Member of Gamma (owned by Gil): her transfers become requests.
async fn request_world() -> (World, Client, String) {
    let w = world().await;
    let gil = w.app.signup("gil@example.com", "gil", PW).await;
    let gamma = create_org(&gil, "Gamma", "gamma").await;
    add_member(&w.app, &gamma, "ana", "member");
    (w, gil, gamma)
}

async fn request(w: &World, gamma: &str) -> String {
    let transfer = w.dash.replace("/dashboard", "/settings/transfer");
    let page = w.ana.get(&format!("{transfer}?target={gamma}")).await;
    assert!(page.text.contains("needs an admin"), "the option says so");
    let r = w
        .ana
        .post_form(&transfer, &[("target", gamma), ("new_handle", "")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Transfer requested."));
    assert_eq!(
        account_of(&w.app, &w.ws).as_deref(),
        Some(w.acme.as_str()),
        "not moved yet"
    );
    w.app
        .count("SELECT COUNT(*) AS n FROM workspace_transfers WHERE status = 'pending'");
    let id: String = {
        use atrium::db::schema::workspace_transfers as t;
        t::table
            .filter(t::status.eq("pending"))
            .select(t::id)
            .first(&mut w.app.conn())
            .expect("request")
    };
    id
}

#[tokio::test]
async fn a_request_is_mailed_to_the_target_admins_and_approval_moves_the_workspace() {
    let (w, gil, gamma) = request_world().await;
    let id = request(&w, &gamma).await;
    assert_eq!(
        w.app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'transfer_request' AND to_addr = 'gil@example.com'"),
        1
    );
    assert_eq!(
        events(&w.app, "atrium.workspace.transfer_requested", &w.acme),
        1
    );
    assert_eq!(
        events(&w.app, "atrium.workspace.transfer_requested", &gamma),
        1
    );
    // A second request for the same workspace is refused while this one is open.
    let again = w
        .ana
        .post_form(
            &w.dash.replace("/dashboard", "/settings/transfer"),
            &[("target", &gamma), ("new_handle", "")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Ana (a Member of Gamma) cannot see Gamma's transfers page, let alone approve.
    assert_eq!(
        w.ana
            .get(&format!("/account/{gamma}/transfers"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        w.ana
            .post_form(&format!("/account/{gamma}/transfers/{id}/approve"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = gil.get(&format!("/account/{gamma}/transfers")).await;
    assert!(page.text.contains("Production"));
    let ok = gil
        .post_form(&format!("/account/{gamma}/transfers/{id}/approve"), &[])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(account_of(&w.app, &w.ws).as_deref(), Some(gamma.as_str()));
    assert_eq!(events(&w.app, "atrium.workspace.transferred", &w.acme), 1);
    assert_eq!(events(&w.app, "atrium.workspace.transferred", &gamma), 1);
    assert_eq!(
        events(&w.app, "atrium.workspace.transfer_approved", &gamma),
        1
    );
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) AS n FROM workspace_transfers WHERE status = 'done'"),
        1
    );
}

#[tokio::test]
async fn requests_can_be_declined_cancelled_and_expire() {
    let (w, gil, gamma) = request_world().await;
    // Declined by the target.
    let id = request(&w, &gamma).await;
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id}/decline"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        events(&w.app, "atrium.workspace.transfer_declined", &w.acme),
        1
    );
    // Cancelled by the source (not by the target).
    let id = request(&w, &gamma).await;
    assert_eq!(
        gil.post_form(&format!("/account/{gamma}/transfers/{id}/cancel"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = w
        .ana
        .post_form(&format!("/account/{}/transfers/{id}/cancel", w.acme), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        events(&w.app, "atrium.workspace.transfer_cancelled", &gamma),
        1
    );
    // Expired: approving after seven days does nothing.
    let id = request(&w, &gamma).await;
    {
        use atrium::db::schema::workspace_transfers as t;
        diesel::update(t::table.find(&id))
            .set(t::expires_at.eq(atrium::db::now() - chrono::TimeDelta::seconds(1)))
            .execute(&mut w.app.conn())
            .expect("age");
    }
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("This request expired."));
    assert_eq!(account_of(&w.app, &w.ws).as_deref(), Some(w.acme.as_str()));
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) AS n FROM workspace_transfers WHERE status = 'expired'"),
        1
    );
    // The expired request no longer blocks a new one.
    request(&w, &gamma).await;
}

#[tokio::test]
async fn an_approval_after_the_workspace_was_deleted_fails_cleanly() {
    let (w, gil, gamma) = request_world().await;
    let id = request(&w, &gamma).await;
    let del = w
        .ana
        .post_form(
            &w.dash.replace("/dashboard", "/delete"),
            &[("confirm_handle", "prod")],
        )
        .await;
    assert_eq!(del.status, StatusCode::SEE_OTHER);
    let r = gil
        .post_form(&format!("/account/{gamma}/transfers/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text
            .contains("The transfer failed: The workspace was deleted."),
        "{}",
        r.text
    );
    assert_eq!(w.app.count("SELECT COUNT(*) AS n FROM workspaces WHERE handle = 'prod' AND account_id <> (SELECT id FROM accounts WHERE handle = 'beta')"), 0);
    assert_eq!(
        w.app
            .count("SELECT COUNT(*) AS n FROM workspace_transfers WHERE status = 'failed'"),
        1
    );
}

#[tokio::test]
async fn deleting_removes_every_dependent_row() {
    let w = world().await;
    let app = &w.app;
    let ws = &w.ws;
    let tables = [
        "workspace_access",
        "workspace_bot_access",
        "workspace_visits",
        "invitations",
    ];
    for t in tables {
        assert!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM {t} WHERE workspace_id = '{ws}'"
            )) > 0
                || t == "workspace_visits",
            "{t} has rows before"
        );
    }
    let page = w.ana.get(&w.dash.replace("/dashboard", "/settings")).await;
    assert!(
        page.text
            .contains("5 member accesses, 1 service-account access and 1 pending invitation"),
        "{}",
        page.text
    );
    let r = w
        .ana
        .post_form(
            &w.dash.replace("/dashboard", "/delete"),
            &[("confirm_handle", "prod")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    for t in tables {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM {t} WHERE workspace_id = '{ws}'"
            )),
            0,
            "{t}"
        );
    }
    assert_eq!(account_of(app, ws), None);
    // eve was a Collaborator of Acme through this workspace only: she goes with it (a
    // Collaborator exists only while they have a workspace access, DESIGN §1). The
    // Members keep their membership.
    assert_eq!(crate::members::role_in(app, &w.acme, "eve"), None);
    assert_eq!(
        crate::members::role_in(app, &w.acme, "bo").as_deref(),
        Some("member")
    );
    // Its PREFECT_API_URL answers 404 (JSON) for a key that reached it before.
    let key = crate::api_me::user_key(app, "ana");
    let (status, _) = crate::api_me::api_get(
        app,
        Some(&key),
        &format!("/api/accounts/{}/workspaces/{ws}/flows", w.acme),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Transfer and delete of the same workspace at once: exactly one wins, and no row of the
/// workspace is left behind in the wrong account.
#[tokio::test]
async fn transfer_racing_delete_has_exactly_one_outcome() {
    for round in 0..8 {
        let w = world().await;
        let transfer = w.dash.replace("/dashboard", "/settings/transfer");
        let delete = w.dash.replace("/dashboard", "/delete");
        let to_beta = [("target", w.beta.as_str()), ("new_handle", "prod2")];
        let confirm = [("confirm_handle", "prod")];
        let (t, d) = tokio::join!(
            w.ana.post_form(&transfer, &to_beta),
            w.ana.post_form(&delete, &confirm),
        );
        let moved = account_of(&w.app, &w.ws);
        match moved.as_deref() {
            None => {
                assert_eq!(d.status, StatusCode::SEE_OTHER, "round {round}");
                assert!(
                    t.status == StatusCode::NOT_FOUND,
                    "round {round}: {}",
                    t.status
                );
                assert_eq!(events(&w.app, "atrium.workspace.transferred", &w.beta), 0);
            }
            Some(a) => {
                assert_eq!(a, w.beta, "round {round}");
                assert_eq!(t.status, StatusCode::SEE_OTHER);
                assert_eq!(d.status, StatusCode::NOT_FOUND, "round {round}");
                assert_eq!(events(&w.app, "atrium.workspace.deleted", &w.acme), 0);
            }
        }
        assert_eq!(
            w.app.count(&format!(
                "SELECT COUNT(*) AS n FROM workspace_access a WHERE workspace_id = '{}' AND NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = a.workspace_id)",
                w.ws
            )),
            0
        );
    }
}

/// Two transfers of one workspace to different targets: one wins, the other finds it gone.
#[tokio::test]
async fn two_transfers_to_different_targets_have_exactly_one_outcome() {
    for round in 0..8 {
        let w = world().await;
        let delta = create_org(&w.ana, "Delta", "delta").await;
        let transfer = w.dash.replace("/dashboard", "/settings/transfer");
        let to_beta = [("target", w.beta.as_str()), ("new_handle", "prod2")];
        let to_delta = [("target", delta.as_str()), ("new_handle", "")];
        let (a, b) = tokio::join!(
            w.ana.post_form(&transfer, &to_beta),
            w.ana.post_form(&transfer, &to_delta),
        );
        let statuses = [a.status, b.status];
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::SEE_OTHER)
                .count(),
            1,
            "round {round}: {statuses:?}"
        );
        let now_in = account_of(&w.app, &w.ws).expect("still exists");
        assert!(now_in == w.beta || now_in == delta);
        let total: i64 = w.app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.workspace.transferred'",
        );
        assert_eq!(total, 2, "one transfer, recorded in its two accounts");
    }
}

#[tokio::test]
async fn only_those_with_delete_workspace_in_the_source_may_transfer() {
    let w = world().await;
    // cy is a Member of Acme; as workspace Owner she manages the workspace but may not
    // move it out of the account (that needs delete:workspace, i.e. Owner/Admin of Acme).
    {
        use atrium::db::schema::workspace_access as wa;
        let cy = user_id(&w.app, "cy");
        diesel::update(wa::table.filter(wa::user_id.eq(cy)))
            .set(wa::role_id.eq("00000000-0000-4000-8000-000000000001"))
            .execute(&mut w.app.conn())
            .expect("owner role");
    }
    let cy = login(&w.app, "cy").await;
    let settings = cy.get(&w.dash.replace("/dashboard", "/settings")).await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(!settings.text.contains("Transfer workspace"));
    let transfer = w.dash.replace("/dashboard", "/settings/transfer");
    assert_eq!(cy.get(&transfer).await.status, StatusCode::FORBIDDEN);
    let r = cy
        .post_form(&transfer, &[("target", &w.beta), ("new_handle", "prod2")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(account_of(&w.app, &w.ws).as_deref(), Some(w.acme.as_str()));
    // bo (Developer here) sees the settings but may not transfer either; someone from
    // another account does not even see the workspace.
    let bo = login(&w.app, "bo").await;
    assert_eq!(bo.get(&transfer).await.status, StatusCode::FORBIDDEN);
    let out = w.app.signup("out@example.com", "out", PW).await;
    assert_eq!(out.get(&transfer).await.status, StatusCode::NOT_FOUND);
}

async fn api_post(
    app: &TestApp,
    key: Option<&str>,
    path: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let mut r = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let json = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, json)
}

#[tokio::test]
async fn the_api_validates_and_transfers_with_the_reference_shapes() {
    let w = world().await;
    let app = &w.app;
    let base = format!("/api/accounts/{}/workspaces/{}", w.acme, w.ws);
    let ana_key = crate::api_me::user_key(app, "ana");
    let cy_key = crate::api_me::user_key(app, "cy");
    app.signup("out@example.com", "out", PW).await;
    let outsider_key = crate::api_me::user_key(app, "out");
    let body = serde_json::json!({ "to_account_id": w.beta });

    let (s, b) = api_post(
        app,
        None,
        &format!("{base}/validate_transfer"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["detail"], "Invalid authentication credentials");
    let (s, _) = api_post(
        app,
        Some(&outsider_key),
        &format!("{base}/transfer"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api_post(
        app,
        Some(&cy_key),
        &format!("{base}/transfer"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/transfer"),
        serde_json::json!({ "to_account_id": "not-a-uuid" }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["detail"][0]["loc"][1], "to_account_id");
    let (s, b) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/transfer"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    let (s, preview) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/validate_transfer"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // The reference: an object whose values are arrays of string-valued objects.
    for (_, v) in preview.as_object().expect("object") {
        for item in v.as_array().expect("array") {
            assert!(
                item.as_object()
                    .expect("object")
                    .values()
                    .all(|x| x.is_string()),
                "{item}"
            );
        }
    }
    assert_eq!(
        preview["users_losing_access"]
            .as_array()
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        preview["service_accounts_losing_access"][0]["name"],
        "ci-bot"
    );
    assert_eq!(preview["handle"][0]["conflict"], "true");
    // The handle is taken in Beta: 422 naming new_handle, nothing moved.
    let (s, b) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/transfer"),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["detail"][0]["loc"][1], "new_handle");
    assert_eq!(account_of(app, &w.ws).as_deref(), Some(w.acme.as_str()));
    let (s, _) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/transfer"),
        serde_json::json!({ "to_account_id": w.beta, "new_handle": "prod-b" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(account_of(app, &w.ws).as_deref(), Some(w.beta.as_str()));
    // The old API URL of the workspace is gone.
    let (s, _) = api_post(
        app,
        Some(&ana_key),
        &format!("{base}/validate_transfer"),
        body,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// An approval racing the workspace's deletion: either the workspace moved (and the delete
/// found it gone) or it was deleted (and the request closed as failed) — never both.
#[tokio::test]
async fn approval_racing_delete_has_exactly_one_outcome() {
    for round in 0..6 {
        let (w, gil, gamma) = request_world().await;
        let id = request(&w, &gamma).await;
        let approve_path = format!("/account/{gamma}/transfers/{id}/approve");
        let delete = w.dash.replace("/dashboard", "/delete");
        let confirm = [("confirm_handle", "prod")];
        let (a, d) = tokio::join!(
            gil.post_form(&approve_path, &[]),
            w.ana.post_form(&delete, &confirm),
        );
        let status = |s: &str| {
            w.app.count(&format!(
                "SELECT COUNT(*) AS n FROM workspace_transfers WHERE status = '{s}'"
            ))
        };
        match account_of(&w.app, &w.ws) {
            None => {
                assert_eq!(d.status, StatusCode::SEE_OTHER, "round {round}");
                assert_eq!(a.status, StatusCode::OK, "round {round}");
                assert_eq!(status("failed"), 1, "round {round}");
                assert_eq!(events(&w.app, "atrium.workspace.transferred", &gamma), 0);
            }
            Some(now_in) => {
                assert_eq!(now_in, gamma, "round {round}");
                assert_eq!(a.status, StatusCode::SEE_OTHER, "round {round}");
                assert_eq!(d.status, StatusCode::NOT_FOUND, "round {round}");
                assert_eq!(status("done"), 1, "round {round}");
                assert_eq!(events(&w.app, "atrium.workspace.deleted", &w.acme), 0);
            }
        }
        assert_eq!(status("pending"), 0, "round {round}");
    }
}

/// A Collaborator of the source who is a member of the target keeps their access when the
/// workspace moves; if it was their only access in the source, their Collaborator
/// membership there ends (DESIGN §1), as it does for those who lose the access.
#[tokio::test]
async fn a_collaborator_who_keeps_access_in_the_target_leaves_the_source() {
    let w = world().await;
    let app = &w.app;
    add_member(app, &w.beta, "eve", "member");
    let key = crate::api_me::user_key(app, "ana");
    let (s, b) = api_post(
        app,
        Some(&key),
        &format!("/api/accounts/{}/workspaces/{}/transfer", w.acme, w.ws),
        serde_json::json!({ "to_account_id": w.beta, "new_handle": "prod-2" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM workspace_access wa JOIN users u ON u.id = wa.user_id
             WHERE wa.workspace_id = '{}' AND u.handle = 'eve'",
            w.ws
        )),
        1,
        "eve, a member of Beta, keeps her access"
    );
    assert_eq!(crate::members::role_in(app, &w.acme, "eve"), None);
    assert_eq!(
        crate::members::role_in(app, &w.beta, "eve").as_deref(),
        Some("member")
    );
}
