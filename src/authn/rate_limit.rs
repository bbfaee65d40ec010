//! Log-in throttling, kept in the database so that several instances share it.

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{DbConn, now};

/// True when `ip` or `identifier` has reached `limit` failures in the last minute.
pub fn is_limited(conn: &mut DbConn, ip: &str, identifier: &str, limit: i64) -> QueryResult<bool> {
    let since = now() - TimeDelta::minutes(1);
    let by_ip: i64 = login_failures::table
        .filter(login_failures::ip.eq(ip))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    if by_ip >= limit {
        return Ok(true);
    }
    let by_identifier: i64 = login_failures::table
        .filter(login_failures::identifier.eq(identifier))
        .filter(login_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    Ok(by_identifier >= limit)
}

/// True when `ip` has a failure recorded within `window` (used to record API
/// authentication failures in the audit log at most once per window).
pub fn recent(conn: &mut DbConn, ip: &str, window: TimeDelta) -> QueryResult<bool> {
    let since = now() - window;
    diesel::select(diesel::dsl::exists(
        login_failures::table
            .filter(login_failures::ip.eq(ip))
            .filter(login_failures::at.gt(since)),
    ))
    .get_result(conn)
}

pub fn record_failure(conn: &mut DbConn, ip: &str, identifier: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::ip.eq(ip),
            login_failures::identifier.eq(identifier),
            login_failures::at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets failures older than an hour (called by the housekeeping task).
pub fn prune(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(now() - TimeDelta::hours(1))))
        .execute(conn)
}
