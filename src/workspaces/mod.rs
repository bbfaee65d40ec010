//! Workspaces: create, the switcher, the dashboard; who reaches which workspace with
//! which scopes is decided by `authz::workspace::effective_scopes` through `web::ctx::WorkspaceCtx`.

pub mod access;
pub mod grants;
pub mod handlers;
pub mod model;
pub mod settings;
pub mod sharing;
