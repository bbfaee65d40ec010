//! Workspaces: create, the switcher, the dashboard; who reaches which workspace with
//! which scopes is decided by `authz::workspace::effective_scopes` through `web::ctx::WorkspaceCtx`.

pub mod access;
pub mod grants;
pub mod model;
pub mod ops;
pub mod pages;
