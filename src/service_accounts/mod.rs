//! Service accounts: the account page, and the workspace Service Accounts sharing panel.

pub mod model;
