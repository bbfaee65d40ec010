//! Flow run retention per account (issue #22, point 4; Prefect Cloud: "flow runs ending
//! outside of the destination account's flow run retention period will be removed"). An
//! account keeps flow runs for a number of days (an account setting, Owners only); each of
//! its managed Prefect servers applies it with its own database vacuum service
//! (`PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs` and
//! `…_DB_VACUUM_RETENTION_PERIOD`): the server deletes top-level flow runs in a final
//! state whose end lies further back than the period, with their task runs, logs and
//! artifacts. The period is read when a server starts, so a change (of the setting, or of
//! the workspace's account by a transfer) restarts the running servers it concerns at a
//! quiet moment (`servers::spawner`). Servers connected by hand are their operators':
//! Atrium does not change their settings.

use std::ops::RangeInclusive;

/// How long an account keeps flow runs unless it says otherwise (Prefect's own default).
pub const DEFAULT_DAYS: i32 = 90;

/// What the setting accepts.
pub const DAYS: RangeInclusive<i32> = 1..=3650;

/// The states whose runs the vacuum deletes (Prefect's terminal states).
pub const FINAL_STATES: [&str; 4] = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

/// The active states: a server running such a flow run is not restarted.
pub const ACTIVE_STATES: [&str; 3] = ["PENDING", "RUNNING", "CANCELLING"];

/// The environment that makes a managed server keep flow runs for `days`, vacuuming every
/// `every`.
pub fn environment(days: i32, every: std::time::Duration) -> [(&'static str, String); 3] {
    [
        (
            "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED",
            "events,flow_runs".to_string(),
        ),
        (
            "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD",
            (i64::from(days.max(1)) * 86_400).to_string(),
        ),
        (
            "PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS",
            every.as_secs().max(1).to_string(),
        ),
    ]
}

/// The filter of the flow runs a period of `days` removes at `now`: top-level runs in a
/// final state that ended before `now - days` (what Prefect's vacuum selects).
pub fn removed_filter(days: i32, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let cutoff = now - chrono::TimeDelta::days(i64::from(days));
    serde_json::json!({
        "flow_runs": {
            "state": { "type": { "any_": FINAL_STATES } },
            "end_time": { "before_": cutoff.to_rfc3339() },
            "parent_task_run_id": { "is_null_": true }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_in_days_is_seconds_for_the_server() {
        let env = environment(2, std::time::Duration::from_secs(60));
        assert_eq!(env[1].1, "172800");
        assert_eq!(env[2].1, "60");
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .map(|d| d.to_utc())
            .expect("date");
        let f = removed_filter(1, now);
        assert_eq!(
            f["flow_runs"]["end_time"]["before_"],
            "2026-12-05T12:00:00+00:00"
        );
    }
}
