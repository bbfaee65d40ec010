//! Authorization: the permission catalogs and the one place that decides what an actor
//! may do in an account. Every account page and action asks [`account_permissions`]
//! (through [`AccountCtx`]); no handler compares roles by itself.

pub mod account;
pub mod workspace;

pub use account::{AccountCtx, AccountPerm, PermSet, account_permissions};
