//! The workspace gateway's table (issue #21): for every operation under
//! `/api/accounts/{account_id}/workspaces/{workspace_id}/<rest>`, what it needs — served by
//! Atrium itself, refused, or forwarded to the workspace's Prefect server for a caller who
//! holds the listed workspace scopes. Pure data and matching: no I/O, no web.
//!
//! Where the rows come from: the 227 operations of Prefect Cloud's reference document
//! (`tests/fixtures/prefect-cloud-openapi.json`) that say "Required workspace scopes: …"
//! carry those scopes as written. The 93 that say nothing follow the catalog's rule —
//! reading an object's kind needs its `see_` scope, changing it its `write_` or `manage_`
//! scope: events, resources and their filters `see_events` (hiding resources
//! `manage_events`); automations, SLAs and template checks `see_automations` to read and
//! `manage_automations` to change; webhooks `see_webhooks` / `manage_webhooks`; assets
//! `see_assets` (deleting `manage_assets`, publishing or subscribing `write_assets`); event
//! publications and subscriptions their own `see_` / `manage_`; tags `see_tags` /
//! `manage_tags`; the UI's metrics `see_flows`; schema and configuration checks the `see_`
//! scope of the object they check; `hello` and `health` any access to the workspace.
//! Emitting events (`POST events`, the `events/in` socket) needs `run_flows`: task runs reach
//! the server only as events, so whoever runs flows must emit them (the Worker role holds
//! `run_flows`, not `manage_events`).
//!
//! The open-source server also answers paths the reference lacks that the real client,
//! worker and UI call (`../shared/reference/prefect-client-calls.md`): `admin/version`,
//! `csrf-token` (any access); `admin/storage` (`see_flows`, flow runs read it);
//! `admin/settings` (`see_workspace_settings`: it returns the server's whole configuration);
//! `collections/views/aggregate-worker-metadata` (`see_work_pools`); and the websockets
//! `events/out` (`see_events`), `logs/out` (`see_flows`), `work_pools/{name}/workers/connect`
//! (`write_workers`), `task_runs/subscriptions/scheduled` (`run_tasks`).
//!
//! Anything not in the table is refused (fail closed): [`gate`] answers
//! [`Gate::Refused`] with [`NOT_MAPPED`].

/// What an operation through the gateway needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Atrium serves it itself (its own handlers; never forwarded).
    Atrium,
    /// Forwarded to the workspace's Prefect server for a caller holding every listed scope
    /// (none listed: any access to the workspace).
    Scopes(&'static [&'static str]),
    /// Not served, with the reason.
    Refused(&'static str),
}

/// One operation: method, path template below the workspace (`{name}` matches one segment;
/// a trailing slash does not count), and what it needs.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub gate: Gate,
}

const fn rule(method: &'static str, path: &'static str, gate: Gate) -> Rule {
    Rule { method, path, gate }
}

/// The reason an operation outside the table is refused.
pub const NOT_MAPPED: &str = "This operation is not available through Atrium.";

/// Every operation the gateway knows, in one table.
pub const RULES: &[Rule] = &[
    rule(
        "GET",
        "settings",
        Gate::Refused("workspace settings are Atrium's own pages and API"),
    ),
    rule(
        "PATCH",
        "settings",
        Gate::Refused("workspace settings are Atrium's own pages and API"),
    ),
    rule("POST", "user_access/", Gate::Atrium),
    rule("POST", "user_access/filter", Gate::Atrium),
    rule("GET", "user_access/{id}", Gate::Atrium),
    rule("DELETE", "user_access/{id}", Gate::Atrium),
    rule("POST", "bot_access/", Gate::Atrium),
    rule("POST", "bot_access/filter", Gate::Atrium),
    rule("GET", "bot_access/{id}", Gate::Atrium),
    rule("DELETE", "bot_access/{id}", Gate::Atrium),
    rule("PUT", "team_access/", Gate::Atrium),
    rule("POST", "team_access/filter", Gate::Atrium),
    rule("DELETE", "team_access/{team_id}", Gate::Atrium),
    rule(
        "GET",
        "access/",
        Gate::Refused(
            "Atrium answers who has access through user_access, bot_access and team_access",
        ),
    ),
    rule("POST", "logs/", Gate::Scopes(&["run_flows"])),
    rule("POST", "logs/filter", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "logs/ai/flow_run_logs/{flow_run_id}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "flow_runs/{id}/logs", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "flow_runs/{id}/download-logs-csv",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "flow_runs/{id}/logs/download",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "traces/{trace_id}/observed-loggers",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "observed-loggers", Gate::Scopes(&["see_flows"])),
    rule("POST", "artifacts/", Gate::Scopes(&["write_artifacts"])),
    rule("GET", "artifacts/{id}", Gate::Scopes(&["see_artifacts"])),
    rule(
        "PATCH",
        "artifacts/{id}",
        Gate::Scopes(&["write_artifacts"]),
    ),
    rule(
        "DELETE",
        "artifacts/{id}",
        Gate::Scopes(&["manage_artifacts"]),
    ),
    rule(
        "GET",
        "artifacts/{key}/latest",
        Gate::Scopes(&["see_artifacts"]),
    ),
    rule("POST", "artifacts/filter", Gate::Scopes(&["see_artifacts"])),
    rule(
        "POST",
        "artifacts/latest/filter",
        Gate::Scopes(&["see_artifacts"]),
    ),
    rule("POST", "artifacts/count", Gate::Scopes(&["see_artifacts"])),
    rule(
        "POST",
        "artifacts/latest/count",
        Gate::Scopes(&["see_artifacts"]),
    ),
    rule(
        "GET",
        "collections/work_pool_types",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule("POST", "flows/", Gate::Scopes(&["run_flows"])),
    rule("PATCH", "flows/{id}", Gate::Scopes(&["run_flows"])),
    rule("GET", "flows/{id}", Gate::Scopes(&["see_flows"])),
    rule("DELETE", "flows/{id}", Gate::Scopes(&["manage_flows"])),
    rule("POST", "flows/count", Gate::Scopes(&["see_flows"])),
    rule("GET", "flows/name/{name}", Gate::Scopes(&["see_flows"])),
    rule("POST", "flows/filter", Gate::Scopes(&["see_flows"])),
    rule("POST", "flows/bulk_delete", Gate::Scopes(&["manage_flows"])),
    rule("POST", "flows/paginate", Gate::Scopes(&["see_flows"])),
    rule("POST", "flow_runs/", Gate::Scopes(&["run_flows"])),
    rule("POST", "flow_runs/filter", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "flow_runs/filter-minimal",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("PATCH", "flow_runs/{id}", Gate::Scopes(&["run_flows"])),
    rule("GET", "flow_runs/{id}", Gate::Scopes(&["see_flows"])),
    rule("DELETE", "flow_runs/{id}", Gate::Scopes(&["manage_flows"])),
    rule("POST", "flow_runs/count", Gate::Scopes(&["see_flows"])),
    rule("POST", "flow_runs/lateness", Gate::Scopes(&["see_flows"])),
    rule("POST", "flow_runs/history", Gate::Scopes(&["see_flows"])),
    rule("GET", "flow_runs/{id}/graph", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "flow_runs/{id}/graph-v2",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "flow_runs/{id}/artifacts",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "POST",
        "flow_runs/{id}/resume",
        Gate::Scopes(&["run_flows"]),
    ),
    rule(
        "POST",
        "flow_runs/bulk_delete",
        Gate::Scopes(&["manage_flows"]),
    ),
    rule(
        "POST",
        "flow_runs/bulk_set_state",
        Gate::Scopes(&["run_flows"]),
    ),
    rule(
        "POST",
        "flow_runs/{id}/set_state",
        Gate::Scopes(&["run_flows"]),
    ),
    rule("POST", "flow_runs/{id}/input", Gate::Scopes(&["run_flows"])),
    rule(
        "POST",
        "flow_runs/{id}/input/filter",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "flow_runs/{id}/input/{key}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "DELETE",
        "flow_runs/{id}/input/{key}",
        Gate::Scopes(&["manage_flows"]),
    ),
    rule("POST", "flow_runs/paginate", Gate::Scopes(&["see_flows"])),
    rule(
        "PATCH",
        "flow_runs/{id}/labels",
        Gate::Scopes(&["run_flows"]),
    ),
    rule(
        "GET",
        "flow_runs/{id}/assets/materializations",
        Gate::Scopes(&["see_assets"]),
    ),
    rule(
        "GET",
        "flow_runs/{id}/assets/references",
        Gate::Scopes(&["see_assets"]),
    ),
    rule("POST", "task_runs/filter", Gate::Scopes(&["see_flows"])),
    rule("DELETE", "task_runs/{id}", Gate::Scopes(&["manage_flows"])),
    rule("PATCH", "task_runs/{id}", Gate::Scopes(&["run_flows"])),
    rule("GET", "task_runs/{id}", Gate::Scopes(&["see_flows"])),
    rule("POST", "task_runs/", Gate::Scopes(&["run_flows"])),
    rule("POST", "task_runs/count", Gate::Scopes(&["see_flows"])),
    rule("POST", "task_runs/history", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "task_runs/{id}/artifacts",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "task_runs/{id}/assets/materializations",
        Gate::Scopes(&["see_assets"]),
    ),
    rule(
        "GET",
        "task_runs/{id}/assets/references",
        Gate::Scopes(&["see_assets"]),
    ),
    rule(
        "POST",
        "task_runs/{id}/set_state",
        Gate::Scopes(&["run_flows"]),
    ),
    rule("POST", "task_runs/paginate", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "task_workers/filter",
        Gate::Scopes(&["see_workers"]),
    ),
    rule("GET", "flow_run_states/{id}", Gate::Scopes(&["see_flows"])),
    rule("GET", "flow_run_states/", Gate::Scopes(&["see_flows"])),
    rule("GET", "task_run_states/{id}", Gate::Scopes(&["see_flows"])),
    rule("GET", "task_run_states/", Gate::Scopes(&["see_flows"])),
    rule("POST", "deployments/", Gate::Scopes(&["write_deployments"])),
    rule(
        "POST",
        "deployments/{id}/branch",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "PATCH",
        "deployments/{id}",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "GET",
        "deployments/{id}",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "DELETE",
        "deployments/{id}",
        Gate::Scopes(&["manage_deployments"]),
    ),
    rule(
        "GET",
        "deployments/name/{flow_name}/{deployment_name}",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/filter",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/paginate",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/get_scheduled_flow_runs",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/count",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/bulk_delete",
        Gate::Scopes(&["manage_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/schedule",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/resume_deployment",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/set_schedule_active",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/pause_deployment",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/set_schedule_inactive",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/create_flow_run",
        Gate::Scopes(&["run_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/create_flow_run/bulk",
        Gate::Scopes(&["run_deployments"]),
    ),
    rule(
        "GET",
        "deployments/{id}/access",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "PUT",
        "deployments/{id}/access",
        Gate::Scopes(&["manage_deployments"]),
    ),
    rule(
        "POST",
        "deployments/my-access",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "GET",
        "deployments/{id}/schedules",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/schedules",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "PATCH",
        "deployments/{id}/schedules/{schedule_id}",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "DELETE",
        "deployments/{id}/schedules/{schedule_id}",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/disable",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/enable",
        Gate::Scopes(&["write_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/versions/paginate",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "GET",
        "deployments/{id}/versions/{version_id}",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "DELETE",
        "deployments/{id}/versions/{version_id}",
        Gate::Scopes(&["manage_deployments"]),
    ),
    rule(
        "POST",
        "deployments/{id}/versions/{version_id}/promote",
        Gate::Scopes(&["manage_deployments"]),
    ),
    rule(
        "PUT",
        "saved_searches/",
        Gate::Scopes(&["manage_saved_search"]),
    ),
    rule("GET", "saved_searches/{id}", Gate::Scopes(&["see_flows"])),
    rule(
        "DELETE",
        "saved_searches/{id}",
        Gate::Scopes(&["manage_saved_search"]),
    ),
    rule(
        "POST",
        "saved_searches/filter",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("POST", "pins/", Gate::Scopes(&["see_flows"])),
    rule("POST", "pins/filter", Gate::Scopes(&["see_flows"])),
    rule("DELETE", "pins/{id}", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "concurrency_limits/",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "GET",
        "concurrency_limits/{id}",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "DELETE",
        "concurrency_limits/{id}",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "GET",
        "concurrency_limits/tag/{tag}",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "DELETE",
        "concurrency_limits/tag/{tag}",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "concurrency_limits/filter",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "POST",
        "concurrency_limits/tag/{tag}/reset",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "concurrency_limits/increment",
        Gate::Scopes(&["run_flows"]),
    ),
    rule(
        "POST",
        "concurrency_limits/decrement",
        Gate::Scopes(&["run_flows"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "GET",
        "v2/concurrency_limits/{id_or_name}",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "PATCH",
        "v2/concurrency_limits/{id_or_name}",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "DELETE",
        "v2/concurrency_limits/{id_or_name}",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/filter",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/paginate",
        Gate::Scopes(&["see_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/increment",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/increment-with-lease",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/decrement",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/decrement-with-lease",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule(
        "POST",
        "v2/concurrency_limits/leases/{lease_id}/renew",
        Gate::Scopes(&["manage_concurrency_limits"]),
    ),
    rule("POST", "block_types/", Gate::Scopes(&["manage_blocks"])),
    rule("GET", "block_types/{id}", Gate::Scopes(&["see_blocks"])),
    rule(
        "PATCH",
        "block_types/{id}",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule(
        "DELETE",
        "block_types/{id}",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule(
        "GET",
        "block_types/slug/{slug}",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule("POST", "block_types/filter", Gate::Scopes(&["see_blocks"])),
    rule(
        "GET",
        "block_types/slug/{slug}/block_documents",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule(
        "GET",
        "block_types/slug/{slug}/block_documents/name/{block_document_name}",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule(
        "POST",
        "block_types/install_system_block_types",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule("POST", "block_documents/", Gate::Scopes(&["manage_blocks"])),
    rule("PUT", "block_documents/", Gate::Scopes(&["manage_blocks"])),
    rule(
        "POST",
        "block_documents/filter",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule(
        "POST",
        "block_documents/count",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule("GET", "block_documents/{id}", Gate::Scopes(&["see_blocks"])),
    rule(
        "DELETE",
        "block_documents/{id}",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule(
        "PATCH",
        "block_documents/{id}",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule(
        "GET",
        "block_documents/{id}/access",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule(
        "PUT",
        "block_documents/{id}/access",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule(
        "POST",
        "block_documents/my-access",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule("POST", "variables/", Gate::Scopes(&["write_variables"])),
    rule("GET", "variables/{id}", Gate::Scopes(&["see_variables"])),
    rule(
        "PATCH",
        "variables/{id}",
        Gate::Scopes(&["write_variables"]),
    ),
    rule(
        "DELETE",
        "variables/{id}",
        Gate::Scopes(&["manage_variables"]),
    ),
    rule(
        "GET",
        "variables/name/{name}",
        Gate::Scopes(&["see_variables"]),
    ),
    rule(
        "PATCH",
        "variables/name/{name}",
        Gate::Scopes(&["write_variables"]),
    ),
    rule(
        "DELETE",
        "variables/name/{name}",
        Gate::Scopes(&["manage_variables"]),
    ),
    rule("POST", "variables/filter", Gate::Scopes(&["see_variables"])),
    rule("POST", "variables/count", Gate::Scopes(&["see_variables"])),
    rule("POST", "work_pools/", Gate::Scopes(&["write_work_pools"])),
    rule(
        "GET",
        "work_pools/{name}",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "PATCH",
        "work_pools/{name}",
        Gate::Scopes(&["write_work_pools"]),
    ),
    rule(
        "DELETE",
        "work_pools/{name}",
        Gate::Scopes(&["manage_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/filter",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/paginate",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/count",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/{name}/get_scheduled_flow_runs",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "GET",
        "work_pools/{name}/access",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "PUT",
        "work_pools/{name}/access",
        Gate::Scopes(&["manage_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/my-access",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/queues",
        Gate::Scopes(&["write_work_queues"]),
    ),
    rule(
        "GET",
        "work_pools/{work_pool_name}/queues/{name}",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "PATCH",
        "work_pools/{work_pool_name}/queues/{name}",
        Gate::Scopes(&["write_work_queues"]),
    ),
    rule(
        "DELETE",
        "work_pools/{work_pool_name}/queues/{name}",
        Gate::Scopes(&["manage_work_queues"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/queues/filter",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/queues/paginate",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/workers/heartbeat",
        Gate::Scopes(&["write_workers"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/workers/filter",
        Gate::Scopes(&["see_workers"]),
    ),
    rule(
        "POST",
        "work_pools/{work_pool_name}/workers/paginate",
        Gate::Scopes(&["see_workers"]),
    ),
    rule(
        "GET",
        "work_pools/{work_pool_name}/workers/{worker_id}",
        Gate::Scopes(&["see_workers"]),
    ),
    rule(
        "DELETE",
        "work_pools/{work_pool_name}/workers/{name}",
        Gate::Scopes(&["manage_workers"]),
    ),
    rule(
        "POST",
        "work_pools/{name}/concurrency_status",
        Gate::Scopes(&["see_work_queues", "see_work_pools"]),
    ),
    rule("POST", "work_queues/", Gate::Scopes(&["see_work_queues"])),
    rule(
        "PATCH",
        "work_queues/{id}",
        Gate::Scopes(&["write_work_queues"]),
    ),
    rule(
        "GET",
        "work_queues/{id}",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "DELETE",
        "work_queues/{id}",
        Gate::Scopes(&["manage_work_queues"]),
    ),
    rule(
        "GET",
        "work_queues/name/{name}",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_queues/{id}/get_runs",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_queues/filter",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_queues/paginate",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "GET",
        "work_queues/{id}/status",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule(
        "POST",
        "work_queues/{id}/concurrency_status",
        Gate::Scopes(&["see_work_queues"]),
    ),
    rule("POST", "block_schemas/", Gate::Scopes(&["manage_blocks"])),
    rule(
        "DELETE",
        "block_schemas/{id}",
        Gate::Scopes(&["manage_blocks"]),
    ),
    rule("GET", "block_schemas/{id}", Gate::Scopes(&["see_blocks"])),
    rule(
        "POST",
        "block_schemas/filter",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule(
        "GET",
        "block_schemas/checksum/{checksum}",
        Gate::Scopes(&["see_blocks"]),
    ),
    rule("GET", "block_capabilities/", Gate::Scopes(&["see_blocks"])),
    rule(
        "GET",
        "metrics/flow-runs/{flow_run_id}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "metrics/deployments/{deployment_id}/resource-peaks",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "GET",
        "metrics/flow-runs/{flow_run_id}/names",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "traces/{trace_id}", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "traces/{trace_id}/context/{span_id}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "traces/{trace_id}/observed-states",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "traces/{trace_id}/observed-tags",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "traces/{trace_id}/spans/{span_id}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "traces/{trace_id}/spans",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "spans/lookup/{run_id}", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "spans/{span_id}/observed-tags",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "observed-states", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "ui/flows/count-deployments",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("POST", "ui/flows/next-runs", Gate::Scopes(&["see_flows"])),
    rule("POST", "ui/flow_runs/history", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "ui/flow_runs/history-v2",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "POST",
        "ui/flow_runs/count-task-runs",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "POST",
        "ui/task_runs/dashboard/counts",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("POST", "ui/task_runs/count", Gate::Scopes(&["see_flows"])),
    rule(
        "POST",
        "ui/work_pools/count-flow-runs",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "GET",
        "managed_execution/details",
        Gate::Refused("managed execution is a Prefect Cloud service"),
    ),
    rule("POST", "transfer", Gate::Atrium),
    rule("POST", "validate_transfer", Gate::Atrium),
    rule(
        "POST",
        "invitations/",
        Gate::Refused("workspace invitations are Atrium's own (the Members panel)"),
    ),
    rule(
        "GET",
        "invitations/{id}",
        Gate::Refused("workspace invitations are Atrium's own (the Members panel)"),
    ),
    rule(
        "POST",
        "invitations/filter",
        Gate::Refused("workspace invitations are Atrium's own (the Members panel)"),
    ),
    rule(
        "POST",
        "invitations/{id}/revoke",
        Gate::Refused("workspace invitations are Atrium's own (the Members panel)"),
    ),
    rule("POST", "events", Gate::Scopes(&["run_flows"])),
    rule("POST", "events/filter", Gate::Scopes(&["see_events"])),
    rule("GET", "events/filter/next", Gate::Scopes(&["see_events"])),
    rule(
        "POST",
        "events/count-by/{countable}",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "GET",
        "flow_runs/{flow_run_id}/events",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "POST",
        "resources/hierarchy/filter",
        Gate::Scopes(&["see_events"]),
    ),
    rule("POST", "resources/filter", Gate::Scopes(&["see_events"])),
    rule(
        "GET",
        "resources/filter/next",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "POST",
        "resources/filter/count",
        Gate::Scopes(&["see_events"]),
    ),
    rule("POST", "resources/related", Gate::Scopes(&["see_events"])),
    rule(
        "GET",
        "resources/related/next",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "POST",
        "resources/related/count",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "GET",
        "resources/hidden-resources",
        Gate::Scopes(&["see_events"]),
    ),
    rule(
        "POST",
        "resources/hidden-resources/add",
        Gate::Scopes(&["manage_events"]),
    ),
    rule(
        "POST",
        "resources/hidden-resources/delete",
        Gate::Scopes(&["manage_events"]),
    ),
    rule(
        "POST",
        "automations/",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "PUT",
        "automations/{id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "PATCH",
        "automations/{id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "DELETE",
        "automations/{id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "GET",
        "automations/{id}",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "POST",
        "automations/filter",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "POST",
        "automations/count",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "GET",
        "automations/related-to/{resource_id}",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "DELETE",
        "automations/owned-by/{resource_id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "GET",
        "automations/managed/",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "PUT",
        "automations/managed/{automation_type}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "DELETE",
        "automations/managed/{automation_type}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "GET",
        "automations/managed/types",
        Gate::Scopes(&["see_automations"]),
    ),
    rule("POST", "slas/", Gate::Scopes(&["manage_automations"])),
    rule(
        "POST",
        "slas/apply-resource-slas/{resource_id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule("POST", "slas/filter", Gate::Scopes(&["see_automations"])),
    rule(
        "POST",
        "slas/by-owner/{owner_resource}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule("GET", "slas/{sla_id}", Gate::Scopes(&["see_automations"])),
    rule(
        "PATCH",
        "slas/{sla_id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "DELETE",
        "slas/{sla_id}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule("POST", "slas/flow-runs", Gate::Scopes(&["see_automations"])),
    rule(
        "POST",
        "slas/default",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule(
        "GET",
        "slas/default/list",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "GET",
        "slas/default/{sla_severity}",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "DELETE",
        "slas/default/{sla_severity}",
        Gate::Scopes(&["manage_automations"]),
    ),
    rule("POST", "webhooks/", Gate::Scopes(&["manage_webhooks"])),
    rule(
        "PUT",
        "webhooks/{webhook_id}",
        Gate::Scopes(&["manage_webhooks"]),
    ),
    rule(
        "PATCH",
        "webhooks/{webhook_id}",
        Gate::Scopes(&["manage_webhooks"]),
    ),
    rule(
        "DELETE",
        "webhooks/{webhook_id}",
        Gate::Scopes(&["manage_webhooks"]),
    ),
    rule(
        "GET",
        "webhooks/{webhook_id}",
        Gate::Scopes(&["see_webhooks"]),
    ),
    rule("POST", "webhooks/filter", Gate::Scopes(&["see_webhooks"])),
    rule(
        "POST",
        "webhooks/{webhook_id}/rotate",
        Gate::Scopes(&["manage_webhooks"]),
    ),
    rule(
        "POST",
        "templates/validate",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "POST",
        "automations/templates/validate",
        Gate::Scopes(&["see_automations"]),
    ),
    rule(
        "POST",
        "ui/metrics/prefect/{metric}/timeseries",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "POST",
        "ui/metrics/prefect/{metric}",
        Gate::Scopes(&["see_flows"]),
    ),
    rule(
        "POST",
        "ui/metrics/prefect/{metric}/grouped",
        Gate::Scopes(&["see_flows"]),
    ),
    rule("GET", "tags", Gate::Scopes(&["see_tags"])),
    rule("DELETE", "tags", Gate::Scopes(&["manage_tags"])),
    rule("GET", "assets/", Gate::Scopes(&["see_assets"])),
    rule("GET", "assets/key", Gate::Scopes(&["see_assets"])),
    rule("DELETE", "assets/key", Gate::Scopes(&["manage_assets"])),
    rule(
        "GET",
        "assets/latest-dependencies",
        Gate::Scopes(&["see_assets"]),
    ),
    rule("GET", "assets/neighbors", Gate::Scopes(&["see_assets"])),
    rule("POST", "assets/filter", Gate::Scopes(&["see_assets"])),
    rule("GET", "assets/filter/next", Gate::Scopes(&["see_assets"])),
    rule(
        "GET",
        "assets/materializations",
        Gate::Scopes(&["see_assets"]),
    ),
    rule("GET", "assets/references", Gate::Scopes(&["see_assets"])),
    rule(
        "GET",
        "assets/materializations/{event_id}",
        Gate::Scopes(&["see_assets"]),
    ),
    rule(
        "GET",
        "assets/materializations/{event_id}/upstream",
        Gate::Scopes(&["see_assets"]),
    ),
    rule(
        "GET",
        "assets/references/{event_id}",
        Gate::Scopes(&["see_assets"]),
    ),
    rule("GET", "available-assets/", Gate::Scopes(&["see_assets"])),
    rule(
        "POST",
        "event-publications/",
        Gate::Scopes(&["manage_event_publications"]),
    ),
    rule(
        "GET",
        "event-publications/",
        Gate::Scopes(&["see_event_publications"]),
    ),
    rule(
        "GET",
        "event-publications/{publication_id}",
        Gate::Scopes(&["see_event_publications"]),
    ),
    rule(
        "PATCH",
        "event-publications/{publication_id}",
        Gate::Scopes(&["manage_event_publications"]),
    ),
    rule(
        "DELETE",
        "event-publications/{publication_id}",
        Gate::Scopes(&["manage_event_publications"]),
    ),
    rule(
        "GET",
        "event-publications/{publication_id}/subscriptions",
        Gate::Scopes(&["see_event_publications"]),
    ),
    rule(
        "POST",
        "event-subscriptions/",
        Gate::Scopes(&["manage_event_subscriptions"]),
    ),
    rule(
        "GET",
        "event-subscriptions/",
        Gate::Scopes(&["see_event_subscriptions"]),
    ),
    rule(
        "GET",
        "event-subscriptions/{subscription_id}",
        Gate::Scopes(&["see_event_subscriptions"]),
    ),
    rule(
        "PATCH",
        "event-subscriptions/{subscription_id}",
        Gate::Scopes(&["manage_event_subscriptions"]),
    ),
    rule(
        "DELETE",
        "event-subscriptions/{subscription_id}",
        Gate::Scopes(&["manage_event_subscriptions"]),
    ),
    rule(
        "POST",
        "asset-publications/",
        Gate::Scopes(&["write_assets"]),
    ),
    rule(
        "POST",
        "asset-subscriptions/",
        Gate::Scopes(&["write_assets"]),
    ),
    rule(
        "GET",
        "deployments/{id}/work_queue_check",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "work_pools/configuration/preview",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule(
        "POST",
        "ui/schemas/validate",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule(
        "POST",
        "ui/schemas/validate_schema",
        Gate::Scopes(&["see_deployments"]),
    ),
    rule("GET", "hello", Gate::Scopes(&[])),
    rule("GET", "health", Gate::Scopes(&[])),
    rule("GET", "admin/version", Gate::Scopes(&[])),
    rule("GET", "csrf-token", Gate::Scopes(&[])),
    rule("GET", "admin/storage", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "admin/settings",
        Gate::Scopes(&["see_workspace_settings"]),
    ),
    rule(
        "GET",
        "collections/views/aggregate-worker-metadata",
        Gate::Scopes(&["see_work_pools"]),
    ),
    rule("GET", "events/in", Gate::Scopes(&["run_flows"])),
    rule("GET", "events/out", Gate::Scopes(&["see_events"])),
    rule("GET", "logs/out", Gate::Scopes(&["see_flows"])),
    rule(
        "GET",
        "work_pools/{name}/workers/connect",
        Gate::Scopes(&["write_workers"]),
    ),
    rule(
        "GET",
        "task_runs/subscriptions/scheduled",
        Gate::Scopes(&["run_tasks"]),
    ),
];

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// The rule for `method` on `rest` (the path below the workspace, without query), if one
/// matches. Literal segments win over parameters, the leftmost weighing most; of equals,
/// the first row. It runs on every gateway call (twice: to route and to check), so the
/// table is read through an index by method and segment count, built once.
pub fn rule_for(method: &str, rest: &str) -> Option<&'static Rule> {
    let n = segments(rest).count();
    let candidates = index().get(&(method_number(method)?, n))?;
    candidates
        .iter()
        .filter(|c| {
            c.segments
                .iter()
                .zip(segments(rest))
                .all(|(t, w)| t.is_none_or(|t| t == w))
        })
        // `min_by_key` keeps the first of equals: rows stay in the table's order.
        .min_by_key(|c| c.genericity)
        .map(|c| c.rule)
}

/// A row of the table as the index holds it: its template's segments (`None` for a
/// parameter) and the parameters' positions as bits, the first segment highest (fewer and
/// later parameters sort first).
struct Indexed {
    segments: Vec<Option<&'static str>>,
    genericity: u64,
    rule: &'static Rule,
}

type Index = std::collections::HashMap<(u8, usize), Vec<Indexed>>;

/// The table's methods, numbered for the index (any case, as before the index).
fn method_number(method: &str) -> Option<u8> {
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        .iter()
        .position(|m| m.eq_ignore_ascii_case(method))
        .map(|i| i as u8)
}

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index::new();
        for rule in RULES {
            let segments: Vec<Option<&'static str>> = segments(rule.path)
                .map(|s| (!is_param(s)).then_some(s))
                .collect();
            let genericity = segments
                .iter()
                .take(64)
                .enumerate()
                .filter(|(_, s)| s.is_none())
                .fold(0u64, |bits, (i, _)| bits | 1 << (63 - i));
            let Some(m) = method_number(rule.method) else {
                continue;
            };
            index.entry((m, segments.len())).or_default().push(Indexed {
                segments,
                genericity,
                rule,
            });
        }
        index
    })
}

/// What `method` on `rest` needs; outside the table, refused.
pub fn gate(method: &str, rest: &str) -> Gate {
    rule_for(method, rest).map_or(Gate::Refused(NOT_MAPPED), |r| r.gate)
}

/// Reading a block document's secret values (`include_secrets=true` in the query) needs
/// `see_secret_blocks` besides what the operation needs.
pub fn reads_secrets(query: &str) -> bool {
    query.split('&').any(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        k == "include_secrets" && v.eq_ignore_ascii_case("true")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(
            rule_for("POST", "flow_runs/filter").map(|r| r.path),
            Some("flow_runs/filter")
        );
        assert_eq!(
            rule_for("GET", "flow_runs/7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11").map(|r| r.path),
            Some("flow_runs/{id}")
        );
        assert_eq!(
            rule_for("GET", "deployments/name/my-flow/my-deployment").map(|r| r.path),
            Some("deployments/name/{flow_name}/{deployment_name}")
        );
        assert_eq!(gate("POST", "/flows/"), gate("POST", "flows"));
    }

    #[test]
    fn what_the_table_does_not_know_is_refused() {
        assert_eq!(gate("GET", "no_such_thing"), Gate::Refused(NOT_MAPPED));
        assert_eq!(gate("TRACE", "flows/filter"), Gate::Refused(NOT_MAPPED));
        assert_eq!(
            gate("POST", "flows/filter/extra"),
            Gate::Refused(NOT_MAPPED)
        );
    }

    #[test]
    fn the_worker_and_a_flow_run_find_what_they_call() {
        assert_eq!(gate("GET", "events/in"), Gate::Scopes(&["run_flows"]));
        assert_eq!(
            gate("POST", "flow_runs/x/set_state"),
            Gate::Scopes(&["run_flows"])
        );
        assert_eq!(
            gate("GET", "work_pools/demo/workers/connect"),
            Gate::Scopes(&["write_workers"])
        );
        assert_eq!(gate("GET", "admin/version"), Gate::Scopes(&[]));
        assert_eq!(gate("POST", "user_access/filter"), Gate::Atrium);
    }

    #[test]
    fn secrets_are_asked_for_in_the_query() {
        assert!(reads_secrets("include_secrets=true"));
        assert!(reads_secrets("a=1&include_secrets=True"));
        assert!(!reads_secrets("include_secrets=false"));
        assert!(!reads_secrets("x_include_secrets=true"));
    }

    #[test]
    fn every_scope_in_the_table_is_in_the_catalog() {
        for r in RULES {
            if let Gate::Scopes(scopes) = r.gate {
                for s in scopes {
                    assert!(
                        super::super::workspace::is_scope(s),
                        "{} {}: {s}",
                        r.method,
                        r.path
                    );
                }
            }
        }
    }

    /// The index answers as a walk through the whole table would: for every row, its own
    /// template (parameters filled in) finds the most specific matching row, the first of
    /// equals, in any case of the method.
    #[test]
    fn the_index_answers_as_the_table_does() {
        fn by_walking(method: &str, rest: &str) -> Option<&'static Rule> {
            let wanted: Vec<&str> = segments(rest).collect();
            RULES
                .iter()
                .filter(|r| r.method.eq_ignore_ascii_case(method))
                .filter(|r| {
                    segments(r.path).count() == wanted.len()
                        && segments(r.path)
                            .zip(&wanted)
                            .all(|(t, w)| is_param(t) || t == *w)
                })
                .min_by_key(|r| segments(r.path).map(is_param).collect::<Vec<bool>>())
        }
        for r in RULES {
            assert!(method_number(r.method).is_some(), "{} {}", r.method, r.path);
            for value in ["filter", "7d4f2bd6-7c4a-4a4e-9a53-5b1e4b1f8d11", "x"] {
                let rest: String = segments(r.path)
                    .map(|s| if is_param(s) { value } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                for method in [r.method.to_string(), r.method.to_ascii_lowercase()] {
                    let (a, b) = (
                        rule_for(&method, &rest).expect("its own row matches"),
                        by_walking(&method, &rest).expect("its own row matches"),
                    );
                    assert_eq!(
                        (a.method, a.path, a.gate),
                        (b.method, b.path, b.gate),
                        "{method} {rest}"
                    );
                }
            }
        }
        assert!(rule_for("TRACE", "flows/filter").is_none());
        assert!(rule_for("GET", "").is_none() == by_walking("GET", "").is_none());
    }
}
