//! Atrium: self-hosted accounts, members, workspaces, roles, API keys and an audit log
//! for workflow orchestration, following Prefect Cloud's account model.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod accounts;
pub mod api;
pub mod apikeys;
pub mod app;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod db;
pub mod egress;
pub mod faults;
pub mod gateway;
pub mod ids;
pub mod invitations;
pub mod mail;
pub mod members;
pub mod memory;
pub mod outcome;
pub mod prefect_ui;
pub mod roles;
pub mod sealed;
pub mod seed;
pub mod servers;
pub mod service_accounts;
pub mod settings;
pub mod sso;
pub mod teams;
pub mod transfers;
pub mod two_factor;
pub mod users;
pub mod web;
pub mod workspaces;

pub use app::Application;
pub use settings::Settings;
