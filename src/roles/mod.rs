//! Roles: the built-in account and workspace roles (read-only) and the account's custom
//! workspace roles (create, edit, delete).

pub mod ops;
pub mod pages;
