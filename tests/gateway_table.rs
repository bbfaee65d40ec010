//! The gateway's table (`src/authz/gateway.rs`) against Prefect Cloud's reference document
//! (`tests/fixtures/prefect-cloud-openapi.json`, a copy of `../shared/reference/`): every
//! workspace operation of the document is in the table under its own row (no other row
//! catches it), with the scopes the document names where it names them, and no two rows
//! stand for the same operation.

use std::collections::BTreeSet;

use atrium::authz::gateway::{Gate, RULES, rule_for};

const PREFIX: &str = "/api/accounts/{account_id}/workspaces/{workspace_id}/";

/// (method, path below the workspace, the scopes the description names, if it does).
fn reference_operations() -> Vec<(String, String, Option<Vec<String>>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/prefect-cloud-openapi.json"
    );
    let text = std::fs::read_to_string(path).expect("the reference document");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(rest) = path.strip_prefix(PREFIX) else {
            continue;
        };
        for (method, op) in item.as_object().expect("operations") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let description = op["description"].as_str().unwrap_or("");
            let scopes = description
                .split_once("Required workspace scopes:")
                .or_else(|| description.split_once("Required workspace scope:"))
                .map(|(_, after)| {
                    after
                        .lines()
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .map(|s| s.trim().trim_matches('`').to_string())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                });
            ops.push((method.to_uppercase(), rest.to_string(), scopes));
        }
    }
    ops
}

#[test]
fn every_workspace_operation_of_the_reference_is_mapped_or_refused() {
    let ops = reference_operations();
    assert_eq!(ops.len(), 320, "the reference's workspace operations");
    let mut wrong = Vec::new();
    for (method, rest, scopes) in &ops {
        // Fill the parameters with values, as a caller would.
        let concrete = rest
            .split('/')
            .map(|s| if s.starts_with('{') { "x-1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        match rule_for(method, &concrete) {
            None => wrong.push(format!("{method} {rest}: not in the table")),
            Some(r) if r.path.trim_end_matches('/') != rest.trim_end_matches('/') => {
                wrong.push(format!("{method} {rest}: caught by {}", r.path))
            }
            Some(r) => {
                if let (Some(named), Gate::Scopes(have)) = (scopes, r.gate) {
                    let have: BTreeSet<&str> = have.iter().copied().collect();
                    let named: BTreeSet<&str> = named.iter().map(String::as_str).collect();
                    if have != named {
                        wrong.push(format!(
                            "{method} {rest}: {have:?}, the reference says {named:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_rows_stand_for_the_same_operation() {
    let mut seen = BTreeSet::new();
    for r in RULES {
        let key = (r.method, r.path.trim_matches('/'));
        assert!(seen.insert(key), "{} {} twice", r.method, r.path);
    }
}

/// A row the table leaves to Atrium (`Gate::Atrium`: user, bot and team access) is an
/// operation of Atrium's own API document, with that method: the gateway's shortcut steps
/// aside for it and routing reaches Atrium's handler, not the workspace's server.
#[test]
fn atriums_own_operations_are_served_by_its_api() {
    let id = "7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11";
    let missing: Vec<String> = RULES
        .iter()
        .filter(|r| matches!(r.gate, Gate::Atrium))
        .filter(|r| {
            let rest = r
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { id } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let path = format!("/api/accounts/{id}/workspaces/{id}/{rest}");
            !atrium::api::openapi::documented_methods(&path)
                .is_some_and(|m| m.iter().any(|m| m == r.method))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        missing.is_empty(),
        "Gate::Atrium rows without an operation in /api/openapi.json: {missing:?}"
    );
}

#[test]
fn the_table_covers_what_the_real_client_worker_and_ui_call() {
    // From ../shared/reference/prefect-client-calls.md (CLI, SDK, worker, flow runs, UI).
    let calls = [
        ("GET", "collections/work_pool_types"),
        ("GET", "deployments/name/f/d"),
        ("POST", "deployments/x-1/create_flow_run"),
        ("POST", "flow_runs/filter"),
        ("GET", "flow_runs/x-1"),
        ("POST", "flows/filter"),
        ("GET", "flows/x-1"),
        ("POST", "logs/filter"),
        ("POST", "task_runs/filter"),
        ("POST", "work_pools/"),
        ("GET", "work_pools/demo"),
        ("GET", "events/in"),
        ("GET", "events/out"),
        ("GET", "logs/out"),
        ("DELETE", "automations/owned-by/prefect.deployment.x-1"),
        ("POST", "deployments/"),
        ("POST", "flows/"),
        ("POST", "work_pools/demo/workers/filter"),
        ("GET", "admin/storage"),
        ("POST", "flow_runs/"),
        ("POST", "flow_runs/x-1/set_state"),
        ("POST", "logs/"),
        ("GET", "deployments/x-1"),
        ("PATCH", "flow_runs/x-1"),
        ("PATCH", "flow_runs/x-1/labels"),
        ("POST", "work_pools/demo/get_scheduled_flow_runs"),
        ("POST", "work_pools/demo/queues/filter"),
        ("GET", "work_pools/demo/workers/connect"),
        ("GET", "work_queues/x-1"),
        ("GET", "admin/settings"),
        ("GET", "admin/version"),
        ("POST", "automations/filter"),
        ("POST", "block_documents/filter"),
        ("POST", "deployments/filter"),
        ("POST", "deployments/paginate"),
        ("POST", "events/count-by/event"),
        ("POST", "events/filter"),
        ("POST", "flow_runs/count"),
        ("POST", "flow_runs/paginate"),
        ("GET", "flow_runs/x-1/graph-v2"),
        ("POST", "flows/paginate"),
        ("GET", "health"),
        ("POST", "saved_searches/filter"),
        ("POST", "task_runs/count"),
        ("POST", "task_runs/paginate"),
        ("GET", "task_runs/x-1"),
        ("POST", "ui/flow_runs/count-task-runs"),
        ("POST", "ui/flow_runs/history"),
        ("POST", "work_pools/filter"),
        ("GET", "work_pools/demo/queues/default"),
        ("POST", "work_queues/filter"),
        ("GET", "csrf-token"),
    ];
    let missing: Vec<String> = calls
        .iter()
        .filter(|(m, p)| !matches!(rule_for(m, p).map(|r| r.gate), Some(Gate::Scopes(_))))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(missing.is_empty(), "not forwarded: {missing:?}");
}
