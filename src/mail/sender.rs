//! The background sender: every `mail_poll` it looks for due outbox rows, claims each
//! one with a conditional `UPDATE` just before sending it, sends it outside any
//! transaction, and records the outcome (with an audit event on the first failure and
//! when it gives up).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use diesel::prelude::*;
use futures_util::FutureExt;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use super::{CANCELLED, FAILED, PENDING, SENT, header_safe};
use crate::audit::{Actor, Event};
use crate::db::schema::outbox;
use crate::db::{DbConn, Pool, now, write_tx};
use crate::settings::{MailTransport, Settings};

/// Due rows looked at per poll.
const BATCH: i64 = 20;
/// lettre's timeout. Its async (tokio) transport applies it to the TCP connect only,
/// not to reading the server's replies, so `SEND_DEADLINE` bounds the rest.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole SMTP conversation of one message: a server that accepts the connection
/// and then says nothing is given up on after this (or after half the claim, when
/// `ATRIUM_MAIL_CLAIM_MS` is shorter), so a claim never runs out while its message is
/// still being sent.
const SEND_DEADLINE: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// `last_error` is shown in the UI: keep it short.
const ERROR_MAX_CHARS: usize = 200;

const DELIVERY_FAILED: &str = "atrium.email.delivery_failed";

struct Config {
    poll: Duration,
    retry_base: Duration,
    max_attempts: i32,
    /// How long a claim keeps other senders away from a row: a sender that dies holding
    /// one (a killed process) lets the row go after this.
    claim: chrono::TimeDelta,
    send_deadline: Duration,
    /// The sender mailbox, or why `ATRIUM_MAIL_FROM` cannot be used.
    from: Result<Mailbox, &'static str>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
    /// The SMTP URL could not be turned into a transport; messages fail (and retry) with this.
    Unusable(&'static str),
}

impl Transport {
    fn new(mail: &MailTransport) -> Transport {
        match mail {
            MailTransport::Smtp(url) => match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
                Ok(builder) => Transport::Smtp(builder.timeout(Some(SMTP_TIMEOUT)).build()),
                Err(e) => {
                    // lettre's URL errors do not repeat the URL (which may hold a password).
                    tracing::warn!("ATRIUM_SMTP_URL cannot be used, e-mails will fail: {e}");
                    Transport::Unusable("ATRIUM_SMTP_URL cannot be used")
                }
            },
            MailTransport::Outbox(dir) => Transport::Files(dir.clone()),
        }
    }
}

/// What an outbox row holds that sending needs.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = outbox)]
struct DueRow {
    id: String,
    kind: String,
    ref_id: Option<String>,
    account_id: Option<String>,
    to_addr: String,
    subject: String,
    text_body: String,
    html_body: String,
}

/// How one delivery went.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// Try again later (until `mail_max_attempts`).
    Retry(String),
    /// Trying again cannot help (e.g. the recipient address is not valid).
    Permanent(String),
}

pub(super) fn spawn(pool: Pool, settings: &Settings) {
    let from = settings.mail_from.parse::<Mailbox>().map_err(|_| {
        tracing::warn!("ATRIUM_MAIL_FROM is not a valid address; e-mails will fail");
        "ATRIUM_MAIL_FROM is not a valid address"
    });
    let config = Config {
        poll: settings.mail_poll.max(Duration::from_millis(10)),
        retry_base: settings.mail_retry_base,
        max_attempts: i32::try_from(settings.mail_max_attempts)
            .unwrap_or(i32::MAX)
            .max(1),
        claim: chrono::TimeDelta::from_std(settings.mail_claim)
            .unwrap_or(chrono::TimeDelta::minutes(2)),
        send_deadline: SEND_DEADLINE.min(settings.mail_claim / 2),
        from,
    };
    let transport = Transport::new(&settings.mail);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(config.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let round = std::panic::AssertUnwindSafe(run_once(&pool, &config, &transport));
            match round.catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("mail sender: {e:#}"),
                Err(_) => tracing::warn!("mail sender: a round panicked"),
            }
        }
    });
}

/// Runs `f` with a pooled connection on the blocking thread pool.
async fn blocking<T, F>(pool: &Pool, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> anyhow::Result<T> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().context("no database connection")?;
        f(&mut conn)
    })
    .await
    .context("mail sender database task")?
}

/// One poll: every due row that this process manages to claim is sent and recorded.
async fn run_once(pool: &Pool, config: &Config, transport: &Transport) -> anyhow::Result<()> {
    let due = blocking(pool, |c| Ok(due_rows(c, now())?)).await?;
    for row in due {
        let id = row.id.clone();
        let lease = config.claim;
        if !blocking(pool, move |c| Ok(claim(c, &id, now(), lease)?)).await? {
            continue; // another sender took it, or it was cancelled meanwhile
        }
        crate::faults::point("outbox_after_claim");
        let outcome = deliver(config, transport, &row).await;
        if let Outcome::Retry(e) | Outcome::Permanent(e) = &outcome {
            tracing::warn!("mail {} ({}) not delivered: {e}", row.id, row.kind);
        }
        record(pool, config, row, outcome).await?;
    }
    Ok(())
}

/// Pending rows whose time has come and that nobody holds.
fn due_rows(c: &mut DbConn, at: chrono::NaiveDateTime) -> QueryResult<Vec<DueRow>> {
    outbox::table
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::next_attempt_at.le(at))
        .filter(
            outbox::locked_until
                .is_null()
                .or(outbox::locked_until.lt(at)),
        )
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .limit(BATCH)
        .select(DueRow::as_select())
        .load(c)
}

/// Takes the row for this process: true only if this statement changed it, so of two
/// senders racing for one row exactly one wins.
fn claim(
    c: &mut DbConn,
    id: &str,
    at: chrono::NaiveDateTime,
    lease: chrono::TimeDelta,
) -> QueryResult<bool> {
    let n = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(PENDING))
            .filter(outbox::next_attempt_at.le(at))
            .filter(
                outbox::locked_until
                    .is_null()
                    .or(outbox::locked_until.lt(at)),
            ),
    )
    .set(outbox::locked_until.eq(Some(at + lease)))
    .execute(c)?;
    Ok(n == 1)
}

/// Builds the message and hands it to the transport. No database work here.
async fn deliver(config: &Config, transport: &Transport, row: &DueRow) -> Outcome {
    let message = match build_message(config, row) {
        Ok(m) => m,
        Err(outcome) => return outcome,
    };
    match transport {
        Transport::Smtp(smtp) => {
            match tokio::time::timeout(config.send_deadline, smtp.send(message)).await {
                Ok(Ok(_)) => Outcome::Sent,
                Ok(Err(e)) if e.is_timeout() => {
                    Outcome::Retry("the SMTP server did not answer in time".into())
                }
                Ok(Err(e)) => Outcome::Retry(short(&e.to_string())),
                Err(_) => Outcome::Retry("the SMTP server did not answer in time".into()),
            }
        }
        Transport::Files(dir) => match write_eml(dir, &row.id, &message).await {
            Ok(path) => {
                tracing::info!(
                    "mail written to {}: to {:?}, subject {:?}",
                    path.display(),
                    header_safe(&row.to_addr),
                    header_safe(&row.subject)
                );
                Outcome::Sent
            }
            Err(e) => Outcome::Retry(short(&format!("could not write the .eml file: {e}"))),
        },
        Transport::Unusable(why) => Outcome::Retry((*why).into()),
    }
}

/// The message lettre sends: header inputs without control characters, both bodies as
/// multipart/alternative, a Message-ID derived from the outbox id (the same on retries).
fn build_message(config: &Config, row: &DueRow) -> Result<Message, Outcome> {
    let from = config.from.clone().map_err(|e| Outcome::Retry(e.into()))?;
    let to: Mailbox = header_safe(&row.to_addr)
        .parse()
        .map_err(|_| Outcome::Permanent("the recipient address is not valid".into()))?;
    let message_id = format!("<{}@{}>", header_safe(&row.id), from.email.domain());
    Message::builder()
        .from(from)
        .to(to)
        .subject(header_safe(&row.subject))
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(
            row.text_body.clone(),
            row.html_body.clone(),
        ))
        .map_err(|e| Outcome::Permanent(short(&format!("the message could not be built: {e}"))))
}

/// Writes `<dir>/<id>.eml` (through a temporary file, so readers never see half a message).
async fn write_eml(dir: &Path, id: &str, message: &Message) -> std::io::Result<PathBuf> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(std::io::Error::other("unexpected message id"));
    }
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("{id}.eml"));
    let tmp = dir.join(format!(".{id}.eml.tmp"));
    tokio::fs::write(&tmp, message.formatted()).await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

/// Records the outcome, retrying a few times: a lost record would let the claim lapse
/// and the message go out twice.
async fn record(pool: &Pool, config: &Config, row: DueRow, outcome: Outcome) -> anyhow::Result<()> {
    let (max_attempts, retry_base) = (config.max_attempts, config.retry_base);
    let mut tries = 0;
    loop {
        tries += 1;
        let (row, outcome) = (row.clone(), outcome.clone());
        let result = blocking(pool, move |c| {
            Ok(record_outcome(
                c,
                &row,
                &outcome,
                max_attempts,
                retry_base,
                now(),
            )?)
        })
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if tries >= 3 => return Err(e.context("recording a delivery")),
            Err(e) => {
                tracing::warn!("mail sender: recording a delivery failed, retrying: {e:#}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn record_outcome(
    c: &mut DbConn,
    row: &DueRow,
    outcome: &Outcome,
    max_attempts: i32,
    retry_base: Duration,
    at: chrono::NaiveDateTime,
) -> QueryResult<()> {
    let (error, permanent) = match outcome {
        Outcome::Sent => {
            // Also when it was cancelled while in flight: it did go out.
            diesel::update(
                outbox::table
                    .filter(outbox::id.eq(&row.id))
                    .filter(outbox::status.eq_any([PENDING, CANCELLED])),
            )
            .set((
                outbox::status.eq(SENT),
                outbox::sent_at.eq(Some(at)),
                outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(c)?;
            return Ok(());
        }
        Outcome::Retry(e) => (e.as_str(), false),
        Outcome::Permanent(e) => (e.as_str(), true),
    };
    write_tx(c, |c| {
        let pending = outbox::table
            .filter(outbox::id.eq(&row.id))
            .filter(outbox::status.eq(PENDING));
        let Some(before) = pending
            .select(outbox::attempts)
            .first::<i32>(c)
            .optional()?
        else {
            // Cancelled meanwhile: nothing to retry.
            diesel::update(outbox::table.filter(outbox::id.eq(&row.id)))
                .set(outbox::locked_until.eq(None::<chrono::NaiveDateTime>))
                .execute(c)?;
            return Ok(());
        };
        let attempts = before.saturating_add(1);
        let last = permanent || attempts >= max_attempts;
        let changed = if last {
            diesel::update(pending)
                .set((
                    outbox::status.eq(FAILED),
                    outbox::attempts.eq(attempts),
                    outbox::last_error.eq(Some(error)),
                    outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(c)?
        } else {
            let delay = chrono::TimeDelta::from_std(retry_delay(retry_base, attempts))
                .unwrap_or(chrono::TimeDelta::minutes(15));
            diesel::update(pending)
                .set((
                    outbox::attempts.eq(attempts),
                    outbox::last_error.eq(Some(error)),
                    outbox::next_attempt_at.eq(at + delay),
                    outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(c)?
        };
        if changed == 1 && (attempts == 1 || last) {
            Event::new(
                DELIVERY_FAILED,
                Actor::System,
                "email",
                Some(row.id.clone()),
                header_safe(&row.to_addr),
            )
            .account_opt(row.account_id.clone())
            .payload(json!({
                "kind": row.kind,
                "ref_id": row.ref_id,
                "attempts": attempts,
                "error": error,
                "final": last,
            }))
            .record(c)?;
        }
        Ok(())
    })
}

/// The wait after the `attempts`-th failure: `base * 2^(attempts-1)`, at most 15 minutes.
fn retry_delay(base: Duration, attempts: i32) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 31) as u32;
    base.checked_mul(1u32 << exponent)
        .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

/// An error as stored in `last_error`: one line, at most `ERROR_MAX_CHARS` characters.
fn short(error: &str) -> String {
    let one_line = header_safe(error);
    if one_line.chars().count() <= ERROR_MAX_CHARS {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(ERROR_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn retries_back_off_exponentially_up_to_fifteen_minutes() {
        let base = S(5);
        assert_eq!(retry_delay(base, 1), S(5));
        assert_eq!(retry_delay(base, 2), S(10));
        assert_eq!(retry_delay(base, 3), S(20));
        assert_eq!(retry_delay(base, 8), S(640));
        assert_eq!(retry_delay(base, 9), S(900));
        assert_eq!(retry_delay(base, 12), S(900));
        assert_eq!(retry_delay(base, i32::MAX), S(900));
        assert_eq!(retry_delay(base, 0), S(5));
        assert_eq!(
            retry_delay(Duration::from_millis(200), 3),
            Duration::from_millis(800)
        );
        assert_eq!(retry_delay(Duration::MAX, 2), S(900));
    }

    #[test]
    fn stored_errors_are_one_short_line() {
        assert_eq!(short("refused\r\nBcc: x"), "refusedBcc: x");
        let long = "x".repeat(500);
        let s = short(&long);
        assert_eq!(s.chars().count(), ERROR_MAX_CHARS);
        assert!(s.ends_with('…'));
    }

    fn config() -> Config {
        Config {
            poll: S(1),
            retry_base: S(1),
            max_attempts: 3,
            claim: chrono::TimeDelta::minutes(2),
            send_deadline: SEND_DEADLINE,
            from: "Atrium <atrium@example.org>".parse().map_err(|_| "bad"),
        }
    }

    fn row(to: &str, subject: &str) -> DueRow {
        DueRow {
            id: "0b4f3c9e-0000-4000-8000-000000000001".into(),
            kind: "invitation".into(),
            ref_id: None,
            account_id: None,
            to_addr: to.into(),
            subject: subject.into(),
            text_body: "Hello\nthere".into(),
            html_body: "<p>Hello</p>".into(),
        }
    }

    #[test]
    fn messages_are_multipart_alternative_with_a_stable_message_id() {
        let m = build_message(&config(), &row("Ann <ann@example.com>", "Hi")).expect("builds");
        let raw = String::from_utf8(m.formatted()).expect("utf-8");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain"));
        assert!(raw.contains("text/html"));
        assert!(raw.contains("Message-ID: <0b4f3c9e-0000-4000-8000-000000000001@example.org>"));
        let to: Vec<String> = m.envelope().to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["ann@example.com"]);
    }

    #[test]
    fn header_injection_is_neutralised_when_building() {
        let m = build_message(
            &config(),
            &row("ann@example.com", "Hi\r\nBcc: evil@example.com"),
        )
        .expect("builds");
        let raw = String::from_utf8(m.formatted()).expect("utf-8");
        assert!(
            !raw.lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:"))
        );
        assert_eq!(m.envelope().to().len(), 1);
    }

    #[test]
    fn an_unparsable_recipient_is_a_permanent_failure() {
        for bad in ["not an address", "a@b.c, evil@example.com", ""] {
            assert!(matches!(
                build_message(&config(), &row(bad, "Hi")),
                Err(Outcome::Permanent(_))
            ));
        }
    }

    #[test]
    fn a_bad_sender_setting_is_retried_not_dropped() {
        let mut c = config();
        c.from = Err("ATRIUM_MAIL_FROM is not a valid address");
        assert!(matches!(
            build_message(&c, &row("ann@example.com", "Hi")),
            Err(Outcome::Retry(_))
        ));
    }
}
