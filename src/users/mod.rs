//! People: sign-up, log-in, log-out and the profile page.

pub mod domain;
pub mod handlers;
pub mod model;
pub mod security;
pub mod tokens;
