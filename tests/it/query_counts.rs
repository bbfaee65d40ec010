//! Pages and API calls that list things run no more SQL statements with many rows than with
//! a few (issue #8): measured with a handful of rows, then again after adding many
//! more with the seed helpers (`atrium::seed`). Timings are never asserted; statement
//! counts are, so an N+1 fails here on both backends.

use reqwest::StatusCode;

use crate::members::{PW, create_org, user_id};
use crate::support::{Client, TestApp, spawn_app_with};
use crate::workspaces::create_ws;

/// The most statements any of these requests may take, whatever the data.
const BOUND: u64 = 14;

/// Statements one GET costs: the fewest of three runs (a run can also pay for setting up a
/// new pooled connection, which is not the page's doing).
async fn cost(app: &TestApp, c: &Client, path: &str, headers: &[(&str, &str)]) -> u64 {
    let mut best = u64::MAX;
    for _ in 0..3 {
        let before = app.queries.get();
        let r = c.get_with(path, headers).await;
        let n = app.queries.get() - before;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        best = best.min(n);
    }
    best
}

struct Target {
    what: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
}

async fn costs(app: &TestApp, c: &Client, targets: &[Target]) -> Vec<u64> {
    let mut out = Vec::new();
    for t in targets {
        let headers: Vec<(&str, &str)> = t.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.push(cost(app, c, &t.path, &headers).await);
    }
    out
}

#[tokio::test]
async fn listing_pages_and_the_api_cost_no_more_statements_with_hundreds_of_rows_than_with_a_few() {
    // No mail sender polling in the background: every statement counted is the request's.
    let app = spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600)).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    let dash = create_ws(&ana, &acct, "Main", "main").await;
    let ws = dash.split('/').nth(4).expect("workspace id").to_string();
    let ana_id = user_id(&app, "ana");

    let key = {
        let mut c = app.conn();
        let few = atrium::seed::add_members(&mut c, &acct, 5, "few").expect("members");
        let ids: Vec<String> = few.into_iter().map(|(id, _)| id).collect();
        atrium::seed::add_accesses(&mut c, &ws, &ids).expect("accesses");
        let (bots, key) =
            atrium::seed::add_service_accounts(&mut c, &acct, &ana_id, 2, "few").expect("bots");
        atrium::seed::add_bot_accesses(&mut c, &[(ws.as_str(), bots[0].as_str())])
            .expect("bot access");
        key
    };

    let targets = [
        Target {
            what: "members page",
            path: format!("/account/{acct}/members"),
            headers: vec![],
        },
        Target {
            what: "filtered members table (htmx)",
            path: format!("/account/{acct}/members?q=lovelace"),
            headers: vec![
                ("HX-Request", "true".into()),
                ("HX-Target", "members-table".into()),
            ],
        },
        Target {
            what: "switcher",
            path: "/switcher".into(),
            headers: vec![("HX-Request", "true".into())],
        },
        Target {
            what: "filtered switcher",
            path: "/switcher?q=pipeline".into(),
            headers: vec![("HX-Request", "true".into())],
        },
        Target {
            what: "workspace members panel",
            path: format!("/account/{acct}/workspace/{ws}/settings/members"),
            headers: vec![],
        },
        Target {
            what: "dashboard",
            path: format!("/account/{acct}/workspace/{ws}/dashboard"),
            headers: vec![],
        },
        Target {
            what: "service accounts page",
            path: format!("/account/{acct}/service-accounts"),
            headers: vec![],
        },
        Target {
            what: "workspace service accounts panel",
            path: format!("/account/{acct}/workspace/{ws}/settings/service-accounts"),
            headers: vec![],
        },
        Target {
            what: "account workspaces page",
            path: format!("/account/{acct}/workspaces"),
            headers: vec![],
        },
        Target {
            what: "GET /api/me/workspaces (service account)",
            path: "/api/me/workspaces".into(),
            headers: vec![("Authorization", format!("Bearer {key}"))],
        },
    ];
    let small = costs(&app, &ana, &targets).await;

    {
        let mut c = app.conn();
        let many = atrium::seed::add_members(&mut c, &acct, 600, "many").expect("members");
        let ids: Vec<String> = many.into_iter().map(|(id, _)| id).take(300).collect();
        atrium::seed::add_accesses(&mut c, &ws, &ids).expect("accesses");
        let spaces =
            atrium::seed::add_workspaces(&mut c, &acct, &ana_id, 120, "many").expect("spaces");
        let (bots, _) =
            atrium::seed::add_service_accounts(&mut c, &acct, &ana_id, 80, "many").expect("bots");
        let first_bot = atrium::apikeys::authenticate(&mut c, &key)
            .expect("lookup")
            .and_then(|a| a.key.service_account_id)
            .expect("the first service account");
        let mut pairs: Vec<(&str, &str)> = spaces
            .iter()
            .take(60)
            .map(|w| (w.as_str(), first_bot.as_str()))
            .collect();
        pairs.extend(bots.iter().map(|b| (ws.as_str(), b.as_str())));
        atrium::seed::add_bot_accesses(&mut c, &pairs).expect("bot accesses");
    }
    let large = costs(&app, &ana, &targets).await;

    let mut failures = Vec::new();
    for ((t, a), b) in targets.iter().zip(&small).zip(&large) {
        // Never more with many rows (the workspace members panel takes one fewer: a large
        // account gets a field instead of a pick list).
        if b > a || *b > BOUND {
            failures.push(format!(
                "{}: {a} statements with few rows, {b} with many (bound {BOUND})",
                t.what
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The lists really grew, and pages still show at most one page of rows.
    let members = ana.get(&format!("/account/{acct}/members")).await;
    assert!(members.text.contains("606 members"), "member count shown");
    assert_eq!(members.text.matches("<td class=\"mono\">").count(), 50);
    let api = ana
        .get_with(
            "/api/me/workspaces",
            &[("Authorization", &format!("Bearer {key}"))],
        )
        .await;
    assert_eq!(api.text.matches("\"workspace_id\"").count(), 61);
}

/// Before a page does its own work it learns who is asking and what they may do (issue
/// #8's "authentication + permission part"): the session, then the user with their
/// accounts and roles in one statement, then — on a workspace page — the workspace with
/// the user's own role and its default role in one statement. The permission-denied page
/// (a Member opening the workspace members panel, which their Viewer default role does not
/// show) does nothing else; an account page reads nothing beyond the user's accounts.
#[tokio::test]
async fn a_signed_in_page_learns_who_asks_and_what_they_may_do_in_three_statements() {
    use crate::workspaces::{VIEWER, set_default_role};
    let (app, _ana, bo, acct, dash) = crate::who_cache::bo_views_anas_workspace().await;
    let panel = dash.replace("/dashboard", "/settings/members");

    // After a change to who may do what (here: the default role, set again), a page reads who
    // asks from the database; right after, SQLite serves the remembered answer
    // (`authn::who`) and PostgreSQL reads it again.
    let statements = |path: String, expect: StatusCode, change: bool| {
        let (app, bo, dash) = (&app, &bo, &dash);
        async move {
            let mut best = u64::MAX;
            for _ in 0..3 {
                if change {
                    set_default_role(app, dash, Some(VIEWER));
                }
                let before = app.queries.get();
                let r = bo.get(&path).await;
                best = best.min(app.queries.get() - before);
                assert_eq!(r.status, expect, "{path}: {}", r.text);
            }
            best
        }
    };
    assert_eq!(
        statements(panel.clone(), StatusCode::NOT_FOUND, true).await,
        3,
        "session, user with accounts, workspace with both roles"
    );
    let remembered = statements(panel.clone(), StatusCode::NOT_FOUND, false).await;
    match crate::support::backend() {
        atrium::settings::Backend::Sqlite => assert_eq!(remembered, 0, "remembered"),
        atrium::settings::Backend::Postgres => assert_eq!(remembered, 3, "read every time"),
    }
    // The account's own page reads what it lists; being let in costs two statements.
    let profile = statements("/profile".into(), StatusCode::OK, true).await;
    assert!(profile <= 3, "/profile took {profile}");

    // The two statements read by unique indexes: no scan, no materialised join, no sort
    // beyond the user's own handful of accounts.
    if !matches!(crate::support::backend(), atrium::settings::Backend::Sqlite) {
        return;
    }
    let (bo_id, ws) = (
        crate::members::user_id(&app, "bo"),
        crate::support::ws_id(&dash),
    );
    let mut c = app.conn();
    let statements = crate::members::statements_of(&mut c, |c| {
        let (_, accounts) = atrium::users::model::identity(c, &bo_id)
            .expect("identity")
            .expect("bo exists");
        assert_eq!(accounts.len(), 2, "personal account and Acme");
        let (_, own, default, _) =
            atrium::workspaces::model::find_with_roles(c, &acct, &ws, &bo_id)
                .expect("workspace")
                .expect("in the account");
        assert!(own.is_none());
        assert_eq!(default.map(|r| r.name), Some("Viewer".to_string()));
    });
    assert_eq!(statements.len(), 2, "{statements:?}");
    for sql in statements {
        let plan = crate::members::sqlite_plan(&mut c, &sql);
        // The workspace's row says whether a team of the user has a role on it: a
        // subquery of two index searches (`workspace_team_access`, `team_members`).
        assert!(
            plan.iter().all(|d| d.starts_with("SEARCH ")
                || d == "USE TEMP B-TREE FOR ORDER BY"
                || d.starts_with("CORRELATED SCALAR SUBQUERY")),
            "index searches only: {sql}\n{plan:#?}"
        );
    }
}
