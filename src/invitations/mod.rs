//! Invitations to an account: sent by e-mail, opened from the link, accepted, declined,
//! resent, revoked, expired.

pub mod mail;
pub mod model;
pub mod ops;
pub mod pages;
