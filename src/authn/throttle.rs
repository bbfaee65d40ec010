//! Throttling of the e-mail and password-confirmation forms (issue #19, points 5 and 6),
//! on the log-in throttle's table (`rate_limit`) under bucket names of their own, so they
//! never count against log-ins and log-ins never count against them.
//!
//! Every use goes through [`take_slot`], the one place that touches `rate_limit`.

use crate::db::DbConn;

/// The buckets.
pub const FORGOT: &str = "forgot";
pub const CONFIRM: &str = "confirm";
pub const MAIL: &str = "mail";

/// E-mails a signed-in user may have sent to themselves per minute (verification again,
/// a change of address).
pub const MAILS_PER_MINUTE: i64 = 3;

/// Takes one of the `limit` slots per minute of `key` in `bucket`; false when none is
/// left (the attempt is then not counted). Call inside a write transaction: on SQLite the
/// check and the count are then one step.
pub fn take_slot(c: &mut DbConn, bucket: &str, key: &str, limit: i64) -> diesel::QueryResult<bool> {
    let k = format!("{bucket}:{key}");
    if super::rate_limit::is_limited(c, &k, &k, limit)? {
        return Ok(false);
    }
    super::rate_limit::record_failure(c, &k, &k)?;
    Ok(true)
}
