//! Accounts (personal and organization) and account memberships.

pub mod model;
pub mod ops;
pub mod pages;
