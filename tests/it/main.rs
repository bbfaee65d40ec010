//! Atrium's integration tests: one binary, the real application per test.

mod support;

mod access_control;
mod api_accounts;
mod api_keys;
mod api_me;
mod api_roles;
mod api_support;
mod api_workspaces;
mod audit_coverage;
mod audit_log;
mod auth;
mod binary;
mod browser_audit;
mod browser_auth;
mod browser_members;
mod browser_service_accounts;
mod browser_transfers;
mod browser_workspaces;
mod invariants;
mod invitations;
mod limits;
mod load_run;
mod mail;
mod members;
mod prefect_cli;
mod query_counts;
mod roles;
mod schemathesis;
mod screenshots;
mod service_accounts;
mod transfers;
mod two_instances;
mod workspaces;
