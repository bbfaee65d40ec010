//! Changes made through the gateway, in the account's audit log (issue #21, point 4):
//! creating, changing and deleting deployments, work pools, work queues, blocks, variables,
//! automations, concurrency limits and webhooks — who (and with which key), what, which
//! object, and the server's answer's status. Run traffic (flow and task run states, logs,
//! events, worker heartbeats, reads through `…/filter`) is not recorded.

use super::Gateway;
use super::caller::Pass;
use crate::audit::Event;
use crate::authz::gateway::Gate;

/// The kinds of objects whose changes are recorded: the first path segment(s), and the
/// kind's name in event names.
const KINDS: &[(&str, &str)] = &[
    ("deployments", "deployment"),
    ("work_pools", "work_pool"),
    ("work_queues", "work_queue"),
    ("block_documents", "block"),
    ("block_types", "block"),
    ("block_schemas", "block"),
    ("variables", "variable"),
    ("automations", "automation"),
    ("concurrency_limits", "concurrency_limit"),
    ("v2/concurrency_limits", "concurrency_limit"),
    ("webhooks", "webhook"),
];

/// Every event name the gateway records (each is in `audit::catalog`).
pub const EVENTS: &[&str] = &[
    "prefect.deployment.created",
    "prefect.deployment.updated",
    "prefect.deployment.deleted",
    "prefect.deployment.changed",
    "prefect.work_pool.created",
    "prefect.work_pool.updated",
    "prefect.work_pool.deleted",
    "prefect.work_pool.changed",
    "prefect.work_queue.created",
    "prefect.work_queue.updated",
    "prefect.work_queue.deleted",
    "prefect.work_queue.changed",
    "prefect.block.created",
    "prefect.block.updated",
    "prefect.block.deleted",
    "prefect.block.changed",
    "prefect.variable.created",
    "prefect.variable.updated",
    "prefect.variable.deleted",
    "prefect.variable.changed",
    "prefect.automation.created",
    "prefect.automation.updated",
    "prefect.automation.deleted",
    "prefect.automation.changed",
    "prefect.concurrency_limit.created",
    "prefect.concurrency_limit.updated",
    "prefect.concurrency_limit.deleted",
    "prefect.concurrency_limit.changed",
    "prefect.webhook.created",
    "prefect.webhook.updated",
    "prefect.webhook.deleted",
    "prefect.webhook.changed",
];

/// A change about to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub event: &'static str,
    pub kind: &'static str,
    /// The object's id or name when the path names it.
    pub object: Option<String>,
}

/// Does an operation change something (its scope writes, manages, creates or deletes)?
fn changes(g: Gate) -> bool {
    match g {
        Gate::Scopes(scopes) => scopes.iter().any(|s| {
            ["write_", "manage_", "create_", "delete_", "update_"]
                .iter()
                .any(|p| s.starts_with(p))
        }),
        _ => false,
    }
}

/// The change `method` on `rest` makes, when it is one the audit log records (`g`: what
/// the operation needs, from the table).
pub fn change_of(method: &str, rest: &str, g: Gate) -> Option<Change> {
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return None;
    }
    let path = rest.trim_matches('/');
    // Worker heartbeats and polling are run traffic.
    if path.contains("/workers/") || path.ends_with("/get_scheduled_flow_runs") {
        return None;
    }
    let (prefix, kind) = KINDS
        .iter()
        .filter(|(p, _)| {
            path.strip_prefix(p)
                .is_some_and(|tail| tail.is_empty() || tail.starts_with('/'))
        })
        .max_by_key(|(p, _)| p.len())?;
    if !changes(g) {
        return None;
    }
    let tail: Vec<&str> = path[prefix.len()..]
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let verb = match (method, tail.len()) {
        ("POST", 0) => "created",
        ("PATCH" | "PUT", 1) => "updated",
        ("DELETE", 1) => "deleted",
        _ => "changed",
    };
    let event = format!("prefect.{kind}.{verb}");
    let event = EVENTS.iter().find(|e| **e == event)?;
    Some(Change {
        event,
        kind,
        object: tail.first().map(|s| s.to_string()),
    })
}

/// Operations whose body may ask for block documents' secret values.
pub fn may_read_secrets(method: &str, rest: &str) -> bool {
    method == "POST" && rest.trim_matches('/').starts_with("block_documents")
}

/// Does the body ask for secret values (`"include_secrets": true`)?
pub fn asks_for_secrets(method: &str, rest: &str, body: &[u8]) -> bool {
    if !may_read_secrets(method, rest) {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("include_secrets").and_then(|s| s.as_bool()))
        .unwrap_or(false)
}

/// Records a change with the server's answer.
pub async fn record(
    gw: &Gateway,
    pass: &Pass,
    change: &Change,
    rest: &str,
    status: u16,
    answer: &[u8],
    ip: String,
) {
    let answer: Option<serde_json::Value> = serde_json::from_slice(answer).ok();
    let field = |k: &str| {
        answer
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let object = change.object.clone().or_else(|| field("id"));
    let label = field("name").or_else(|| object.clone()).unwrap_or_default();
    let event = Event::new(
        change.event,
        pass.holder.audit_actor(),
        change.kind,
        object,
        label,
    )
    .account(pass.account_id.clone())
    .workspace(pass.workspace_id.clone())
    .ip(ip)
    .payload(serde_json::json!({
        "path": rest,
        "status": status,
        "key": { "id": pass.key_id, "name": pass.key_name },
    }));
    let written = crate::api::db(&gw.pool, move |c| Ok(event.record(c)?)).await;
    if let Err(e) = written {
        tracing::error!("gateway: could not record {}: {e}", change.event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_recorded_and_run_traffic_is_not() {
        let c =
            |m: &str, p: &str| change_of(m, p, crate::authz::gateway::gate(m, p)).map(|c| c.event);
        assert_eq!(
            c("POST", "deployments/"),
            Some("prefect.deployment.created")
        );
        assert_eq!(
            c("PATCH", "deployments/abc"),
            Some("prefect.deployment.updated")
        );
        assert_eq!(
            c("DELETE", "work_pools/demo"),
            Some("prefect.work_pool.deleted")
        );
        assert_eq!(c("POST", "work_pools/"), Some("prefect.work_pool.created"));
        assert_eq!(c("POST", "block_documents/"), Some("prefect.block.created"));
        assert_eq!(c("POST", "variables/"), Some("prefect.variable.created"));
        assert_eq!(c("POST", "deployments/filter"), None, "a read");
        assert_eq!(c("GET", "deployments/abc"), None);
        assert_eq!(c("POST", "flow_runs/x/set_state"), None, "run traffic");
        assert_eq!(c("POST", "logs/"), None);
        assert_eq!(c("POST", "work_pools/demo/workers/heartbeat"), None);
        assert_eq!(c("POST", "work_pools/demo/get_scheduled_flow_runs"), None);
        assert_eq!(c("POST", "deployments/abc/create_flow_run"), None, "a run");
    }

    #[test]
    fn secrets_asked_for_in_a_body_are_seen() {
        assert!(asks_for_secrets(
            "POST",
            "block_documents/filter",
            br#"{"include_secrets": true}"#
        ));
        assert!(!asks_for_secrets(
            "POST",
            "block_documents/filter",
            br#"{"include_secrets": false}"#
        ));
        assert!(!asks_for_secrets(
            "POST",
            "flows/filter",
            br#"{"include_secrets": true}"#
        ));
    }
}
