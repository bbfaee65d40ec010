//! Named fail points for the fault tests (SECURITY.md §3.2), through the `fail` crate.
//!
//! A point does something only in a build with the `failpoints` feature, where the
//! `FAILPOINTS` environment variable configures it (`FAILPOINTS=transfer_after_move=sleep(60000)`),
//! and then it first prints `atrium: fail point NAME reached` on standard error so that a
//! test knows when to kill the process. In every other build [`point`] does nothing.

/// Every fail point, in the order a change passes them.
pub const POINTS: &[&str] = &[
    "transfer_after_accesses",
    "transfer_after_move",
    "transfer_before_commit",
    "delete_after_rows",
    "delete_before_commit",
    "invite_after_row",
    "invite_before_commit",
    "accept_after_respond",
    "accept_before_commit",
    "outbox_after_claim",
];

/// Passes the fail point `name` (one of [`POINTS`]).
#[inline]
pub fn point(name: &'static str) {
    debug_assert!(POINTS.contains(&name), "unknown fail point {name}");
    #[cfg(feature = "failpoints")]
    {
        if fail::list().iter().any(|(n, _)| n == name) {
            eprintln!("atrium: fail point {name} reached");
        }
        fail::fail_point!(name);
    }
}

/// Reads `FAILPOINTS` (a `failpoints` build only); keep the guard for the process's life.
pub fn setup() -> Option<fail::FailScenario<'static>> {
    #[cfg(feature = "failpoints")]
    {
        Some(fail::FailScenario::setup())
    }
    #[cfg(not(feature = "failpoints"))]
    {
        None
    }
}
