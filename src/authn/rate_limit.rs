//! Throttling of password checks and sign-ups, kept in the database so that several
//! instances share it (the `login_failures` table: one row per attempt that counts).
//!
//! An attempt takes its slot **before** the expensive work (the argon2id check, the new
//! user): [`take`] counts the attempts of the window and records this one in a single
//! transaction that no other [`take`] can interleave with (SQLite: writers are serialised
//! by `write_tx`; PostgreSQL: the table is locked in a mode that conflicts with itself for
//! the few statements of the transaction). So a burst of concurrent guesses gets at most
//! `limit` checks, whatever their timing (tests/it/security.rs,
//! `a_burst_of_concurrent_guesses_gets_at_most_the_limit_checked`). A successful log-in
//! gives its slot back ([`release`]): only failures count against the next minute.
//!
//! Each bucket has its own rows: `ip` holds `<bucket>:<client address>` and `identifier`
//! `<bucket>:<key>`, where the key is what the attempt is about — for log-ins the
//! resolved user (`user:<id>`, so that the handle and the e-mail address share one count),
//! or the typed identifier when it names nobody.

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::db::schema::login_failures;
use crate::db::{DbConn, now, write_tx};

/// What an attempt is: each kind is counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// Log-in with a password.
    Login,
    /// The current password, asked again (password change, confirming a sensitive action).
    PasswordCheck,
    /// A new account.
    Signup,
    /// E-mailed links asked for by address ("forgot password").
    MailLink,
    /// E-mails a signed-in user sends to themselves (verification again, a new address).
    SelfMail,
    /// The second step of a log-in: a code from the app or a recovery code.
    TwoFactor,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Login => "login",
            Bucket::PasswordCheck => "password",
            Bucket::Signup => "signup",
            Bucket::MailLink => "forgot",
            Bucket::SelfMail => "mail",
            Bucket::TwoFactor => "2fa",
        }
    }
}

/// How many attempts a window allows, per client address and per key.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub per_window: i64,
    pub window: TimeDelta,
}

impl Limit {
    pub fn per_minute(n: i64) -> Limit {
        Limit {
            per_window: n,
            window: TimeDelta::minutes(1),
        }
    }

    pub fn per_hour(n: i64) -> Limit {
        Limit {
            per_window: n,
            window: TimeDelta::hours(1),
        }
    }
}

/// A slot taken by [`take`]: the row that counts the attempt.
#[derive(Clone, Copy, Debug)]
pub struct Slot(i64);

/// The key for a log-in's per-account count: the user the typed handle or address
/// resolves to, else the typed identifier itself.
pub fn login_key(user_id: Option<&str>, typed: &str) -> String {
    match user_id {
        Some(id) => format!("user:{id}"),
        None => format!("typed:{typed}"),
    }
}

/// Takes a slot for one attempt from `ip` about `key` in `bucket`, or `None` when the
/// address or the key has used up the window's attempts (nothing is recorded then).
pub fn take(
    conn: &mut DbConn,
    bucket: Bucket,
    ip: &str,
    key: &str,
    limit: Limit,
) -> QueryResult<Option<Slot>> {
    let (ip, key) = (
        format!("{}:{ip}", bucket.name()),
        format!("{}:{key}", bucket.name()),
    );
    let since = now() - limit.window;
    write_tx(conn, |c| {
        if let DbConn::Postgres(pg) = c {
            // Conflicts with itself: one `take` at a time sees and records the counts.
            diesel::sql_query("LOCK TABLE login_failures IN SHARE ROW EXCLUSIVE MODE")
                .execute(pg)?;
        }
        let by_ip: i64 = login_failures::table
            .filter(login_failures::ip.eq(&ip))
            .filter(login_failures::at.gt(since))
            .count()
            .get_result(c)?;
        if by_ip >= limit.per_window {
            return Ok(None);
        }
        let by_key: i64 = login_failures::table
            .filter(login_failures::identifier.eq(&key))
            .filter(login_failures::at.gt(since))
            .count()
            .get_result(c)?;
        if by_key >= limit.per_window {
            return Ok(None);
        }
        let id: i64 = diesel::insert_into(login_failures::table)
            .values((
                login_failures::ip.eq(&ip),
                login_failures::identifier.eq(&key),
                login_failures::at.eq(now()),
            ))
            .returning(login_failures::id)
            .get_result(c)?;
        Ok(Some(Slot(id)))
    })
}

/// Gives a slot back: the attempt succeeded and does not count.
pub fn release(conn: &mut DbConn, slot: Slot) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(slot.0)).execute(conn)?;
    Ok(())
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

/// Forgets attempts older than the longest window, an hour (the housekeeping task).
pub fn prune(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::at.lt(now() - TimeDelta::hours(1))))
        .execute(conn)
}
