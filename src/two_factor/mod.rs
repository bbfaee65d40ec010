//! Two-factor authentication for password users (issue #26, point 3): TOTP (RFC 6238,
//! [`totp`]) with recovery codes, the log-in's second step, and the account setting that
//! requires it of members (enforced by `web::ctx` for the account's pages). API keys are
//! not affected: a key is a credential of its own (docs/SECURITY.md, "Two-factor
//! authentication").

pub mod model;
pub mod ops;
pub mod pages;
pub mod totp;
