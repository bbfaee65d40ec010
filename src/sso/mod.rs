//! Single sign-on through an account's OpenID Connect provider (issue #26, docs/SSO.md).

pub mod mail;
pub mod model;
pub mod oidc;
pub mod ops;
pub mod pages;
