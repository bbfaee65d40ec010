//! The workspace gateway (issue #21) with real parts: `prefect server start` processes on
//! loopback with an auth string (`support::prefect`), the real `prefect` CLI, the SDK's
//! `deploy`, and a real process worker — everything through Atrium only.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_support::{
    DEVELOPER_ROLE, RUNNER_ROLE, VIEWER_ROLE, WORKER_ROLE, bot, events, grant, grant_bot,
};
use crate::members::{PW, add_member, create_org};
use crate::support::prefect::{self, PrefectServer, User};
use crate::support::{Client, TestApp, spawn_app_with};
use crate::workspaces::create_ws;

/// An app that may connect Prefect servers on 127.0.0.1.
pub async fn gateway_app() -> TestApp {
    spawn_app_with(|s| {
        s.prefect_server_allow = atrium::egress::Egress::parse("127.0.0.1").expect("allow");
    })
    .await
}

/// Account `acme` (Ana, Owner) with workspace `prod` connected to `server`:
/// (Ana's client, account id, workspace id).
pub async fn acme_with_server(
    app: &TestApp,
    server: &PrefectServer,
    ws_handle: &str,
) -> (Client, String, String) {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account = create_org(&ana, "Acme", "acme").await;
    let ws = crate::support::ws_id(&create_ws(&ana, &account, "Production", ws_handle).await);
    connect(&ana, &account, &ws, server).await;
    (ana, account, ws)
}

/// Connects the workspace through its settings page.
pub async fn connect(c: &Client, account: &str, ws: &str, server: &PrefectServer) {
    let r = c
        .post_form(
            &format!("/account/{account}/workspace/{ws}/settings/server"),
            &[("url", &server.url), ("auth_string", &server.auth)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Connected to Prefect 3.9.1"), "{}", r.text);
}

pub fn user_key(app: &TestApp, handle: &str) -> String {
    let uid = crate::members::user_id(app, handle);
    let (_, plain) =
        atrium::apikeys::model::create_user_key(&mut app.conn(), &uid, "cli", None).expect("key");
    plain
}

/// What the workspace's dashboard tells a client to run, for `key` (in place of the
/// placeholder), one command per line.
pub async fn instructions(c: &Client, account: &str, ws: &str, key: &str) -> Vec<String> {
    let page = c
        .get(&format!("/account/{account}/workspace/{ws}/dashboard"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    ["cloud-url", "login-command"]
        .iter()
        .map(|id| {
            // `<pre class="code" id="…" …>`: its text starts after the tag.
            let open = format!("<pre class=\"code\" id=\"{id}\"");
            let tag = page
                .text
                .find(&open)
                .unwrap_or_else(|| panic!("no #{id} on the dashboard"));
            let start = tag + page.text[tag..].find('>').expect("the tag ends") + 1;
            let end = start + page.text[start..].find("</pre>").expect("</pre>");
            unescape(&page.text[start..end]).replace("<your API key>", key)
        })
        .collect()
}

/// The text of escaped HTML (what askama escapes).
fn unescape(s: &str) -> String {
    [
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(s.to_string(), |acc, (from, to)| acc.replace(from, to))
}

/// The workspace's API URL.
fn api(app: &TestApp, account: &str, ws: &str) -> String {
    format!("{}/api/accounts/{account}/workspaces/{ws}", app.base)
}

/// A call through the gateway with a key: (status, JSON body or Null); Prefect's own
/// retryable 503s are retried as the real client does ([`call_retrying`]).
pub async fn call(
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    // Generous: on a loaded machine (Prefect servers starting beside) a call can be slow,
    // and a hang is all this bound is for.
    call_retrying(Duration::from_secs(90), method, url, key, body).await
}

/// [`call_within`] as the real client makes it: Prefect's server answers 503
/// `{"exception_message": "Service Unavailable"}` for errors a client should retry (SQLite
/// busy while its own services write, on a loaded machine), and the `prefect` client does
/// retry those: so does this, a few times. Atrium's own 503s (`{"detail": …}`) are answers.
pub async fn call_retrying(
    within: Duration,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    for _ in 0..5 {
        let (s, v) = call_within(within, method.clone(), url, key, body.clone()).await;
        if s != StatusCode::SERVICE_UNAVAILABLE || v.get("exception_message").is_none() {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    call_within(within, method, url, key, body).await
}

/// [`call`] with its own bound (a first call to a managed server waits for its start).
pub async fn call_within(
    within: Duration,
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let c = reqwest::Client::builder()
        .timeout(within)
        .build()
        .expect("client");
    let mut rb = c.request(method, url).bearer_auth(key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("gateway call {url}: {e}"));
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const FLOW: &str = r#"
from prefect import flow, task, get_run_logger

@task
def add(x: int, y: int) -> int:
    return x + y

@flow
def hello(n: int = 1):
    total = add(n, 2)
    get_run_logger().info("hello from atrium %s", total)
    return total
"#;

/// Deploys `hello` from a local file to pool `pool` as `hello/<name>` (the SDK's
/// `flow.from_source(...).deploy`).
pub async fn deploy(user: &User, name: &str, pool: &str) -> prefect::Run {
    let dir = user.home.path().join(format!("flows-{name}"));
    std::fs::create_dir_all(&dir).expect("flow dir");
    std::fs::write(dir.join("flow.py"), FLOW).expect("flow file");
    let code = format!(
        "from prefect import flow\n\
         flow.from_source(source={dir:?}, entrypoint='flow.py:hello').deploy(name={name:?}, work_pool_name={pool:?}, print_next_steps=False)\n",
        dir = dir.display().to_string()
    );
    user.python(&code).await
}

/// The flow run id printed by `prefect deployment run`.
pub fn flow_run_id(run: &prefect::Run) -> String {
    let text = run.text();
    text.split_whitespace()
        .find(|w| {
            uuid::Uuid::parse_str(w.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-'))
                .is_ok()
        })
        .map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '-')
                .to_string()
        })
        .unwrap_or_else(|| panic!("no flow run id in {}", run.describe()))
}

/// Waits (bounded) for the flow run to reach a final state; answers its state type.
pub async fn final_state(
    url: &str,
    key: &str,
    run_id: &str,
    worker: &prefect::Background,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let (s, body) = call(
            reqwest::Method::GET,
            &format!("{url}/flow_runs/{run_id}"),
            key,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let state = body["state_type"].as_str().unwrap_or("").to_string();
        if ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].contains(&state.as_str()) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "the flow run is still {state}; worker output:\n{}",
            worker.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_developer_and_a_worker_run_a_flow_through_atrium_only() {
    let Some(server) = prefect::server(0).await else {
        return;
    };
    let Some(bin) = prefect::prefect_bin() else {
        return;
    };
    let app = gateway_app().await;
    let (ana, account, ws) = acme_with_server(&app, server, "prod").await;
    // The server itself refuses anyone without its auth string.
    assert_eq!(server.status_of("POST", "/api/flows/filter", false), 401);
    developer_and_worker_run_a_flow(&app, &ana, &account, &ws, &bin).await;
}

/// Bo (a Developer) creates a work pool and deploys `hello` from a local file; a service
/// account whose role is Worker runs `prefect worker start`; `prefect deployment run` ends
/// Completed, with its logs and task runs; the changes are audited. Everyone follows only
/// what the dashboard says.
pub async fn developer_and_worker_run_a_flow(
    app: &TestApp,
    _ana: &Client,
    account: &str,
    ws: &str,
    bin: &std::path::Path,
) {
    let (account, ws) = (account.to_string(), ws.to_string());
    app.signup("bo@example.com", "bo", PW).await;
    add_member(app, &account, "bo", "member");
    grant(app, &ws, "bo", DEVELOPER_ROLE);
    let bo_key = user_key(app, "bo");
    let (sa, worker_key) = bot(app, &account, "worker");
    grant_bot(app, &ws, &sa, WORKER_ROLE);
    let pool = format!("demo-{}", &ws[..8]);

    // Bo and the worker follow what the dashboard says, nothing else.
    let bo = User::new(bin);
    bo.follow(&instructions(_ana, &account, &ws, &bo_key).await)
        .await;
    bo.prefect(&["work-pool", "create", &pool, "--type", "process"])
        .await
        .ok();
    deploy(&bo, "d1", &pool).await.ok();

    let mut worker = User::new(bin);
    worker
        .env
        .push(("PREFECT_WORKER_QUERY_SECONDS".into(), "2".into()));
    worker
        .follow(&instructions(_ana, &account, &ws, &worker_key).await)
        .await;
    let running = worker.spawn(&["worker", "start", "--pool", &pool]);

    let run = bo.prefect(&["deployment", "run", "hello/d1"]).await;
    run.ok();
    let run_id = flow_run_id(&run);
    let url = api(app, &account, &ws);
    let state = final_state(&url, &bo_key, &run_id, &running).await;
    assert_eq!(state, "COMPLETED", "worker output:\n{}", running.output());

    // The flow run's own logs and its task runs arrive shortly after its final state (the
    // client ships them in batches; task runs travel only over `events/in`).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = bo.prefect(&["flow-run", "logs", &run_id]).await;
        logs.ok();
        if logs.text().contains("hello from atrium 3") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no flow log: {}",
            logs.describe()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    loop {
        let (s, tasks) = call(
            reqwest::Method::POST,
            &format!("{url}/task_runs/filter"),
            &bo_key,
            Some(json!({ "flow_runs": { "id": { "any_": [run_id] } } })),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let tasks = tasks.as_array().cloned().unwrap_or_default();
        if tasks.iter().any(|t| {
            t["name"].as_str().is_some_and(|n| n.starts_with("add"))
                && t["state_type"] == "COMPLETED"
        }) {
            break;
        }
        assert!(Instant::now() < deadline, "task runs: {tasks:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The links the CLI prints open pages in Atrium (the UI address derived from the API
    // URL): the flow run with its state and logs, its flow, the work pool.
    let base = format!("/account/{account}/workspace/{ws}");
    let page = _ana.get(&format!("{base}/runs/flow-run/{run_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Completed"), "{}", page.text);
    assert!(page.text.contains("hello from atrium 3"), "{}", page.text);
    let (_, run) = call(
        reqwest::Method::GET,
        &format!("{url}/flow_runs/{run_id}"),
        &bo_key,
        None,
    )
    .await;
    let flow_id = run["flow_id"].as_str().unwrap_or_default().to_string();
    let page = _ana.get(&format!("{base}/flows/flow/{flow_id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(">hello</h1>"), "{}", page.text);
    let page = _ana
        .get(&format!("{base}/work-pools/work-pool/{pool}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("process"), "{}", page.text);
    let page = _ana
        .get(&format!(
            "{base}/runs/flow-run/4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13"
        ))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.text);

    let ls = bo.prefect(&["task-run", "ls"]).await;
    ls.ok();
    assert!(ls.text().contains("add-"), "{}", ls.describe());
    assert!(ls.text().contains("COMPLETED"), "{}", ls.describe());
    // Neither the worker nor the flow run it started was refused anything (their
    // `events/out` subscriptions watch for cancellation).
    let out = running.output();
    for refused in ["Invalid token", "Missing workspace scope", "1008", " 403"] {
        assert!(
            !out.contains(refused),
            "{refused:?} in the worker's output:\n{out}"
        );
    }
    drop(running);

    // The changes are in the account's audit log; the run traffic is not.
    assert_eq!(events(app, "prefect.work_pool.created"), 1);
    assert_eq!(events(app, "prefect.deployment.created"), 1);
    assert_eq!(events(app, "prefect.flow_run.created"), 0);
}

#[tokio::test]
async fn viewers_list_runners_run_and_neither_deploys() {
    let Some(server) = prefect::server(1).await else {
        return;
    };
    let Some(bin) = prefect::prefect_bin() else {
        return;
    };
    let app = gateway_app().await;
    let (ana, account, ws) = acme_with_server(&app, server, "stage").await;
    let ana_key = user_key(&app, "ana");
    for (handle, role) in [("cy", VIEWER_ROLE), ("dee", RUNNER_ROLE)] {
        app.signup(&format!("{handle}@example.com"), handle, PW)
            .await;
        add_member(&app, &account, handle, "member");
        grant(&app, &ws, handle, role);
    }
    let pool = format!("scoped-{}", &ws[..8]);
    let owner = User::new(&bin);
    owner
        .follow(&instructions(&ana, &account, &ws, &ana_key).await)
        .await;
    owner
        .prefect(&["work-pool", "create", &pool, "--type", "process"])
        .await
        .ok();
    deploy(&owner, "d1", &pool).await.ok();

    // A Viewer lists flows, deployments and runs, and may not run a deployment.
    let cy = User::new(&bin);
    cy.follow(&instructions(&ana, &account, &ws, &user_key(&app, "cy")).await)
        .await;
    let flows = cy.prefect(&["flow", "ls"]).await;
    assert!(flows.ok().text().contains("hello"), "{}", flows.describe());
    let deployments = cy.prefect(&["deployment", "ls"]).await;
    assert!(
        deployments.ok().text().contains("hello/d1"),
        "{}",
        deployments.describe()
    );
    cy.prefect(&["flow-run", "ls"]).await.ok();
    let refused = cy.prefect(&["deployment", "run", "hello/d1"]).await;
    refused.failed();
    assert!(
        refused.text().contains("403") || refused.text().contains("run_deployments"),
        "{}",
        refused.describe()
    );

    // A Runner runs it, and may not deploy.
    let dee = User::new(&bin);
    dee.follow(&instructions(&ana, &account, &ws, &user_key(&app, "dee")).await)
        .await;
    let run = dee.prefect(&["deployment", "run", "hello/d1"]).await;
    let run_id = flow_run_id(run.ok());
    let (s, body) = call(
        reqwest::Method::GET,
        &format!("{}/flow_runs/{run_id}", api(&app, &account, &ws)),
        &ana_key,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let denied = deploy(&dee, "d2", &pool).await;
    denied.failed();
    assert!(
        denied.text().contains("Missing workspace scope"),
        "{}",
        denied.describe()
    );
    let (s, found) = call(
        reqwest::Method::POST,
        &format!("{}/deployments/filter", api(&app, &account, &ws)),
        &ana_key,
        Some(json!({ "deployments": { "name": { "any_": ["d2"] } } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(found, json!([]), "the Runner's deployment exists");
    // Only the Owner's changes are in the audit log.
    assert_eq!(events(&app, "prefect.deployment.created"), 1);
}

/// A flow run in the user's own process (no worker): the SDK sends its events over
/// `events/in`.
async fn run_locally(user: &User, n: u32) -> prefect::Run {
    user.python(&format!("{FLOW}\nprint('flow-run-result', hello({n}))\n"))
        .await
}

#[tokio::test]
async fn a_flow_runs_events_reach_a_subscriber_with_the_key_checked() {
    let Some(server) = prefect::server(0).await else {
        return;
    };
    let Some(bin) = prefect::prefect_bin() else {
        return;
    };
    let app = gateway_app().await;
    let (ana, account, ws) = acme_with_server(&app, server, "events").await;
    app.signup("cy@example.com", "cy", PW).await;
    add_member(&app, &account, "cy", "member");
    grant(&app, &ws, "cy", VIEWER_ROLE);
    let (sa, worker_key) = bot(&app, &account, "listener");
    grant_bot(&app, &ws, &sa, WORKER_ROLE);

    // Cy (a Viewer: `see_events`) subscribes with `prefect events stream`.
    let cy = User::new(&bin);
    cy.follow(&instructions(&ana, &account, &ws, &user_key(&app, "cy")).await)
        .await;
    let stream = cy.spawn(&["events", "stream", "--format", "json"]);
    // Ana runs the flow in her own process.
    let ana_user = User::new(&bin);
    let ana_key = user_key(&app, "ana");
    ana_user
        .follow(&instructions(&ana, &account, &ws, &ana_key).await)
        .await;
    // The subscription is open once Atrium relayed it (give the CLI time to start). The
    // deadline is generous: on a loaded two-core CI machine starting Python and running a
    // flow can each take tens of seconds, and the run under PostgreSQL once missed 60 s.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut ran = Vec::new();
    let run_id = loop {
        let run = run_locally(&ana_user, ran.len() as u32 + 1).await;
        run.ok();
        let (s, runs) = call(
            reqwest::Method::POST,
            &format!("{}/flow_runs/filter", api(&app, &account, &ws)),
            &ana_key,
            Some(json!({ "sort": "EXPECTED_START_TIME_DESC", "limit": 1 })),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let id = runs[0]["id"].as_str().expect("a flow run").to_string();
        ran.push(id.clone());
        let out = stream.output();
        if ran
            .iter()
            .any(|id| out.contains(id.as_str()) && out.contains("prefect.flow-run.Completed"))
        {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "no flow-run event reached the subscriber: {out}"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    let _ = run_id;
    // The task run travelled over `events/in` too. Prefect's server records task runs from
    // those events in a background consumer, which may still be behind the flow-run event
    // the subscriber saw (the PostgreSQL pass on a loaded CI machine found none at once):
    // asked again until it is there, every answer a 200.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (s, tasks) = call(
            reqwest::Method::POST,
            &format!("{}/task_runs/filter", api(&app, &account, &ws)),
            &ana_key,
            Some(json!({ "flow_runs": { "id": { "any_": ran } } })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{tasks}");
        if tasks
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["state_type"] == "COMPLETED"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no completed task run of {ran:?} after 120 s: {tasks}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    drop(stream);

    // A key without access to the workspace is refused on the same channel.
    app.signup("eve@example.com", "eve", PW).await;
    add_member(&app, &account, "eve", "member");
    let code = crate::gateway_access::refused_socket(
        &api(&app, &account, &ws),
        "events/out",
        &user_key(&app, "eve"),
    )
    .await;
    assert_eq!(code, Some(1008));
    let _ = worker_key;
}
