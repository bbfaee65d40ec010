//! Outgoing e-mail: an outbox table written in the caller's transaction, and a
//! background sender (SMTP through lettre, or `.eml` files) with retries.
//! (Being implemented: see the mail helper's brief.)

use crate::db::{DbConn, Pool};
use crate::settings::Settings;

/// A message to send, already rendered.
pub struct OutgoingMail {
    pub kind: &'static str,
    pub ref_id: Option<String>,
    pub account_id: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where a message stands, as shown beside an invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    Sent,
    Failing { attempts: i32, error: String },
    Failed { error: String },
    Cancelled,
}

/// Queues `mail`; call inside the transaction that makes the change it reports.
pub fn enqueue(_conn: &mut DbConn, _mail: OutgoingMail) -> diesel::QueryResult<String> {
    Ok(String::new())
}

/// The newest message's delivery state for each reference id (e.g. invitation ids).
pub fn delivery_states(
    _conn: &mut DbConn,
    _ref_ids: &[String],
) -> diesel::QueryResult<std::collections::HashMap<String, Delivery>> {
    Ok(Default::default())
}

/// Cancels messages for `ref_id` that were not sent yet (e.g. the invitation was revoked or resent).
pub fn cancel_pending(_conn: &mut DbConn, _ref_id: &str) -> diesel::QueryResult<usize> {
    Ok(0)
}

/// Starts the background sender.
pub fn spawn_sender(_pool: Pool, _settings: &Settings) {}
