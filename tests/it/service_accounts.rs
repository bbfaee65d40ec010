//! Service accounts: the account page, the workspace Service accounts panel and the bots
//! JSON API (issue #5, items 2–5): gating per role, bad input beside the field, key
//! rotation with and without overlap, deletion, the default role never applying, and each
//! bots endpoint's 401/403/404/422.

use crate::support::ws_id;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_keys::{
    api, api_get, assert_not_stored, create_user_key, find_key, is_key, set_sql, ts,
};
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{Client, TestApp, spawn_app};
use crate::workspaces::create_ws;

const OWNER_ROLE: &str = "00000000-0000-4000-8000-000000000001";
const DEVELOPER: &str = "00000000-0000-4000-8000-000000000002";
const VIEWER: &str = "00000000-0000-4000-8000-000000000004";

pub fn sa_id(app: &TestApp, name: &str) -> String {
    use atrium::db::schema::service_accounts as s;
    use diesel::prelude::*;
    let mut c = app.conn();
    s::table
        .filter(s::name.eq(name))
        .select(s::id)
        .first(&mut c)
        .expect("service account")
}

/// Creates a service account through the page; returns its key from the one-time panel.
pub async fn create_sa(
    c: &Client,
    account_id: &str,
    name: &str,
    workspace: Option<(&str, &str)>,
) -> String {
    let (ws, role) = workspace.unwrap_or(("none", VIEWER));
    let r = c
        .post_form(
            &format!("/account/{account_id}/service-accounts"),
            &[
                ("name", name),
                ("expiration", ""),
                ("workspace_id", ws),
                ("role_id", role),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "create service account: {}",
        r.text
    );
    find_key(&r.text, "pnb_").expect("the key in the one-time panel")
}

/// A custom role of the account: a built-in role to inherit plus listed scopes.
pub fn custom_role(
    app: &TestApp,
    account_id: &str,
    name: &str,
    inherit: &str,
    scopes: &[&str],
) -> String {
    use atrium::db::schema::workspace_roles as r;
    use diesel::prelude::*;
    let id = uuid::Uuid::new_v4().to_string();
    let mut c = app.conn();
    diesel::insert_into(r::table)
        .values((
            r::id.eq(&id),
            r::account_id.eq(account_id),
            r::name.eq(name),
            r::description.eq(""),
            r::scopes.eq(serde_json::to_string(scopes).expect("json")),
            r::inherited_role.eq(inherit),
            r::created_at.eq(atrium::db::now()),
            r::updated_at.eq(atrium::db::now()),
        ))
        .execute(&mut c)
        .expect("custom role");
    id
}

pub fn grant_user(app: &TestApp, ws: &str, handle: &str, role_id: &str) {
    use atrium::db::schema::workspace_access as a;
    use diesel::prelude::*;
    let uid = user_id(app, handle);
    let mut c = app.conn();
    diesel::insert_into(a::table)
        .values((
            a::id.eq(uuid::Uuid::new_v4().to_string()),
            a::workspace_id.eq(ws),
            a::user_id.eq(uid),
            a::role_id.eq(role_id),
            a::created_at.eq(atrium::db::now()),
            a::handle.eq(handle),
        ))
        .execute(&mut c)
        .expect("grant");
}

fn counts(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        app.count("SELECT COUNT(*) AS n FROM service_accounts"),
        app.count("SELECT COUNT(*) AS n FROM api_keys"),
        app.count("SELECT COUNT(*) AS n FROM workspace_bot_access"),
        app.count("SELECT COUNT(*) AS n FROM audit_events"),
    )
}

/// Owner `ana` of Acme with workspace `prod`; returns (client, account id, workspace id).
async fn acme(app: &TestApp) -> (Client, String, String) {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    (ana, acct, ws_id(&dash))
}

#[tokio::test]
async fn an_owner_creates_a_service_account_with_a_workspace_role_and_the_key_is_shown_once() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/service-accounts"),
            &[
                ("name", "ci-bot"),
                ("expiration", "2999-01-31"),
                ("workspace_id", &ws),
                ("role_id", DEVELOPER),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let key = find_key(&r.text, "pnb_").expect("the key");
    assert!(is_key(&key, "pnb_"));
    assert!(r.text.contains("data-copy=\"new-key\""));
    assert!(r.text.contains(&format!(
        "prefect cloud login -k {key} --workspace acme/prod"
    )));
    assert!(
        r.text
            .contains(&format!("PREFECT_CLOUD_API_URL={}/api", app.base))
    );

    // The list: mask, expiration, last used, one workspace — never the key.
    let list = ana.get(&format!("/account/{acct}/service-accounts")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&key[4..]));
    assert!(list.text.contains(&format!("pnb_…{}", &key[36..])));
    assert!(list.text.contains("2999-01-31 23:59 UTC"));
    assert!(list.text.contains("<td class=\"num\">1</td>"));
    assert_not_stored(&app, &key);

    // The key reaches the workspace with the Developer role, and nothing else.
    let (status, body) = api_get(&app, &key, "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["workspace_handle"], "prod");
    let (status, scopes) = api_get(&app, &key, &format!("/api/me/workspaces/{ws}/scopes")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        scopes
            .as_array()
            .expect("scopes")
            .contains(&json!("write_deployments"))
    );
    assert!(
        !scopes
            .as_array()
            .expect("scopes")
            .contains(&json!("manage_workspace_users"))
    );

    for action in [
        "atrium.service_account.created",
        "atrium.api_key.created",
        "atrium.workspace_access.granted",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND account_id = '{acct}'"
            )),
            1,
            "{action}"
        );
    }
    // The dashboard counts it.
    let d = ana
        .get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
        .await;
    assert!(
        d.text
            .contains("<dt>Service accounts with access</dt><dd>1</dd>"),
        "{}",
        d.text
    );
}

#[tokio::test]
async fn the_service_accounts_page_is_gated_per_account_role() {
    let app = spawn_app().await;
    let (ana, acct, _) = acme(&app).await;
    create_sa(&ana, &acct, "ci-bot", None).await;
    let sa = sa_id(&app, "ci-bot");
    let adam = app.signup("adam@example.com", "adam", PW).await;
    add_member(&app, &acct, "adam", "admin");
    let mel = app.signup("mel@example.com", "mel", PW).await;
    add_member(&app, &acct, "mel", "member");
    let out = app.signup("out@example.com", "out", PW).await;
    let page = format!("/account/{acct}/service-accounts");

    // Owner and Admin manage.
    for c in [&ana, &adam] {
        let p = c.get(&page).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.text.contains("Create service account"));
        // One "Manage" link a row; its forms open in one panel (issue #24, point 5).
        assert!(p.text.contains("Manage ci-bot"));
        let panel = c.get(&format!("{page}?manage={sa}")).await;
        assert!(panel.text.contains("Rotate now") && panel.text.contains("Delete service account"));
    }
    create_sa(&adam, &acct, "admin-bot", None).await;

    // A Member sees the list without the buttons, and is refused every action.
    let p = mel.get(&page).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text.contains("ci-bot"));
    assert!(!p.text.contains("Create service account"));
    assert!(!p.text.contains("Manage ci-bot"));
    assert!(
        !mel.get(&format!("{page}?manage={sa}"))
            .await
            .text
            .contains("Rotate now")
    );
    let before = counts(&app);
    for (path, fields) in [
        (page.clone(), vec![("name", "x"), ("expiration", "")]),
        (format!("{page}/{sa}/rename"), vec![("name", "y")]),
        (
            format!("{page}/{sa}/rotate"),
            vec![("expiration", ""), ("overlap_hours", "0")],
        ),
        (format!("{page}/{sa}/delete"), vec![]),
    ] {
        let r = mel.post_form(&path, &fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        // Someone outside the account does not see it at all.
        let r = out.post_form(&path, &fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(out.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(counts(&app), before);
}

#[tokio::test]
async fn bad_input_on_each_form_is_refused_beside_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    create_sa(&ana, &acct, "ci-bot", None).await;
    let sa = sa_id(&app, "ci-bot");
    let other = create_org(&ana, "Other", "other").await;
    let other_ws = ws_id(&create_ws(&ana, &other, "Elsewhere", "elsewhere").await);
    let other_role = custom_role(&app, &other, "Theirs", "viewer", &[]);
    let page = format!("/account/{acct}/service-accounts");
    let before = counts(&app);
    let long = "b".repeat(101);
    for (name, expiration, workspace, role, field, msg) in [
        ("", "", "none", VIEWER, "name", "Enter a name."),
        (long.as_str(), "", "none", VIEWER, "name", "at most 100"),
        ("CI-BOT", "", "none", VIEWER, "name", "already exists"),
        (
            "zero\u{200b}width",
            "",
            "none",
            VIEWER,
            "name",
            "letters, digits",
        ),
        (
            "ok",
            "2001-01-01",
            "none",
            VIEWER,
            "expiration",
            "in the future",
        ),
        (
            "ok",
            "31/12/2999",
            "none",
            VIEWER,
            "expiration",
            "YYYY-MM-DD",
        ),
        (
            "ok",
            "",
            other_ws.as_str(),
            VIEWER,
            "workspace_id",
            "workspace of this account",
        ),
        (
            "ok",
            "",
            ws.as_str(),
            "not-a-role",
            "role_id",
            "role of this account",
        ),
        (
            "ok",
            "",
            ws.as_str(),
            other_role.as_str(),
            "role_id",
            "role of this account",
        ),
    ] {
        let r = ana
            .post_form(
                &page,
                &[
                    ("name", name),
                    ("expiration", expiration),
                    ("workspace_id", workspace),
                    ("role_id", role),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?} {field}"
        );
        assert!(
            r.text.contains(&format!("id=\"{field}-error\"")),
            "{name:?}: message beside {field}"
        );
        assert!(r.text.contains(msg), "{name:?}: {msg}");
        assert!(find_key(&r.text, "pnb_").is_none());
    }
    // Rename.
    create_sa(&ana, &acct, "deploy-bot", None).await;
    let before = (before.0 + 1, before.1 + 1, before.2, before.3 + 2);
    assert_eq!(counts(&app), before);
    for (name, msg) in [("", "Enter a name."), ("Deploy-Bot", "already exists")] {
        let r = ana
            .post_form(&format!("{page}/{sa}/rename"), &[("name", name)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text.contains(&format!("id=\"rename-{sa}-error\"")));
        assert!(r.text.contains(msg), "{msg}");
    }
    // Rotate.
    for (exp, hours, id, msg) in [
        ("", "49", "rotate-overlap", "at most 48 hours"),
        ("", "-1", "rotate-overlap", "from 0 to 48"),
        ("", "two", "rotate-overlap", "from 0 to 48"),
        ("2001-01-01", "0", "rotate-exp", "in the future"),
    ] {
        let r = ana
            .post_form(
                &format!("{page}/{sa}/rotate"),
                &[("expiration", exp), ("overlap_hours", hours)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{hours}");
        assert!(r.text.contains(&format!("id=\"{id}-{sa}-error\"")), "{id}");
        assert!(r.text.contains(msg), "{msg}");
        assert!(find_key(&r.text, "pnb_").is_none());
    }
    assert_eq!(counts(&app), before);
    // An unknown service account is 404.
    let nobody = uuid::Uuid::new_v4();
    for action in ["rename", "rotate", "delete"] {
        let r = ana
            .post_form(
                &format!("{page}/{nobody}/{action}"),
                &[("name", "x"), ("expiration", ""), ("overlap_hours", "0")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
    }
    // A good rename works and is audited.
    let r = ana
        .post_form(&format!("{page}/{sa}/rename"), &[("name", "ci-runner")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("ci-runner"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.service_account.renamed'"
        ),
        1
    );
}

#[tokio::test]
async fn rotation_without_overlap_stops_the_old_key_at_once_and_with_overlap_when_it_ends() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let k1 = create_sa(&ana, &acct, "ci-bot", Some((&ws, VIEWER))).await;
    let sa = sa_id(&app, "ci-bot");
    let page = format!("/account/{acct}/service-accounts");
    assert_eq!(
        api_get(&app, &k1, "/api/me/workspaces").await.0,
        StatusCode::OK
    );

    // No overlap: the old key is dead at once.
    let r = ana
        .post_form(
            &format!("{page}/{sa}/rotate"),
            &[("expiration", ""), ("overlap_hours", "0")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("the old key no longer works"));
    let k2 = find_key(&r.text, "pnb_").expect("new key");
    assert_ne!(k1, k2);
    assert!(r.text.contains(&format!(
        "prefect cloud login -k {k2} --workspace acme/prod"
    )));
    assert_eq!(
        api_get(&app, &k1, "/api/me/workspaces").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api_get(&app, &k2, "/api/me/workspaces").await.0,
        StatusCode::OK
    );

    // With an overlap: both work until it ends, then only the new one.
    let r = ana
        .post_form(
            &format!("{page}/{sa}/rotate"),
            &[("expiration", "2999-12-31"), ("overlap_hours", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("the old key works until"));
    let k3 = find_key(&r.text, "pnb_").expect("new key");
    assert_eq!(
        api_get(&app, &k2, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    assert_eq!(
        api_get(&app, &k3, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    let list = ana.get(&page).await;
    assert!(list.text.contains(&format!("pnb_…{}", &k3[36..])));
    assert!(!list.text.contains(&k3[4..]));
    // The overlap ends (moved into the past instead of waiting two hours).
    set_sql(
        &app,
        &format!(
            "UPDATE api_keys SET expires_at = '{}' WHERE last4 = '{}'",
            ts(chrono::TimeDelta::seconds(-1)),
            &k2[36..]
        ),
    );
    assert_eq!(
        api_get(&app, &k2, "/api/me/workspaces").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api_get(&app, &k3, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.api_key.rotated'"),
        2
    );
    assert_not_stored(&app, &k2);
    assert_not_stored(&app, &k3);
}

#[tokio::test]
async fn deleting_a_service_account_kills_its_keys_and_its_workspace_roles() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let key = create_sa(&ana, &acct, "ci-bot", Some((&ws, VIEWER))).await;
    let sa = sa_id(&app, "ci-bot");
    assert_eq!(
        api_get(&app, &key, "/api/me/workspaces").await.0,
        StatusCode::OK
    );
    let r = ana
        .post_form(
            &format!("/account/{acct}/service-accounts/{sa}/delete"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("deleted"));
    assert_eq!(
        api_get(&app, &key, "/api/me/workspaces").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_bot_access"),
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM api_keys"), 0);
    for action in ["atrium.service_account.deleted", "atrium.api_key.deleted"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND account_id = '{acct}'"
            )),
            1,
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_service_account_never_receives_the_workspace_default_role() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    set_sql(
        &app,
        &format!("UPDATE workspaces SET default_role_id = '{DEVELOPER}' WHERE id = '{ws}'"),
    );
    // A Member user gets the default role...
    let mel = app.signup("mel@example.com", "mel", PW).await;
    add_member(&app, &acct, "mel", "member");
    let mel_key = create_user_key(&mel, "mel", "").await;
    assert_eq!(
        api_get(&app, &mel_key, &format!("/api/me/workspaces/{ws}/scopes"))
            .await
            .0,
        StatusCode::OK
    );
    // ... a service account without an own role does not.
    let key = create_sa(&ana, &acct, "ci-bot", None).await;
    let (status, _) = api_get(&app, &key, &format!("/api/me/workspaces/{ws}/scopes")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api_get(&app, &key, "/api/me/workspaces").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    // With its own Viewer role it has exactly the Viewer's scopes, nothing of Developer.
    let sa = sa_id(&app, "ci-bot");
    let r = ana
        .post_form(
            &format!("/account/{acct}/workspace/{ws}/settings/service-accounts"),
            &[("service_account_id", &sa), ("role_id", VIEWER)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let (status, scopes) = api_get(&app, &key, &format!("/api/me/workspaces/{ws}/scopes")).await;
    assert_eq!(status, StatusCode::OK);
    let scopes = scopes.as_array().expect("scopes").clone();
    assert!(scopes.contains(&json!("see_flows")));
    assert!(
        !scopes.contains(&json!("write_deployments")),
        "no Developer scope"
    );
    assert_eq!(
        api_get(&app, &key, "/api/me/workspaces").await.1[0]["workspace_handle"],
        "prod"
    );
}

#[tokio::test]
async fn the_workspace_panel_adds_changes_and_removes_without_granting_above_ones_own() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    create_sa(&ana, &acct, "ci-bot", None).await;
    create_sa(&ana, &acct, "deploy-bot", None).await;
    let ci = sa_id(&app, "ci-bot");
    let deploy = sa_id(&app, "deploy-bot");
    let panel = format!("/account/{acct}/workspace/{ws}/settings/service-accounts");

    // Members with Developer (no see_workspace_service_accounts) do not see the panel;
    // a role that sees but does not manage shows it read-only; a manager below Developer
    // may give Viewer but not Developer.
    let dev = app.signup("dev@example.com", "dev", PW).await;
    add_member(&app, &acct, "dev", "member");
    grant_user(&app, &ws, "dev", DEVELOPER);
    let see = custom_role(
        &app,
        &acct,
        "Auditor",
        "viewer",
        &["see_workspace_service_accounts"],
    );
    let aud = app.signup("aud@example.com", "aud", PW).await;
    add_member(&app, &acct, "aud", "member");
    grant_user(&app, &ws, "aud", &see);
    let lead_role = custom_role(
        &app,
        &acct,
        "Bot keeper",
        "viewer",
        &["manage_workspace_service_accounts"],
    );
    let lead = app.signup("lead@example.com", "lead", PW).await;
    add_member(&app, &acct, "lead", "member");
    grant_user(&app, &ws, "lead", &lead_role);

    assert_eq!(dev.get(&panel).await.status, StatusCode::NOT_FOUND);
    let r = dev
        .post_form(&panel, &[("service_account_id", &ci), ("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let p = aud.get(&panel).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.text.contains("Add service account"));
    let r = aud
        .post_form(&panel, &[("service_account_id", &ci), ("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let dash = aud
        .get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
        .await;
    assert!(
        dash.text.contains("/settings/service-accounts"),
        "linked in the sidebar"
    );

    // The keeper adds ci-bot as Viewer; Developer is above their own scopes.
    let p = lead.get(&panel).await;
    assert!(p.text.contains("Add service account"));
    assert!(
        !p.text.contains(&format!("value=\"{DEVELOPER}\"")),
        "only grantable roles offered"
    );
    let before = counts(&app);
    let r = lead
        .post_form(
            &panel,
            &[("service_account_id", &ci), ("role_id", DEVELOPER)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("permissions you do not have"));
    let r = lead
        .post_form(&panel, &[("service_account_id", &ci), ("role_id", "bogus")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(counts(&app), before);
    let r = lead
        .post_form(&panel, &[("service_account_id", &ci), ("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let p = lead.get(&panel).await;
    assert!(p.text.contains("Workspace role of ci-bot"));

    // The Owner adds deploy-bot as Developer; the keeper cannot change or remove it.
    let r = ana
        .post_form(
            &panel,
            &[("service_account_id", &deploy), ("role_id", DEVELOPER)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = lead
        .post_htmx(&format!("{panel}/{deploy}/role"), &[("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.starts_with("<tr"),
        "the row is re-rendered: {}",
        r.text
    );
    assert!(r.text.contains("permissions you do not have"));
    let r = lead
        .post_htmx(&format!("{panel}/{deploy}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_bot_access"),
        2
    );

    // Inline change by the Owner: the row comes back with the new role.
    let r = ana
        .post_htmx(&format!("{panel}/{ci}/role"), &[("role_id", OWNER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.starts_with("<tr"));
    assert!(r.text.contains("Role saved."));
    assert!(r.text.contains(&format!("value=\"{OWNER_ROLE}\" selected")));
    // Changing the role of a service account without one here is 404.
    let stranger = {
        create_sa(&ana, &acct, "idle-bot", None).await;
        sa_id(&app, "idle-bot")
    };
    let r = ana
        .post_htmx(&format!("{panel}/{stranger}/role"), &[("role_id", VIEWER)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Remove.
    let r = ana.post_htmx(&format!("{panel}/{ci}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, "");
    for (action, n) in [
        ("atrium.workspace_access.granted", 2),
        ("atrium.workspace_access.role_changed", 1),
        ("atrium.workspace_access.revoked", 1),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND resource_kind = 'service_account' AND workspace_id = '{ws}'"
            )),
            n,
            "{action}"
        );
    }
    let d = ana
        .get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
        .await;
    assert!(
        d.text
            .contains("<dt>Service accounts with access</dt><dd>1</dd>")
    );
}

// ---------- the bots API ----------

fn bots(acct: &str) -> String {
    format!("/api/accounts/{acct}/bots")
}

#[tokio::test]
async fn bots_api_creates_reads_filters_updates_rotates_and_deletes() {
    let app = spawn_app().await;
    let (ana, acct, _) = acme(&app).await;
    let owner = create_user_key(&ana, "owner", "").await;
    let (status, created) = api(
        &app,
        Some(&owner),
        Method::POST,
        &format!("{}/", bots(&acct)),
        Some(json!({ "name": "api-bot", "api_key_expiration": "2999-06-01T12:00:00Z" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    check_schema(&created, "BotCreateResponse");
    let key = created["api_key"]["key"].as_str().expect("key").to_string();
    assert!(is_key(&key, "pnb_"));
    assert_eq!(created["account_role_name"], "Member");
    assert_eq!(created["account_id"], acct.as_str());
    let id = created["id"].as_str().expect("id").to_string();
    assert_not_stored(&app, &key);

    // Read: the key is masked.
    let (status, read) = api_get(&app, &owner, &format!("{}/{id}", bots(&acct))).await;
    assert_eq!(status, StatusCode::OK);
    check_schema(&read, "BotReadResponse");
    assert_eq!(
        read["api_key"]["masked_key"],
        format!("pnb_…{}", &key[36..])
    );
    assert!(!read.to_string().contains(&key[4..]));
    assert!(
        read["api_key"]["expiration"]
            .as_str()
            .expect("exp")
            .starts_with("2999-06-01T12:00:00")
    );

    // Filter.
    for (body, n) in [
        (None, 1),
        (Some(json!({})), 1),
        (
            Some(json!({ "service_accounts": { "name": { "like_": "API" } } })),
            1,
        ),
        (
            Some(json!({ "service_accounts": { "name": { "any_": ["nope"] } } })),
            0,
        ),
        (
            Some(json!({ "service_accounts": { "id": { "any_": [id] } } })),
            1,
        ),
        (Some(json!({ "limit": 0 })), 0),
        (Some(json!({ "offset": 1 })), 0),
    ] {
        let (status, list) = api(
            &app,
            Some(&owner),
            Method::POST,
            &format!("{}/filter", bots(&acct)),
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body:?}: {list}");
        assert_eq!(list.as_array().map(Vec::len), Some(n), "{body:?}");
        for item in list.as_array().expect("list") {
            check_schema(item, "BotReadResponse");
        }
    }

    // Update: rename, 204.
    let (status, _) = api(
        &app,
        Some(&owner),
        Method::PATCH,
        &format!("{}/{id}", bots(&acct)),
        Some(json!({ "name": "renamed-bot" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, read) = api_get(&app, &owner, &format!("{}/{id}", bots(&acct))).await;
    assert_eq!(read["name"], "renamed-bot");

    // Rotate with an overlap: the old key keeps working; the keys list shows both.
    let (status, rotated) = api(
        &app,
        Some(&owner),
        Method::POST,
        &format!("{}/{id}/rotate_api_key", bots(&acct)),
        Some(json!({ "old_key_expires_in_seconds": 3600 })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    check_schema(&rotated, "BotCreateResponse");
    let key2 = rotated["api_key"]["key"].as_str().expect("key").to_string();
    assert_ne!(key, key2);
    assert_eq!(
        api_get(&app, &key, "/api/me/accounts").await.0,
        StatusCode::OK
    );
    let (status, keys) = api_get(
        &app,
        &owner,
        &format!("{}/{id}/read_bot_api_keys", bots(&acct)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    check_schema(&keys, "BotAPIKeyReadResponse");
    assert_eq!(keys["rotating_keys"].as_array().map(Vec::len), Some(1));
    // Rotate without a body: the current keys are deleted at once.
    let (status, rotated) = api(
        &app,
        Some(&owner),
        Method::POST,
        &format!("{}/{id}/rotate_api_key", bots(&acct)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key3 = rotated["api_key"]["key"].as_str().expect("key").to_string();
    for old in [&key, &key2] {
        assert_eq!(
            api_get(&app, old, "/api/me/accounts").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // A service account's key sees its own account as a Member.
    let (status, mine) = api_get(&app, &key3, "/api/me/accounts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine[0]["account_role_name"], "Member");
    let (status, _) = api(
        &app,
        Some(&key3),
        Method::POST,
        &format!("{}/filter", bots(&acct)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "read:bot");

    // Delete: 204, then 404 and the key is dead.
    let (status, _) = api(
        &app,
        Some(&owner),
        Method::DELETE,
        &format!("{}/{id}", bots(&acct)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api_get(&app, &owner, &format!("{}/{id}", bots(&acct)))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api_get(&app, &key3, "/api/me/accounts").await.0,
        StatusCode::UNAUTHORIZED
    );
    for action in [
        "atrium.service_account.created",
        "atrium.service_account.renamed",
        "atrium.service_account.deleted",
    ] {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND account_id = '{acct}'")),
            1,
            "{action}"
        );
    }
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.api_key.rotated' AND account_id = '{acct}'")),
        2
    );
}

#[tokio::test]
async fn each_bots_endpoint_answers_401_403_404_and_422() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let owner = create_user_key(&ana, "owner", "").await;
    create_sa(&ana, &acct, "ci-bot", None).await;
    let sa = sa_id(&app, "ci-bot");
    let mel = app.signup("mel@example.com", "mel", PW).await;
    add_member(&app, &acct, "mel", "member");
    let member = create_user_key(&mel, "mel", "").await;
    let out = app.signup("out@example.com", "out", PW).await;
    let outsider = create_user_key(&out, "out", "").await;
    let b = bots(&acct);
    let access = format!("/api/accounts/{acct}/workspaces/{ws}/bot_access");
    let ok_create = json!({ "name": "new-bot" });
    let grant = json!({ "bot_id": sa, "workspace_role_id": VIEWER });
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, format!("{b}/"), Some(ok_create.clone())),
        (Method::POST, format!("{b}/filter"), None),
        (Method::GET, format!("{b}/{sa}"), None),
        (
            Method::PATCH,
            format!("{b}/{sa}"),
            Some(json!({ "name": "x" })),
        ),
        (Method::DELETE, format!("{b}/{sa}"), None),
        (Method::POST, format!("{b}/{sa}/rotate_api_key"), None),
        (Method::GET, format!("{b}/{sa}/read_bot_api_keys"), None),
        (Method::POST, format!("{access}/"), Some(grant.clone())),
        (Method::POST, format!("{access}/filter"), None),
        (
            Method::GET,
            format!("{access}/{}", uuid::Uuid::new_v4()),
            None,
        ),
        (
            Method::DELETE,
            format!("{access}/{}", uuid::Uuid::new_v4()),
            None,
        ),
    ];
    let before = counts(&app);
    for (m, path, body) in &endpoints {
        // 401: no key, a wrong key, an expired one.
        for key in [None, Some("pnu_000000000000000000000000000000000000")] {
            let (status, detail) = api(&app, key, m.clone(), path, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path}");
            assert_eq!(
                detail,
                json!({ "detail": "Invalid authentication credentials" })
            );
        }
        // 404: someone outside the account.
        let (status, _) = api(&app, Some(&outsider), m.clone(), path, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "outsider {m} {path}");
    }
    // A Member reads bots but may not change them (403); the workspace does not exist for
    // a Member without a role there (404).
    let member_expect = [
        StatusCode::FORBIDDEN,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::FORBIDDEN,
        StatusCode::FORBIDDEN,
        StatusCode::FORBIDDEN,
        StatusCode::OK,
        StatusCode::NOT_FOUND,
        StatusCode::NOT_FOUND,
        StatusCode::NOT_FOUND,
        StatusCode::NOT_FOUND,
    ];
    for ((m, path, body), want) in endpoints.iter().zip(member_expect) {
        let (status, _) = api(&app, Some(&member), m.clone(), path, body.clone()).await;
        assert_eq!(status, want, "member {m} {path}");
    }
    // With a Viewer role the Member sees the workspace but not its service accounts (404);
    // with a role that sees them, changes are 403.
    grant_user(&app, &ws, "mel", VIEWER);
    for (m, path, body) in &endpoints[7..] {
        let (status, _) = api(&app, Some(&member), m.clone(), path, body.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "viewer {m} {path}");
    }
    let see = custom_role(
        &app,
        &acct,
        "Auditor",
        "viewer",
        &["see_workspace_service_accounts"],
    );
    set_sql(
        &app,
        &format!("UPDATE workspace_access SET role_id = '{see}'"),
    );
    let (status, _) = api(
        &app,
        Some(&member),
        Method::POST,
        &format!("{access}/"),
        Some(grant.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(
        &app,
        Some(&member),
        Method::POST,
        &format!("{access}/filter"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counts(&app).0, before.0, "nothing created");

    // 422: bad input, nothing changed.
    let other = create_org(&ana, "Other", "other").await;
    let other_role = custom_role(&app, &other, "Theirs", "viewer", &[]);
    let before = counts(&app);
    for (m, path, body, field) in [
        (Method::POST, format!("{b}/"), json!({ "name": "" }), "name"),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "CI-BOT" }),
            "name",
        ),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "x".repeat(101) }),
            "name",
        ),
        (Method::POST, format!("{b}/"), json!({}), "name"),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "ok", "extra": 1 }),
            "extra",
        ),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "ok", "api_key_expiration": "2001-01-01T00:00:00Z" }),
            "api_key_expiration",
        ),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "ok", "api_key_expiration": "soon" }),
            "api_key_expiration",
        ),
        (
            Method::POST,
            format!("{b}/"),
            json!({ "name": "ok", "account_role_id": "00000000-0000-4000-8000-0000000000a1" }),
            "account_role_id",
        ),
        (
            Method::PATCH,
            format!("{b}/{sa}"),
            json!({ "name": " " }),
            "name",
        ),
        (
            Method::PATCH,
            format!("{b}/{sa}"),
            json!({ "account_role_id": "00000000-0000-4000-8000-0000000000a2" }),
            "account_role_id",
        ),
        (
            Method::POST,
            format!("{b}/{sa}/rotate_api_key"),
            json!({ "old_key_expires_in_seconds": 172801 }),
            "old_key_expires_in_seconds",
        ),
        (
            Method::POST,
            format!("{b}/{sa}/rotate_api_key"),
            json!({ "api_key_expiration": "2001-01-01T00:00:00Z" }),
            "api_key_expiration",
        ),
        (
            Method::POST,
            format!("{b}/filter"),
            json!({ "limit": 201 }),
            "limit",
        ),
        (
            Method::POST,
            format!("{access}/"),
            json!({ "bot_id": sa, "workspace_role_id": uuid::Uuid::new_v4() }),
            "workspace_role_id",
        ),
        (
            Method::POST,
            format!("{access}/"),
            json!({ "bot_id": sa, "workspace_role_id": other_role }),
            "workspace_role_id",
        ),
        (
            Method::POST,
            format!("{access}/"),
            json!({ "bot_id": uuid::Uuid::new_v4(), "workspace_role_id": VIEWER }),
            "bot_id",
        ),
        (
            Method::POST,
            format!("{access}/"),
            json!([grant, { "bot_id": sa, "workspace_role_id": "nope" }]),
            "workspace_role_id",
        ),
    ] {
        let (status, err) = api(&app, Some(&owner), m.clone(), &path, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{m} {path} {body}: {err}"
        );
        let loc = &err["detail"][0]["loc"];
        assert_eq!(loc[0], "body", "{err}");
        assert_eq!(
            loc.as_array().and_then(|l| l.last()).cloned(),
            Some(json!(field)),
            "{m} {path} {body}: {err}"
        );
        assert!(err["detail"][0]["msg"].is_string());
    }
    assert_eq!(counts(&app), before, "nothing changed");
    // Malformed ids are 404.
    let (status, _) = api_get(&app, &owner, &format!("{b}/not-a-uuid")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bot_access_api_upserts_filters_reads_and_deletes_by_access_id() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let owner = create_user_key(&ana, "owner", "").await;
    let k1 = create_sa(&ana, &acct, "ci-bot", None).await;
    create_sa(&ana, &acct, "deploy-bot", None).await;
    let ci = sa_id(&app, "ci-bot");
    let deploy = sa_id(&app, "deploy-bot");
    let access = format!("/api/accounts/{acct}/workspaces/{ws}/bot_access");

    // One object in, one object out.
    let (status, one) = api(
        &app,
        Some(&owner),
        Method::POST,
        &format!("{access}/"),
        Some(json!({ "bot_id": ci, "workspace_role_id": VIEWER })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    check_schema(&one, "WorkspaceBotAccessResponse");
    assert_eq!(one["bot_name"], "ci-bot");
    assert_eq!(one["workspace_id"], ws.as_str());
    assert_eq!(
        api_get(&app, &k1, "/api/me/workspaces").await.1[0]["workspace_handle"],
        "prod"
    );
    // A list in, a list out; an existing access is changed.
    let (status, many) = api(
        &app,
        Some(&owner),
        Method::POST,
        &access,
        Some(json!([
            { "bot_id": ci, "workspace_role_id": DEVELOPER },
            { "bot_id": deploy, "workspace_role_id": VIEWER },
        ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{many}");
    assert_eq!(many.as_array().map(Vec::len), Some(2));
    for item in many.as_array().expect("list") {
        check_schema(item, "WorkspaceBotAccessResponse");
    }
    assert_eq!(many[0]["workspace_role_id"], DEVELOPER);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_bot_access"),
        2
    );

    // Filter and sort.
    for (body, names) in [
        (None, vec!["ci-bot", "deploy-bot"]),
        (
            Some(json!({ "sort": "BOT_NAME_DESC" })),
            vec!["deploy-bot", "ci-bot"],
        ),
        (
            Some(json!({ "workspace_accesses": { "workspace_role_id": { "any_": [VIEWER] } } })),
            vec!["deploy-bot"],
        ),
        (
            Some(json!({ "bots": { "name": { "like_": "CI" } } })),
            vec!["ci-bot"],
        ),
        (
            Some(json!({ "workspace_accesses": { "actor_id": { "any_": [deploy] } } })),
            vec!["deploy-bot"],
        ),
    ] {
        let (status, list) = api(
            &app,
            Some(&owner),
            Method::POST,
            &format!("{access}/filter"),
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body:?}");
        let got: Vec<&str> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|a| a["bot_name"].as_str())
            .collect();
        assert_eq!(got, names, "{body:?}");
    }

    // Read and delete by the access id (not the bot id).
    let access_id = one["id"].as_str().expect("id").to_string();
    let (status, read) = api_get(&app, &owner, &format!("{access}/{access_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["bot_id"], ci.as_str());
    let (status, _) = api(
        &app,
        Some(&owner),
        Method::DELETE,
        &format!("{access}/{ci}"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the bot id is not an access id"
    );
    let (status, _) = api(
        &app,
        Some(&owner),
        Method::DELETE,
        &format!("{access}/{access_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api_get(&app, &k1, "/api/me/workspaces").await.1, json!([]));
    assert_eq!(
        api_get(&app, &k1, &format!("/api/me/workspaces/{ws}/scopes"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    for (action, n) in [
        ("atrium.workspace_access.granted", 2),
        ("atrium.workspace_access.role_changed", 1),
        ("atrium.workspace_access.revoked", 1),
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}' AND resource_kind = 'service_account'"
            )),
            n,
            "{action}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_bots_endpoints() {
    let app = spawn_app().await;
    let r = reqwest::get(app.url("/api/openapi.json"))
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.expect("json");
    for path in [
        "/api/accounts/{account_id}/bots/",
        "/api/accounts/{account_id}/bots/filter",
        "/api/accounts/{account_id}/bots/{id}",
        "/api/accounts/{account_id}/bots/{id}/rotate_api_key",
        "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/",
        "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/filter",
        "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    for schema in [
        "BotCreate",
        "BotCreateResponse",
        "BotReadResponse",
        "WorkspaceBotAccessResponse",
        "BotRotateAPIKey",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

/// The reference document's schema `name` (required fields, types, formats), and no field
/// the schema does not define where it forbids others (`additionalProperties: false`).
fn check_schema(value: &Value, name: &str) {
    use crate::support::reference::{assert_matches_schema, schema};
    assert_matches_schema(value, name);
    let s = schema(name);
    if s["additionalProperties"] == json!(false) {
        for key in value.as_object().expect("an object").keys() {
            assert!(
                s["properties"].get(key).is_some(),
                "{name}: unexpected field {key}"
            );
        }
    }
}
