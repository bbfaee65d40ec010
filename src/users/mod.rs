//! People: sign-up, log-in, log-out and the profile page.

pub mod domain;
pub mod model;
pub mod pages;
pub mod security;
pub mod tokens;
