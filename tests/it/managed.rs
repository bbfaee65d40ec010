//! Managed Prefect servers (issue #22): a workspace without a server connected by hand
//! gets one Atrium starts itself (`servers::spawner`) — real `prefect server start`
//! processes, on the test's backend (a SQLite file, or a PostgreSQL database of its own).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::gateway::{developer_and_worker_run_a_flow, user_key};
use crate::members::{PW, create_org};
use crate::support::{Client, TestApp, prefect, spawn_app_with, ws_id};
use crate::workspaces::create_ws;

/// An app that starts managed servers with the test's `prefect` (no address allowed for
/// servers connected by hand).
async fn managed_app(change: impl FnOnce(&mut atrium::settings::Settings)) -> Option<TestApp> {
    let bin = prefect::prefect_bin()?;
    Some(
        spawn_app_with(move |s| {
            s.prefect_bin = Some(bin);
            change(s);
        })
        .await,
    )
}

async fn acme(app: &TestApp, handles: &[&str]) -> (Client, String, Vec<String>) {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account = create_org(&ana, "Acme", "acme").await;
    let mut ids = Vec::new();
    for h in handles {
        ids.push(ws_id(&create_ws(&ana, &account, h, h).await));
    }
    (ana, account, ids)
}

fn api(app: &TestApp, account: &str, ws: &str) -> String {
    format!("{}/api/accounts/{account}/workspaces/{ws}", app.base)
}

/// The managed row's state and pid.
fn row(app: &TestApp, ws: &str) -> (String, Option<i32>) {
    use atrium::db::schema::managed_servers as m;
    use diesel::prelude::*;
    m::table
        .find(ws)
        .select((m::state, m::pid))
        .first(&mut app.conn())
        .optional()
        .expect("managed row")
        .unwrap_or(("none".into(), None))
}

/// `prefect server start` processes whose `PREFECT_HOME` is under `dir`.
fn servers_under(dir: &std::path::Path) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    let needle = format!("PREFECT_HOME={}", dir.display());
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !cmd.contains("server start") || cmd.starts_with("bash") {
            continue;
        }
        let env = std::fs::read(p.path().join("environ")).unwrap_or_default();
        if String::from_utf8_lossy(&env)
            .split('\0')
            .any(|kv| kv.starts_with(&needle))
        {
            found.push(pid);
        }
    }
    found
}

/// A call through the gateway that may wait for a managed server to start (the spawner
/// waits up to two minutes).
async fn call(
    method: Method,
    url: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    crate::gateway::call_retrying(Duration::from_secs(180), method, url, key, body).await
}

/// Calls until the workspace answers 200 (a first call may wait for the start), bounded.
async fn until_ok(url: &str, key: &str) -> Duration {
    let started = Instant::now();
    loop {
        let (s, body) = call(
            Method::POST,
            &format!("{url}/flows/filter"),
            key,
            Some(json!({})),
        )
        .await;
        if s == StatusCode::OK {
            return started.elapsed();
        }
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the workspace's server did not come back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_new_workspace_runs_flows_without_anyone_starting_a_server() {
    let Some(bin) = prefect::prefect_bin() else {
        return;
    };
    let Some(app) = managed_app(|_| {}).await else {
        return;
    };
    let (ana, account, ids) = acme(&app, &["prod"]).await;
    developer_and_worker_run_a_flow(&app, &ana, &account, &ids[0], &bin).await;
    assert_eq!(row(&app, &ids[0]).0, "running");
    // The dashboard shows the workspace's work, read from its server.
    let dash = ana
        .get(&format!(
            "/account/{account}/workspace/{}/dashboard",
            ids[0]
        ))
        .await;
    assert_eq!(dash.status, StatusCode::OK);
    for said in ["Completed: 1", ">d1</a>", "demo-", "process", "1 worker"] {
        assert!(
            dash.text.contains(said),
            "{said:?} not on the dashboard: {}",
            dash.text
        );
    }
    assert_eq!(servers_under(app.dir.path()).len(), 1);
}

#[tokio::test]
async fn concurrent_first_calls_start_one_server_which_comes_back_after_kill_9() {
    let Some(app) = managed_app(|_| {}).await else {
        return;
    };
    let (ana, account, ids) = acme(&app, &["prod"]).await;
    let key = user_key(&app, "ana");
    let url = api(&app, &account, &ids[0]);
    // 20 first calls at once: one process, and every call answered.
    let calls = (0..20).map(|_| {
        let (url, key) = (url.clone(), key.clone());
        tokio::spawn(async move {
            call(
                Method::POST,
                &format!("{url}/flows/filter"),
                &key,
                Some(json!({})),
            )
            .await
        })
    });
    for c in futures_util::future::join_all(calls).await {
        let (s, body) = c.expect("call");
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let procs = servers_under(app.dir.path());
    assert_eq!(procs.len(), 1, "{procs:?}");
    assert_eq!(row(&app, &ids[0]).0, "running");

    // kill -9 of the Prefect server: the next calls succeed once it started again.
    std::process::Command::new("kill")
        .args(["-KILL", &procs[0].to_string()])
        .status()
        .expect("kill");
    until_ok(&url, &key).await;
    let again = servers_under(app.dir.path());
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(again, procs);

    // The delete section says what goes, as the server counts it (its data outlived the
    // kill).
    for body in [json!({ "name": "f1" }), json!({ "name": "f2" })] {
        let (s, _) = call(Method::POST, &format!("{url}/flows/"), &key, Some(body)).await;
        assert!(s.is_success());
    }
    let (s, _) = call(
        Method::POST,
        &format!("{url}/work_pools/"),
        &key,
        Some(json!({ "name": "p1", "type": "process" })),
    )
    .await;
    assert!(s.is_success());
    let fragment = ana
        .get(&format!(
            "/account/{account}/workspace/{}/settings/server/contents",
            ids[0]
        ))
        .await;
    assert_eq!(fragment.status, StatusCode::OK);
    for said in [
        "deleted with it",
        "2 flows",
        "0 deployments",
        "0 flow runs",
        "1 work pool",
        "0 blocks",
        "0 automations",
    ] {
        assert!(
            fragment.text.contains(said),
            "{said:?} not in {}",
            fragment.text
        );
    }

    // Deleting the workspace stops its server and deletes its data.
    let home = app.dir.path().join("prefect").join(&ids[0]);
    assert!(home.exists());
    let databases = || {
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM pg_database WHERE datname LIKE '%_ws_{}'",
            ids[0].replace('-', "").get(..24).unwrap_or_default()
        ))
    };
    let on_postgres = matches!(
        crate::support::backend(),
        atrium::settings::Backend::Postgres
    );
    if on_postgres {
        assert_eq!(databases(), 1, "no database of its own");
    }
    let r = crate::api_support::call(
        &app,
        Some(&key),
        Method::DELETE,
        &format!("/api/accounts/{account}/workspaces/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(!home.exists(), "its data is still there");
    assert!(servers_under(app.dir.path()).is_empty());
    if on_postgres {
        assert_eq!(databases(), 0, "its database is still there");
    }
}

#[tokio::test]
async fn idle_servers_stop_at_most_n_run_and_all_stop_with_atrium() {
    let Some(app) = managed_app(|s| {
        s.managed_idle = Duration::from_secs(6);
        s.managed_max_running = 1;
    })
    .await
    else {
        return;
    };
    let (ana, account, ids) = acme(&app, &["one", "two"]).await;
    let key = user_key(&app, "ana");
    until_ok(&api(&app, &account, &ids[0]), &key).await;
    assert_eq!(row(&app, &ids[0]).0, "running");
    // A second workspace: the least recently used server stops first (at most one runs).
    until_ok(&api(&app, &account, &ids[1]), &key).await;
    assert_eq!(row(&app, &ids[0]).0, "stopped");
    assert_eq!(row(&app, &ids[1]).0, "running");
    assert_eq!(servers_under(app.dir.path()).len(), 1);
    // Unused, it stops after the idle time.
    let deadline = Instant::now() + Duration::from_secs(60);
    while row(&app, &ids[1]).0 != "stopped" {
        assert!(Instant::now() < deadline, "the idle server was not stopped");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(servers_under(app.dir.path()).is_empty());
    // The dashboard says so, and does not start it.
    let dash = ana
        .get(&format!(
            "/account/{account}/workspace/{}/dashboard",
            ids[1]
        ))
        .await;
    assert!(
        dash.text.contains("Its Prefect server is stopped"),
        "{}",
        dash.text
    );
    assert_eq!(row(&app, &ids[1]).0, "stopped");
    // A call starts it again; stopping Atrium stops it.
    until_ok(&api(&app, &account, &ids[1]), &key).await;
    app.stop().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !servers_under(app.dir.path()).is_empty() || row(&app, &ids[1]).0 != "stopped" {
        assert!(
            Instant::now() < deadline,
            "a managed server outlived Atrium, or its row says {}",
            row(&app, &ids[1]).0
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn two_instances_start_a_workspaces_server_once_and_both_reach_it() {
    let Some(app) = managed_app(|_| {}).await else {
        return;
    };
    let (_ana, account, ids) = acme(&app, &["prod"]).await;
    let key = user_key(&app, "ana");
    let (b_base, _) = app.second_instance().await;
    let on_a = api(&app, &account, &ids[0]);
    let on_b = format!("{b_base}/api/accounts/{account}/workspaces/{}", ids[0]);
    let calls = (0..10).map(|i| {
        let url = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let key = key.clone();
        tokio::spawn(async move { until_ok(&url, &key).await })
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(servers_under(app.dir.path()).len(), 1);
    // Both reach the same server: what one creates, the other lists.
    let (s, _) = call(
        Method::POST,
        &format!("{on_a}/flows/"),
        &key,
        Some(json!({ "name": "made-on-a" })),
    )
    .await;
    assert!(s.is_success());
    let (s, flows) = call(
        Method::POST,
        &format!("{on_b}/flows/filter"),
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(flows.to_string().contains("made-on-a"), "{flows}");
}

#[tokio::test]
async fn a_transfer_keeps_the_server_and_its_flow_runs() {
    let Some(app) = managed_app(|_| {}).await else {
        return;
    };
    let (ana, acme, ids) = acme(&app, &["prod"]).await;
    let beta = create_org(&ana, "Beta", "beta").await;
    let key = user_key(&app, "ana");
    let url = api(&app, &acme, &ids[0]);
    let (s, flow) = call(
        Method::POST,
        &format!("{url}/flows/"),
        &key,
        Some(json!({ "name": "kept" })),
    )
    .await;
    assert!(s.is_success(), "{s} {flow}");
    let (s, run) = call(
        Method::POST,
        &format!("{url}/flow_runs/"),
        &key,
        Some(json!({ "flow_id": flow["id"], "name": "kept-run" })),
    )
    .await;
    assert!(s.is_success(), "{s} {run}");
    let run_id = run["id"].as_str().expect("a flow run").to_string();
    let r = crate::api_support::call(
        &app,
        Some(&key),
        Method::POST,
        &format!("/api/accounts/{acme}/workspaces/{}/transfer", ids[0]),
        Some(json!({ "to_account_id": beta })),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // The new path lists the same flow run; the old one is gone.
    let (s, runs) = call(
        Method::POST,
        &format!("{}/flow_runs/filter", api(&app, &beta, &ids[0])),
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    assert!(runs.to_string().contains(&run_id), "{runs}");
    let (s, _) = call(
        Method::POST,
        &format!("{url}/flow_runs/filter"),
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(servers_under(app.dir.path()).len(), 1);
}

/// Sets when the given flow runs ended, `days` ago, in the managed server's own database
/// (the test's stand-in for time passing: Prefect's vacuum deletes by `end_time`, and its
/// shortest retention is an hour).
fn age_runs(app: &TestApp, ws: &str, runs: &[String], days: i64) {
    use atrium::db::schema::managed_servers as m;
    use diesel::prelude::*;
    let database: String = m::table
        .find(ws)
        .select(m::database)
        .first(&mut app.conn())
        .expect("the managed row");
    let ended = (chrono::Utc::now() - chrono::TimeDelta::days(days))
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string();
    let ids = runs
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let n = match crate::support::backend() {
        atrium::settings::Backend::Sqlite => {
            let mut c = diesel::SqliteConnection::establish(&database).expect("the server's file");
            diesel::sql_query(format!(
                "UPDATE flow_run SET end_time = '{ended}' WHERE id IN ({ids})"
            ))
            .execute(&mut c)
            .expect("aged")
        }
        atrium::settings::Backend::Postgres => {
            let url = &app.settings.database_url;
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            let mut c =
                diesel::PgConnection::establish(&format!("{base}/{database}")).expect("its db");
            diesel::sql_query(format!(
                "UPDATE flow_run SET end_time = '{ended}+00' WHERE id IN ({ids})"
            ))
            .execute(&mut c)
            .expect("aged")
        }
    };
    assert_eq!(n, runs.len());
}

/// Flow runs (of a new flow) in the Completed state.
async fn completed_runs(url: &str, key: &str, names: &[&str]) -> Vec<String> {
    let (s, flow) = call(
        Method::POST,
        &format!("{url}/flows/"),
        key,
        Some(json!({ "name": "kept-or-not" })),
    )
    .await;
    assert!(s.is_success(), "{s} {flow}");
    let mut ids = Vec::new();
    for name in names {
        let (s, run) = call(
            Method::POST,
            &format!("{url}/flow_runs/"),
            key,
            Some(json!({ "flow_id": flow["id"], "name": name })),
        )
        .await;
        assert!(s.is_success(), "{s} {run}");
        let id = run["id"].as_str().expect("a flow run").to_string();
        let (s, v) = call(
            Method::POST,
            &format!("{url}/flow_runs/{id}/set_state"),
            key,
            Some(json!({ "state": { "type": "COMPLETED" }, "force": true })),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(id);
    }
    ids
}

/// The names of the flow runs the workspace's server holds.
async fn run_names(url: &str, key: &str) -> Vec<String> {
    let (s, runs) = call(
        Method::POST,
        &format!("{url}/flow_runs/filter"),
        key,
        Some(json!({ "sort": "NAME_ASC" })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{runs}");
    let mut names: Vec<String> = runs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    names.sort();
    names
}

/// Waits (bounded) until the server holds exactly `want`, asking every 3 s (a call resets
/// the server's quiet time, which a retention change waits for). The bound covers a
/// restart (stop, start, first vacuum) on a machine busy with the rest of the suite: a CI
/// run once took more than the 120 s this allowed before.
async fn until_runs(url: &str, key: &str, want: &[&str]) {
    let started = Instant::now();
    loop {
        let names = run_names(url, key).await;
        if names == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the server holds {names:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

#[tokio::test]
async fn flow_runs_past_the_accounts_retention_go_and_a_transfer_applies_the_destinations() {
    let Some(app) = managed_app(|s| {
        s.managed_vacuum_every = Duration::from_secs(2);
        s.managed_quiet = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let (ana, acme, ids) = acme(&app, &["prod"]).await;
    let ws = ids[0].clone();
    let beta = create_org(&ana, "Beta", "beta").await;
    let adam = app.signup("adam@example.com", "adam", PW).await;
    crate::members::add_member(&app, &acme, "adam", "admin");
    let key = user_key(&app, "ana");
    let url = api(&app, &acme, &ws);
    let runs = completed_runs(&url, &key, &["a-old", "b-week", "c-week", "d-new"]).await;
    age_runs(&app, &ws, &runs[..1], 40);
    age_runs(&app, &ws, &runs[1..3], 7);
    // Acme keeps flow runs for 90 days (the default): the server's vacuum (every second
    // here) keeps all four.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        run_names(&url, &key).await,
        ["a-old", "b-week", "c-week", "d-new"]
    );
    let server_page = format!("/account/{acme}/workspace/{ws}/settings/server");
    assert!(
        ana.get(&server_page)
            .await
            .text
            .contains("90 days after they end")
    );

    // Only Owners change it; an Admin's try changes nothing.
    let settings = format!("/account/{acme}/settings");
    let form = |days: &'static str| {
        [
            ("name", "Acme"),
            ("handle", "acme"),
            ("workspace_limit", ""),
            ("audit_retention_days", "365"),
            ("flow_run_retention_days", days),
        ]
    };
    let page = adam.get(&settings).await;
    assert!(
        page.text.contains("Keep flow runs for (days)"),
        "{}",
        page.text
    );
    let r = adam.post_form(&settings, &form("30")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text
            .contains("Only Owners change how long flow runs are kept.")
    );
    let r = ana.post_form(&settings, &form("0")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("id=\"flow_run_retention_days-error\""),
        "{}",
        r.text
    );
    assert_eq!(
        app.count(&format!(
            "SELECT CAST(flow_run_retention_days AS BIGINT) AS n FROM accounts WHERE id = '{acme}'"
        )),
        90
    );

    // The Owner sets 30 days: recorded, and the running server is restarted with it at a
    // quiet moment; the run that ended 40 days ago goes, the others stay.
    let r = ana.post_form(&settings, &form("30")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let payload = crate::support::text(
        &app,
        "SELECT payload AS t FROM audit_events WHERE action = 'atrium.account.updated' ORDER BY id DESC LIMIT 1",
    );
    let v: serde_json::Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(
        v["flow_run_retention_days"],
        json!({ "from": 90, "to": 30 })
    );
    until_runs(&url, &key, &["b-week", "c-week", "d-new"]).await;
    let r = crate::api_support::call(
        &app,
        Some(&key),
        Method::GET,
        &format!("/api/accounts/{acme}"),
        None,
    )
    .await;
    assert_eq!(r.body["run_retention_days"], 30, "{:?}", r.body);

    // Beta keeps flow runs for 1 day: the transfer preview counts the two runs of a week
    // ago, and after the transfer the server applies Beta's period.
    let beta_settings = format!("/account/{beta}/settings");
    let r = ana
        .post_form(
            &beta_settings,
            &[
                ("name", "Beta"),
                ("handle", "beta"),
                ("workspace_limit", ""),
                ("audit_retention_days", "365"),
                ("flow_run_retention_days", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let transfer = format!("/account/{acme}/workspace/{ws}/settings/transfer");
    let preview = ana.get(&format!("{transfer}/preview?target={beta}")).await;
    assert!(
        preview.text.contains(
            "2 flow runs ended more than 1 day ago: Beta keeps flow runs for 1 day, so they are removed after the transfer."
        ),
        "{}",
        preview.text
    );
    let r = ana
        .post_form(&transfer, &[("target", beta.as_str()), ("new_handle", "")])
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.text
    );
    let moved = api(&app, &beta, &ws);
    until_runs(&moved, &key, &["d-new"]).await;
    assert_eq!(servers_under(app.dir.path()).len(), 1);
}

/// Issue #22's first "done when", as a newcomer does it: the README's run command
/// (`scripts/run`, here running the binary this test build made instead of building a
/// release one) on a fresh data directory, then sign-up, a workspace, a key, the lines its
/// dashboard shows, a work pool, a deployment, a worker and a run that completes — nobody
/// starts a Prefect server. Killing Atrium ends its managed server too.
#[tokio::test]
async fn the_run_command_on_a_fresh_data_directory_runs_a_flow_end_to_end() {
    let Some(bin) = prefect::prefect_bin() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db = crate::support::TestDb::create(dir.path());
    let port = crate::binary::free_port();
    let mut cmd = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ATRIUM_") {
            cmd.env_remove(k);
        }
    }
    // The script finds (or installs) the pinned `prefect` itself: no ATRIUM_PREFECT_BIN.
    let child = cmd
        .env("ATRIUM_RUN_BIN", env!("CARGO_BIN_EXE_atrium"))
        .env("ATRIUM_DATA_DIR", &data)
        .env("ATRIUM_DATABASE_URL", &db.url)
        .env("ATRIUM_BIND", format!("127.0.0.1:{port}"))
        .env("ATRIUM_WORKERS", "1")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("scripts/run");
    let running = crate::binary::Running(child);
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !reqwest::get(format!("{base}/healthz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "Atrium did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ana = Client::new(&base);
    let r = ana
        .post_form(
            "/auth/signup",
            &[
                ("email", "ana@example.com"),
                ("handle", "ana"),
                ("first_name", "Ana"),
                ("last_name", ""),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.location().as_deref(), Some("/onboarding"), "{}", r.text);
    let key = crate::api_keys::create_user_key(&ana, "cli", "").await;
    let accounts: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/me/accounts"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("accounts")
        .json()
        .await
        .expect("json");
    let account = accounts[0]["account_id"]
        .as_str()
        .expect("the personal account")
        .to_string();
    let ws = ws_id(&create_ws(&ana, &account, "Prod", "prod").await);

    let user = prefect::User::new(&bin);
    user.follow(&crate::gateway::instructions(&ana, &account, &ws, &key).await)
        .await;
    user.prefect(&["work-pool", "create", "fresh", "--type", "process"])
        .await
        .ok();
    crate::gateway::deploy(&user, "d1", "fresh").await.ok();
    let mut worker = prefect::User::new(&bin);
    worker
        .env
        .push(("PREFECT_WORKER_QUERY_SECONDS".into(), "2".into()));
    worker
        .follow(&crate::gateway::instructions(&ana, &account, &ws, &key).await)
        .await;
    let working = worker.spawn(&["worker", "start", "--pool", "fresh"]);
    let run = user.prefect(&["deployment", "run", "hello/d1"]).await;
    run.ok();
    let run_id = crate::gateway::flow_run_id(&run);
    let url = format!("{base}/api/accounts/{account}/workspaces/{ws}");
    let state = crate::gateway::final_state(&url, &key, &run_id, &working).await;
    assert_eq!(state, "COMPLETED", "worker output:\n{}", working.output());
    drop(working);

    // The managed server's data is under the fresh data directory; it goes with Atrium.
    assert_eq!(servers_under(&data).len(), 1, "one managed server runs");
    drop(running);
    let gone = Instant::now();
    while !servers_under(&data).is_empty() {
        assert!(
            gone.elapsed() < Duration::from_secs(30),
            "the managed server outlived Atrium"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A restart (Workspace settings → Restart; a retention change does the same) lets the
/// calls in flight finish on the old server, and a call that arrives meanwhile waits for
/// the new one: every call of a client calling without pause answers 200, none is cut off
/// or refused as unreachable (before, a call arriving during the stop started a second
/// server beside the dying one, and its answer could be a 503).
#[tokio::test]
async fn calls_during_a_restart_wait_for_the_server_and_none_fails() {
    let Some(app) = managed_app(|_| {}).await else {
        return;
    };
    let (ana, acme, ids) = acme(&app, &["prod"]).await;
    let ws = ids[0].clone();
    let key = user_key(&app, "ana");
    let url = format!("{}/flows/filter", api(&app, &acme, &ws));
    // The first call starts the server.
    let (s, v) = call(Method::POST, &url, &key, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, before) = row(&app, &ws);

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (url, key, done) = (url.clone(), key.clone(), done.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let (s, v) = crate::gateway::call_within(
                        Duration::from_secs(180),
                        Method::POST,
                        &url,
                        &key,
                        Some(json!({})),
                    )
                    .await;
                    answers.push((s, v));
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server_page = format!("/account/{acme}/workspace/{ws}/settings/server");
    let r = ana.post_form(&format!("{server_page}/restart"), &[]).await;
    assert!(
        r.text.contains("The Prefect server was restarted."),
        "{}",
        r.text
    );
    // Calls go on for a moment against the new server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, std::sync::atomic::Ordering::Release);
    let mut n = 0;
    for c in callers {
        for (s, v) in c.await.expect("caller") {
            assert_eq!(s, StatusCode::OK, "a call during the restart: {v}");
            n += 1;
        }
    }
    assert!(n >= 3, "{n} calls");
    let (state, after) = row(&app, &ws);
    assert_eq!(state, "running");
    assert_ne!(before, after, "the server was restarted");
    assert_eq!(servers_under(app.dir.path()).len(), 1);
}

/// A call in flight holds its server: a client that sends its body slowly (here over 15
/// seconds, past the idle time and the stop's ten seconds of grace) is answered by the
/// server it started on, which is not stopped as idle under it; once the call is over, the
/// server stops as idle. (Before, the idle time counted from the call's start: the server
/// was stopped under the call, which was cut off when the stop's grace ran out.)
#[tokio::test]
async fn a_call_in_flight_keeps_its_server_from_stopping_as_idle() {
    let Some(app) = managed_app(|s| s.managed_idle = Duration::from_secs(2)).await else {
        return;
    };
    let (_ana, acme, ids) = acme(&app, &["prod"]).await;
    let ws = ids[0].clone();
    let key = user_key(&app, "ana");
    let url = format!("{}/flows/filter", api(&app, &acme, &ws));
    let (s, v) = call(Method::POST, &url, &key, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, pid) = row(&app, &ws);

    let chunks =
        futures_util::stream::iter(["{", "\"limit\"", ":", " 5", "}"]).then(|c| async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok::<_, std::io::Error>(c)
        });
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("the slow call");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(row(&app, &ws).1, pid, "the same server answered");
    // Then nothing uses it: it stops as idle.
    let started = Instant::now();
    while row(&app, &ws).0 != "stopped" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            row(&app, &ws)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
