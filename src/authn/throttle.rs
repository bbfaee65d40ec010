//! Throttling of the e-mail and password-confirmation forms (issue #19, points 5 and 6),
//! on the log-in throttle's table (`rate_limit`) under bucket names of their own, so they
//! never count against log-ins and log-ins never count against them.
//!
//! Every use goes through [`take_slot`], the one place that touches `rate_limit`.

use super::rate_limit::{self, Bucket, Limit};
use crate::db::DbConn;

/// The buckets: "forgot password" requests per client address, password confirmations
/// per user (shared with the password change's check of the current password), e-mails a
/// user has sent to themselves.
pub const FORGOT: Bucket = Bucket::MailLink;
pub const CONFIRM: Bucket = Bucket::PasswordCheck;
pub const MAIL: Bucket = Bucket::SelfMail;

/// E-mails a signed-in user may have sent to themselves per minute (verification again,
/// a change of address).
pub const MAILS_PER_MINUTE: i64 = 3;

/// Takes one of the `limit` slots per minute of `key` in `bucket`; false when none is
/// left (the attempt is then not counted). The count and the slot are one atomic step
/// ([`rate_limit::take`]).
pub fn take_slot(
    c: &mut DbConn,
    bucket: Bucket,
    key: &str,
    limit: i64,
) -> diesel::QueryResult<bool> {
    Ok(rate_limit::take(c, bucket, key, key, Limit::per_minute(limit))?.is_some())
}
