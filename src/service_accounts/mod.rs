//! Service accounts ("bots" in the API): the account page, the workspace Service Accounts
//! sharing panel, and the operations both they and the JSON API use.

pub mod model;
pub mod ops;
pub mod pages;
