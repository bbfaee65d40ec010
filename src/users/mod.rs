//! People: sign-up, log-in, log-out and the profile page.

pub mod domain;
pub mod mail;
pub mod model;
pub mod ops;
pub mod pages;
pub mod sessions;
pub mod tokens;
