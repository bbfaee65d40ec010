//! Isolation through the gateway (issue #21): two workspaces backed by two Prefect
//! servers. Workspace one gets objects of every kind; then every operation of the table is
//! called on workspace two with workspace one's ids and names, by a caller who holds every
//! scope on both. No answer shows anything of workspace one that the request did not
//! itself carry, a read of one of its objects by id or name finds nothing, and afterwards
//! all of workspace one's objects are still there.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use atrium::authz::gateway::{Gate, RULES};

use crate::gateway::{call, connect, gateway_app, user_key};
use crate::members::{PW, create_org};
use crate::support::{prefect, ws_id};
use crate::workspaces::create_ws;

/// What workspace one holds: (what a path parameter stands for, value) and the markers
/// that must never appear in an answer about workspace two.
struct Seeded {
    values: Vec<(&'static str, String)>,
    markers: Vec<String>,
    /// (path below the workspace that reads the object, expected status) afterwards.
    reads: Vec<String>,
}

impl Seeded {
    fn get(&self, what: &str) -> String {
        self.values
            .iter()
            .find(|(k, _)| *k == what)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "x".into())
    }
}

async fn post(api: &str, key: &str, path: &str, body: Value) -> Value {
    let (s, v) = call(Method::POST, &format!("{api}/{path}"), key, Some(body)).await;
    assert!(s.is_success(), "POST {path}: {s} {v}");
    v
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {v}"))
        .to_string()
}

/// Objects of every kind in workspace one, named with `token`.
async fn seed(api: &str, key: &str, token: &str) -> Seeded {
    let flow = post(
        api,
        key,
        "flows/",
        json!({ "name": format!("{token}-flow") }),
    )
    .await;
    let flow_id = id_of(&flow);
    let pool_name = format!("{token}-pool");
    post(
        api,
        key,
        "work_pools/",
        json!({ "name": pool_name, "type": "process" }),
    )
    .await;
    let queue_name = format!("{token}-queue");
    let queue = post(
        api,
        key,
        &format!("work_pools/{pool_name}/queues/"),
        json!({ "name": queue_name }),
    )
    .await;
    let deployment_name = format!("{token}-deployment");
    let deployment = post(
        api,
        key,
        "deployments/",
        json!({ "name": deployment_name, "flow_id": flow_id, "work_pool_name": pool_name,
                "description": format!("{token}-description") }),
    )
    .await;
    let deployment_id = id_of(&deployment);
    let run = post(
        api,
        key,
        &format!("deployments/{deployment_id}/create_flow_run"),
        json!({ "name": format!("{token}-run"), "tags": [format!("{token}-tag")] }),
    )
    .await;
    let run_id = id_of(&run);
    let task = post(
        api,
        key,
        "task_runs/",
        json!({ "flow_run_id": run_id, "task_key": format!("{token}-task"),
                "dynamic_key": "0", "name": format!("{token}-task-run") }),
    )
    .await;
    let var_name = format!("{token}_var");
    let variable = post(
        api,
        key,
        "variables/",
        json!({ "name": var_name, "value": format!("{token}-value") }),
    )
    .await;
    let tag = format!("{token}-tag");
    let limit_v1 = post(
        api,
        key,
        "concurrency_limits/",
        json!({ "tag": tag, "concurrency_limit": 3 }),
    )
    .await;
    let limit_name = format!("{token}-limit");
    let limit_v2 = post(
        api,
        key,
        "v2/concurrency_limits/",
        json!({ "name": limit_name, "limit": 2 }),
    )
    .await;
    let artifact_key = format!("{token}-artifact");
    let artifact = post(
        api,
        key,
        "artifacts/",
        json!({ "key": artifact_key, "data": format!("{token}-data"), "flow_run_id": run_id }),
    )
    .await;
    let (s, _) = call(
        Method::POST,
        &format!("{api}/logs/"),
        key,
        Some(
            json!([{ "name": "iso", "level": 20, "message": format!("{token}-log"),
                      "timestamp": chrono::Utc::now().to_rfc3339(), "flow_run_id": run_id }]),
        ),
    )
    .await;
    assert!(s.is_success(), "logs: {s}");
    // A secret block document (the server registers the `secret` block type at start).
    let (s, block_type) = call(
        Method::GET,
        &format!("{api}/block_types/slug/secret"),
        key,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{block_type}");
    let block_type_id = id_of(&block_type);
    let schemas = post(
        api,
        key,
        "block_schemas/filter",
        json!({ "block_schemas": { "block_type_id": { "any_": [block_type_id] } } }),
    )
    .await;
    let schema_id = id_of(&schemas[0]);
    let block_name = format!("{token}-block");
    let block = post(
        api,
        key,
        "block_documents/",
        json!({ "name": block_name, "data": { "value": format!("{token}-secret") },
                "block_schema_id": schema_id, "block_type_id": block_type_id }),
    )
    .await;
    let block_id = id_of(&block);
    let values = vec![
        ("flow", flow_id.clone()),
        ("flow_name", format!("{token}-flow")),
        ("deployment", deployment_id.clone()),
        ("deployment_name", deployment_name),
        ("flow_run", run_id.clone()),
        ("task_run", id_of(&task)),
        ("pool", pool_name.clone()),
        ("queue", id_of(&queue)),
        ("queue_name", queue_name),
        ("variable", id_of(&variable)),
        ("variable_name", var_name.clone()),
        ("limit_v1", id_of(&limit_v1)),
        ("tag", tag),
        ("limit_v2", id_of(&limit_v2)),
        ("limit_name", limit_name),
        ("artifact", id_of(&artifact)),
        ("artifact_key", artifact_key),
        ("block", block_id.clone()),
        ("block_name", block_name),
    ];
    let mut markers: Vec<String> = values.iter().map(|(_, v)| v.clone()).collect();
    markers.push(token.to_string());
    let reads = vec![
        format!("flows/{flow_id}"),
        format!("deployments/{deployment_id}"),
        format!("flow_runs/{run_id}"),
        format!("task_runs/{}", id_of(&task)),
        format!("work_pools/{pool_name}"),
        format!("variables/name/{var_name}"),
        format!("block_documents/{block_id}"),
        format!("artifacts/{}", id_of(&artifact)),
        format!("v2/concurrency_limits/{}", id_of(&limit_v2)),
    ];
    Seeded {
        values,
        markers,
        reads,
    }
}

/// Workspace one's value for a path parameter, chosen by the segment before it.
fn value_for(seeded: &Seeded, path: &str, index: usize) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let param = segs[index];
    let before = if index > 0 { segs[index - 1] } else { "" };
    let first = segs[0];
    let pick = match (param, before, first) {
        ("{work_pool_name}", _, _) => "pool",
        ("{name}", "work_pools", _) => "pool",
        ("{name}", "queues", _) => "queue_name",
        ("{name}", "name", "flows") => "flow_name",
        ("{name}", "name", "variables") => "variable_name",
        ("{name}", "name", "work_queues") => "queue_name",
        ("{flow_name}", _, _) => "flow_name",
        ("{deployment_name}", _, _) => "deployment_name",
        ("{block_document_name}", _, _) => "block_name",
        ("{tag}", _, _) => "tag",
        ("{id_or_name}", _, _) => "limit_name",
        ("{key}", _, "artifacts") => "artifact_key",
        ("{deployment_id}", _, _) => "deployment",
        ("{id}", _, "flows") => "flow",
        ("{id}", _, "deployments") => "deployment",
        ("{id}", _, "task_runs") => "task_run",
        ("{id}", _, "work_queues") => "queue",
        ("{id}", _, "variables") => "variable",
        ("{id}", _, "concurrency_limits") => "limit_v1",
        ("{id}", _, "v2") => "limit_v2",
        ("{id}", _, "artifacts") => "artifact",
        ("{id}", _, "block_documents") => "block",
        ("{slug}", _, _) => return "secret".into(),
        _ => "flow_run",
    };
    seeded.get(pick)
}

/// Sockets are not plain calls.
fn is_socket(path: &str) -> bool {
    matches!(
        path,
        "events/in" | "events/out" | "logs/out" | "task_runs/subscriptions/scheduled"
    ) || path.ends_with("workers/connect")
}

#[tokio::test]
async fn every_operation_on_one_workspace_sees_nothing_of_the_other() {
    let (Some(one_server), Some(two_server)) = (prefect::server(0).await, prefect::server(1).await)
    else {
        return;
    };
    let app = gateway_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account = create_org(&ana, "Acme", "acme").await;
    let one = ws_id(&create_ws(&ana, &account, "One", "one").await);
    let two = ws_id(&create_ws(&ana, &account, "Two", "two").await);
    connect(&ana, &account, &one, one_server).await;
    connect(&ana, &account, &two, two_server).await;
    let key = user_key(&app, "ana");
    let api_one = format!("{}/api/accounts/{account}/workspaces/{one}", app.base);
    let api_two = format!("{}/api/accounts/{account}/workspaces/{two}", app.base);
    let token = format!("iso{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let seeded = seed(&api_one, &key, &token).await;

    let mut walked = 0;
    let mut problems = Vec::new();
    for rule in RULES {
        if !matches!(rule.gate, Gate::Scopes(_)) || is_socket(rule.path) {
            continue;
        }
        let path: String = {
            let segs: Vec<&str> = rule.path.split('/').collect();
            segs.iter()
                .enumerate()
                .map(|(i, s)| {
                    if s.starts_with('{') {
                        value_for(&seeded, rule.path, i)
                    } else {
                        s.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        };
        let method = Method::from_bytes(rule.method.as_bytes()).expect("method");
        // Bodies name workspace one's objects only: a bulk delete or a filter on
        // workspace two must find none of them (and touches nothing else on its server,
        // which other tests share).
        let body = matches!(rule.method, "POST" | "PUT" | "PATCH").then(|| {
            json!({
                "flows": { "id": { "any_": [seeded.get("flow")] } },
                "flow_runs": { "id": { "any_": [seeded.get("flow_run")] } },
                "task_runs": { "id": { "any_": [seeded.get("task_run")] } },
                "deployments": { "id": { "any_": [seeded.get("deployment")] } },
                "work_pools": { "name": { "any_": [seeded.get("pool")] } },
                "limit": 5,
            })
        });
        let (status, answer) = call(
            method,
            &format!("{api_two}/{path}?include_secrets=true"),
            &key,
            body.clone(),
        )
        .await;
        walked += 1;
        let text = answer.to_string();
        // What the request itself carried may come back (servers echo a refused body).
        let sent = format!(
            "{path} {}",
            body.as_ref().map(|b| b.to_string()).unwrap_or_default()
        );
        for m in &seeded.markers {
            if text.contains(m.as_str()) && !sent.contains(m.as_str()) {
                problems.push(format!(
                    "{} {path}: {status} shows {m}: {text}",
                    rule.method
                ));
            }
        }
        for auth in [&one_server.auth, &two_server.auth] {
            if text.contains(auth.as_str()) {
                problems.push(format!(
                    "{} {path}: shows a server's auth string",
                    rule.method
                ));
            }
        }
        // A read of one of workspace one's objects by its id or name finds nothing.
        if rule.method == "GET"
            && seeded.reads.iter().any(|r| {
                r.split('/').count() == path.split('/').count()
                    && r.split('/').next() == path.split('/').next()
                    && *r == path
            })
            && status != StatusCode::NOT_FOUND
        {
            problems.push(format!("GET {path}: {status} (expected 404): {text}"));
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE {
            problems.push(format!("{} {path}: {status} {text}", rule.method));
        }
    }
    assert!(walked > 250, "only {walked} operations walked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Workspace one's objects are all still there.
    for read in &seeded.reads {
        let (s, v) = call(Method::GET, &format!("{api_one}/{read}"), &key, None).await;
        assert_eq!(s, StatusCode::OK, "{read}: {v}");
    }
}
