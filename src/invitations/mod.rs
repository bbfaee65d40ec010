//! Invitations to an account: sent by e-mail, opened from the link, accepted, declined,
//! resent, revoked, expired.

pub mod model;
pub mod pages;
