//! Account members: the list, inline role changes, removal and leaving.

pub mod handlers;
pub mod model;
