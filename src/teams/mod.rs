//! Teams: named groups of an account's members given a role on workspaces (issue #25). The
//! account's Teams pages, the workspace sharing page's Teams panel, and the operations both
//! they and the JSON API use. What a team's role gives its members is decided with the
//! rest of a person's scopes in `authz::workspace::effective_scopes`.

pub mod model;
pub mod ops;
pub mod pages;
