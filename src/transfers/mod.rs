//! Workspace transfer (DESIGN §3, issue #6): what moving a workspace to another account
//! changes (the preview), doing it in one transaction, and transfer requests that an
//! admin of the target account approves or declines.
//!
//! Concurrency: every transfer, approval and delete locks the accounts involved first (in
//! id order; SQLite's `write_tx` holds the database write lock), then re-reads the
//! workspace and checks it is still in the source account. So a transfer racing a delete
//! or another transfer has exactly one winner; the loser finds the workspace gone.

pub mod mail;
pub mod model;
pub mod ops;
pub mod pages;
