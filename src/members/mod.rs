//! Account members: the list, inline role changes, removal and leaving.

pub mod model;
pub mod ops;
pub mod pages;
