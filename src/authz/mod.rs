//! Authorization: the permission catalogs and the one place that decides what an actor
//! may do in an account. Every account page and action asks [`account_permissions`]
//! (through `web::ctx::AccountCtx`); no handler compares roles by itself.

pub mod account;
pub mod gateway;
pub mod roles;
pub mod workspace;

pub use account::{AccountPerm, PermSet, account_permissions};
pub use roles::AccountRole;
