//! Two-factor authentication (issue #26, point 3): set-up with a TOTP app, confirmation
//! with its first code, recovery codes (shown once, stored as SHA-256 digests, each used
//! once), turning it off, and the second step of a log-in. Each change is one transaction
//! that decides with current data and records its audit event in it.
//!
//! A TOTP code is accepted once: the step it belongs to must be later than the last step
//! used, and recording the step is an `UPDATE … WHERE last_used_step < step` whose row
//! count says whether this use won. A recovery code likewise: `UPDATE … WHERE used_at IS
//! NULL`, so of two concurrent uses of one code exactly one succeeds.

use serde_json::json;

use super::model as tf;
use super::totp::{self, Check};
use crate::audit::Actor;
use crate::authn::digest;
use crate::authn::rate_limit::{self, Slot};
use crate::db::{DbConn, write_tx};
use crate::outcome::{OpResult, Reason, Refusal, conflict, invalid, refuse};
use crate::sealed::Sealer;
use crate::users::model::User;
use crate::users::ops::user_event;

pub use super::model::{is_enabled, requiring_accounts};

/// The message beside the code field for a code that is not right.
pub const WRONG_CODE: &str = "That code is not right. Enter the 6-digit code your app shows now.";
/// The message for a code already used.
pub const USED_CODE: &str = "That code was already used. Wait for your app to show the next one.";
/// The message for a recovery code that is wrong or used.
pub const WRONG_RECOVERY_CODE: &str = "That recovery code is not right, or it was already used.";

/// The message when the stored secret cannot be opened (the instance's secret key changed).
pub const UNREADABLE_SECRET: &str = "Atrium cannot read your two-factor secret any more. Log in with a recovery code, then set up two-factor authentication again.";

/// Wrong second-factor attempts allowed per minute, per user and per client address.
pub const ATTEMPTS_PER_MINUTE: i64 = 5;

/// Where the user's two-factor authentication stands.
#[derive(Clone, Debug, Default)]
pub struct Status {
    /// Confirmed: log-ins ask for a code.
    pub enabled: bool,
    /// Set-up started and not confirmed: the secret (base32) to show again.
    pub pending_secret: Option<String>,
    /// Recovery codes not used yet.
    pub unused_codes: i64,
    /// The names of the user's accounts that require two-factor authentication.
    pub required_by: Vec<String>,
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

pub fn status(c: &mut DbConn, user_id: &str, sealer: &Sealer) -> OpResult<Status> {
    let row = tf::find(c, user_id)?;
    let unused_codes = tf::unused_recovery_codes(c, user_id)?;
    let required_by = tf::requiring_accounts(c, user_id)?;
    Ok(Status {
        enabled: row.as_ref().is_some_and(tf::Totp::is_confirmed),
        pending_secret: row
            .filter(|r| !r.is_confirmed())
            .and_then(|r| sealer.open(&r.secret_sealed)),
        unused_codes,
        required_by,
    })
}

/// Starts set-up with a new secret, sealed (`atrium.user.two_factor_setup_started`);
/// answers the secret (base32). Starting again replaces a pending secret; while two-factor
/// is on: a conflict (turn it off first).
pub fn start_setup(c: &mut DbConn, user: &User, sealer: &Sealer, ip: &str) -> OpResult<String> {
    write_tx(c, |c| {
        if tf::is_enabled(c, &user.id)? {
            return conflict(Reason::TwoFactorAlreadyOn);
        }
        let secret = totp::new_secret();
        tf::put_pending(c, &user.id, &sealer.seal(&secret))?;
        user_event(
            c,
            "atrium.user.two_factor_setup_started",
            Actor::user(user),
            user,
            ip,
            json!({}),
        )?;
        Ok(secret)
    })
}

/// New recovery codes for the user: their digests replace the old ones; answers the codes
/// (shown once).
fn new_recovery_codes(c: &mut DbConn, user_id: &str) -> OpResult<Vec<String>> {
    let codes: Vec<String> = (0..totp::RECOVERY_CODES)
        .map(|_| totp::new_recovery_code())
        .collect();
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|code| totp::normalize_recovery_code(code))
        .map(|n| digest(&n))
        .collect();
    tf::replace_recovery_codes(c, user_id, &digests)?;
    Ok(codes)
}

/// Confirms the pending set-up with a code from the app (`atrium.user.two_factor_enabled`):
/// two-factor is on, and the answer is the new recovery codes. A wrong code: a field error
/// on `code`, nothing changed. No pending set-up: not found.
pub fn confirm_setup(
    c: &mut DbConn,
    user: &User,
    sealer: &Sealer,
    code: &str,
    ip: &str,
) -> OpResult<Vec<String>> {
    write_tx(c, |c| {
        let Some(row) = tf::find(c, &user.id)? else {
            return refuse(Refusal::NotFound);
        };
        if row.is_confirmed() {
            return conflict(Reason::TwoFactorAlreadyOn);
        }
        let Some(secret) = sealer.open(&row.secret_sealed) else {
            return refuse(Refusal::NotFound);
        };
        let step = match totp::check(&secret, code, unix_now(), None) {
            Check::Accepted(step) => step,
            Check::Replayed | Check::Wrong => return invalid("code", WRONG_CODE),
        };
        if tf::confirm(c, &user.id, i64::try_from(step).unwrap_or(i64::MAX))? != 1 {
            return conflict(Reason::Changed);
        }
        let codes = new_recovery_codes(c, &user.id)?;
        user_event(
            c,
            "atrium.user.two_factor_enabled",
            Actor::user(user),
            user,
            ip,
            json!({ "method": "totp", "recovery_codes": codes.len() }),
        )?;
        Ok(codes)
    })
}

/// New recovery codes; the old ones stop working (`atrium.user.recovery_codes_regenerated`).
pub fn regenerate_recovery_codes(c: &mut DbConn, user: &User, ip: &str) -> OpResult<Vec<String>> {
    write_tx(c, |c| {
        if !tf::is_enabled(c, &user.id)? {
            return conflict(Reason::TwoFactorOff);
        }
        let codes = new_recovery_codes(c, &user.id)?;
        user_event(
            c,
            "atrium.user.recovery_codes_regenerated",
            Actor::user(user),
            user,
            ip,
            json!({ "recovery_codes": codes.len() }),
        )?;
        Ok(codes)
    })
}

/// Turns two-factor authentication off, or cancels a pending set-up
/// (`atrium.user.two_factor_disabled`). Refused while an account of the user requires it.
pub fn disable(c: &mut DbConn, user: &User, ip: &str) -> OpResult<()> {
    write_tx(c, |c| {
        let Some(row) = tf::find(c, &user.id)? else {
            return conflict(Reason::TwoFactorOff);
        };
        if row.is_confirmed() && !tf::requiring_accounts(c, &user.id)?.is_empty() {
            return conflict(Reason::TwoFactorRequired);
        }
        tf::remove(c, &user.id)?;
        user_event(
            c,
            "atrium.user.two_factor_disabled",
            Actor::user(user),
            user,
            ip,
            json!({ "was_confirmed": row.is_confirmed() }),
        )?;
        Ok(())
    })
}

/// What the log-in's second step was given.
#[derive(Clone, Debug)]
pub enum Proof {
    /// A code from the app.
    Code(String),
    /// One of the recovery codes.
    RecoveryCode(String),
}

/// How the second step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondStep {
    /// The log-in is complete (recorded as `atrium.user.logged_in`).
    Passed,
    /// Refused: the message to show beside the field.
    Refused(&'static str),
}

/// The second step of a log-in of `user`, whose password was right: checks the code or
/// the recovery code, in one transaction. Right: the slot taken for the attempt is given
/// back, the log-in recorded (`atrium.user.logged_in`, and `atrium.user.recovery_code_used`
/// for a recovery code). Wrong, replayed or used: the slot stays counted and
/// `atrium.user.two_factor_failed` is recorded.
pub fn second_step(
    c: &mut DbConn,
    user: &User,
    sealer: &Sealer,
    proof: &Proof,
    slot: Slot,
    ip: &str,
) -> OpResult<SecondStep> {
    write_tx(c, |c| {
        let Some(row) = tf::find(c, &user.id)?.filter(tf::Totp::is_confirmed) else {
            // Turned off meanwhile: the password was right, the log-in goes on.
            return passed(c, user, slot, ip, "none");
        };
        let outcome = match proof {
            Proof::Code(code) => {
                // Sealed under another secret key (`ATRIUM_SECRET_KEY` changed): no code can
                // be checked; recovery codes still work.
                let secret = sealer.open(&row.secret_sealed).unwrap_or_default();
                let last = row.last_used_step.and_then(|s| u64::try_from(s).ok());
                match totp::check(&secret, code, unix_now(), last) {
                    _ if secret.is_empty() => Some((UNREADABLE_SECRET, "unreadable_secret")),
                    Check::Accepted(step) => {
                        let step = i64::try_from(step).unwrap_or(i64::MAX);
                        // 0 rows: another request used this step first.
                        if tf::use_step(c, &user.id, step)? == 1 {
                            None
                        } else {
                            Some((USED_CODE, "replayed"))
                        }
                    }
                    Check::Replayed => Some((USED_CODE, "replayed")),
                    Check::Wrong => Some((WRONG_CODE, "wrong_code")),
                }
            }
            Proof::RecoveryCode(typed) => {
                let used = match totp::normalize_recovery_code(typed) {
                    Some(n) => tf::use_recovery_code(c, &user.id, &digest(&n))? == 1,
                    None => false,
                };
                if used {
                    let left = tf::unused_recovery_codes(c, &user.id)?;
                    user_event(
                        c,
                        "atrium.user.recovery_code_used",
                        Actor::user(user),
                        user,
                        ip,
                        json!({ "left": left }),
                    )?;
                    None
                } else {
                    Some((WRONG_RECOVERY_CODE, "wrong_recovery_code"))
                }
            }
        };
        match outcome {
            None => passed(
                c,
                user,
                slot,
                ip,
                match proof {
                    Proof::Code(_) => "totp",
                    Proof::RecoveryCode(_) => "recovery_code",
                },
            ),
            Some((message, why)) => {
                user_event(
                    c,
                    "atrium.user.two_factor_failed",
                    Actor::Anonymous {
                        label: user.handle.clone(),
                    },
                    user,
                    ip,
                    json!({ "reason": why }),
                )?;
                Ok(SecondStep::Refused(message))
            }
        }
    })
}

fn passed(c: &mut DbConn, user: &User, slot: Slot, ip: &str, how: &str) -> OpResult<SecondStep> {
    rate_limit::release(c, slot)?;
    crate::users::model::touch_login(c, &user.id)?;
    user_event(
        c,
        "atrium.user.logged_in",
        Actor::user(user),
        user,
        ip,
        json!({ "second_factor": how }),
    )?;
    Ok(SecondStep::Passed)
}
