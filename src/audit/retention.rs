//! Retention: each account keeps its audit events for a number of days (an account
//! setting, 365 by default). The housekeeping task deletes older events in small batches,
//! each in its own short transaction, so the log's writers never wait long.

use std::ops::RangeInclusive;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::{accounts, audit_events};
use crate::db::{DbConn, write_tx};

/// How long an account keeps its events unless it says otherwise.
pub const DEFAULT_DAYS: i32 = 365;

/// What the setting accepts.
pub const DAYS: RangeInclusive<i32> = 1..=3650;

/// Rows deleted per transaction.
pub const BATCH: i64 = 1000;

/// Deletes the events that are older than their account keeps them (events of no account,
/// or of a deleted one, are kept [`DEFAULT_DAYS`]), at most `batch` rows per transaction.
/// Returns how many were deleted.
pub fn sweep(c: &mut DbConn, now: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let settings: Vec<(String, i32)> = accounts::table
        .select((accounts::id, accounts::audit_retention_days))
        .load(c)?;
    let mut deleted = 0;
    for (account_id, days) in settings {
        let cutoff = now - TimeDelta::days(i64::from(days));
        // Ids follow time: when the account's first event is recent enough, so are the
        // rest (one index seek, instead of a scan of an account with nothing to delete).
        let oldest: Option<NaiveDateTime> = audit_events::table
            .filter(audit_events::account_id.eq(&account_id))
            .order(audit_events::id.asc())
            .select(audit_events::occurred_at)
            .first(c)
            .optional()?;
        if oldest.is_none_or(|t| t >= cutoff) {
            continue;
        }
        deleted += in_batches(c, batch, |c| {
            audit_events::table
                .filter(audit_events::account_id.eq(&account_id))
                .filter(audit_events::occurred_at.lt(cutoff))
                .order(audit_events::id.asc())
                .select(audit_events::id)
                .limit(batch)
                .load(c)
        })?;
    }
    let cutoff = now - TimeDelta::days(i64::from(DEFAULT_DAYS));
    deleted += in_batches(c, batch, |c| {
        let live = accounts::table.select(accounts::id.nullable());
        audit_events::table
            .filter(audit_events::occurred_at.lt(cutoff))
            .filter(
                audit_events::account_id
                    .is_null()
                    .or(audit_events::account_id.ne_all(live)),
            )
            .order(audit_events::occurred_at.asc())
            .select(audit_events::id)
            .limit(batch)
            .load(c)
    })?;
    Ok(deleted)
}

/// Deletes the rows `pick` names, `batch` at a time, each batch in its own transaction,
/// until a batch comes back short.
fn in_batches(
    c: &mut DbConn,
    batch: i64,
    pick: impl Fn(&mut DbConn) -> QueryResult<Vec<i64>>,
) -> QueryResult<usize> {
    let mut deleted = 0;
    loop {
        let n = write_tx(c, |c| {
            let ids = pick(c)?;
            diesel::delete(audit_events::table.filter(audit_events::id.eq_any(ids))).execute(c)
        })?;
        deleted += n;
        if (n as i64) < batch {
            return Ok(deleted);
        }
    }
}
