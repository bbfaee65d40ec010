//! Accounts (personal and organization) and account memberships.

pub mod handlers;
pub mod model;
