//! Outgoing e-mail: an outbox table written in the caller's transaction, and a
//! background sender (SMTP through lettre, or `.eml` files) with retries.
//!
//! Nothing here talks SMTP inside a database transaction: `enqueue` only inserts a row
//! (so the message exists exactly when the change it reports is committed), and the
//! sender claims due rows one at a time with a conditional `UPDATE` (so several Atrium
//! processes on one PostgreSQL never send a message twice), sends outside any
//! transaction, then records the outcome.

mod sender;

use std::collections::HashMap;

use diesel::dsl::{exists, not};
use diesel::prelude::*;

use crate::db::schema::outbox;
use crate::db::{DbConn, Pool, new_id, now};
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

/// Outbox row states (the `status` column).
pub(crate) const PENDING: &str = "pending";
pub(crate) const SENT: &str = "sent";
pub(crate) const FAILED: &str = "failed";
pub(crate) const CANCELLED: &str = "cancelled";

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewOutboxRow<'a> {
    id: &'a str,
    kind: &'a str,
    ref_id: Option<&'a str>,
    account_id: Option<&'a str>,
    to_addr: &'a str,
    subject: &'a str,
    text_body: &'a str,
    html_body: &'a str,
    status: &'a str,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    locked_until: Option<chrono::NaiveDateTime>,
    last_error: Option<&'a str>,
    created_at: chrono::NaiveDateTime,
    sent_at: Option<chrono::NaiveDateTime>,
}

/// Removes CR, LF and every other control character, so that a value can go into a
/// mail header without starting a new header (lettre 0.11.23 does not refuse them).
pub(crate) fn header_safe(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Queues `mail`; call inside the transaction that makes the change it reports.
pub fn enqueue(conn: &mut DbConn, mail: OutgoingMail) -> diesel::QueryResult<String> {
    let id = new_id();
    let at = now();
    let to = header_safe(&mail.to);
    let subject = header_safe(&mail.subject);
    diesel::insert_into(outbox::table)
        .values(NewOutboxRow {
            id: &id,
            kind: mail.kind,
            ref_id: mail.ref_id.as_deref(),
            account_id: mail.account_id.as_deref(),
            to_addr: &to,
            subject: &subject,
            text_body: &mail.text,
            html_body: &mail.html,
            status: PENDING,
            attempts: 0,
            next_attempt_at: at,
            locked_until: None,
            last_error: None,
            created_at: at,
            sent_at: None,
        })
        .execute(conn)?;
    Ok(id)
}

/// The state shown for an outbox row.
pub(crate) fn delivery_of(status: &str, attempts: i32, last_error: Option<String>) -> Delivery {
    match status {
        SENT => Delivery::Sent,
        FAILED => Delivery::Failed {
            error: last_error.unwrap_or_default(),
        },
        CANCELLED => Delivery::Cancelled,
        _ if attempts > 0 => Delivery::Failing {
            attempts,
            error: last_error.unwrap_or_default(),
        },
        _ => Delivery::Queued,
    }
}

/// The newest message's delivery state for each reference id (e.g. invitation ids).
///
/// One statement whatever the number of ids: the rows of `ref_ids` for which no newer
/// row with the same `ref_id` exists. Ids without any message are absent from the map.
pub fn delivery_states(
    conn: &mut DbConn,
    ref_ids: &[String],
) -> diesel::QueryResult<HashMap<String, Delivery>> {
    if ref_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let newer = diesel::alias!(outbox as newer);
    let rows: Vec<(Option<String>, String, i32, Option<String>)> = outbox::table
        .filter(outbox::ref_id.eq_any(ref_ids))
        .filter(not(exists(
            newer
                .filter(newer.field(outbox::ref_id).eq(outbox::ref_id))
                .filter(
                    newer
                        .field(outbox::created_at)
                        .gt(outbox::created_at)
                        .or(newer
                            .field(outbox::created_at)
                            .eq(outbox::created_at)
                            .and(newer.field(outbox::id).gt(outbox::id))),
                )
                .select(newer.field(outbox::id)),
        )))
        .select((
            outbox::ref_id,
            outbox::status,
            outbox::attempts,
            outbox::last_error,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(ref_id, status, attempts, error)| {
            ref_id.map(|r| (r, delivery_of(&status, attempts, error)))
        })
        .collect())
}

/// Cancels messages for `ref_id` that were not sent yet (e.g. the invitation was revoked or resent).
pub fn cancel_pending(conn: &mut DbConn, ref_id: &str) -> diesel::QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::ref_id.eq(ref_id))
            .filter(outbox::status.eq(PENDING)),
    )
    .set(outbox::status.eq(CANCELLED))
    .execute(conn)
}

/// Starts the background sender.
pub fn spawn_sender(pool: Pool, settings: &Settings) {
    sender::spawn(pool, settings);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_inputs_lose_line_breaks_and_control_characters() {
        assert_eq!(
            header_safe("Hello\r\nBcc: evil@example.com"),
            "HelloBcc: evil@example.com"
        );
        assert_eq!(header_safe(" a@b.c\n"), "a@b.c");
        assert_eq!(header_safe("tab\there\u{0}\u{7f}"), "tabhere");
        assert_eq!(header_safe("Ünïcödé stays"), "Ünïcödé stays");
    }

    #[test]
    fn row_states_map_to_delivery_states() {
        assert_eq!(delivery_of(PENDING, 0, None), Delivery::Queued);
        assert_eq!(
            delivery_of(PENDING, 2, Some("refused".into())),
            Delivery::Failing {
                attempts: 2,
                error: "refused".into()
            }
        );
        assert_eq!(
            delivery_of(PENDING, 1, None),
            Delivery::Failing {
                attempts: 1,
                error: String::new()
            }
        );
        assert_eq!(delivery_of(SENT, 3, Some("old".into())), Delivery::Sent);
        assert_eq!(
            delivery_of(FAILED, 12, Some("gave up".into())),
            Delivery::Failed {
                error: "gave up".into()
            }
        );
        assert_eq!(delivery_of(CANCELLED, 0, None), Delivery::Cancelled);
    }
}
