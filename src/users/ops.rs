//! Operations on people: the events about them, sign-up and the account-security flows
//! (verify, reset, change of address) that the pages run.

use serde_json::json;

use super::domain::{Email, Handle, Name, NewPassword};
use super::mail::{queue_notice, send_link};
use super::model as users;
use super::model::Replaced;
pub use super::model::User;
use super::tokens::{self, EmailToken, Problem, Purpose};
use crate::audit::{Actor, Event};
use crate::authn::throttle;
use crate::db::{DbConn, write_tx};
use crate::outcome::{OpResult, invalid};
use crate::settings::AppConfig;

/// Reads that carry no rule of their own.
pub use super::model::{NewUser, SignupError, find, find_by_email, find_by_login};

/// Records an event about `user` in their personal account.
pub fn user_event(
    c: &mut DbConn,
    action: &'static str,
    actor: Actor,
    user: &User,
    ip: &str,
    payload: serde_json::Value,
) -> OpResult<()> {
    let personal = crate::accounts::model::personal_of(c, &user.id)?.map(|a| a.id);
    Event::new(
        action,
        actor,
        "user",
        Some(user.id.clone()),
        user.handle.clone(),
    )
    .account_opt(personal)
    .ip(ip.to_string())
    .payload(payload)
    .record(c)?;
    Ok(())
}

/// The event of an unverified user removed to free their address for `actor`, recorded in
/// `account_id` (the personal account of whoever now holds the address).
pub fn replaced_event(actor: Actor, r: &Replaced, account_id: Option<String>, ip: &str) -> Event {
    Event::new(
        "atrium.user.replaced",
        actor,
        "user",
        Some(r.id.clone()),
        r.handle.clone(),
    )
    .account_opt(account_id)
    .ip(ip.to_string())
    .payload(json!({ "email": r.email, "deleted_accounts": r.accounts }))
}

/// Parsed sign-up input.
pub struct ValidSignup {
    pub email: Email,
    pub handle: Handle,
    pub first: Name,
    pub last: Name,
    pub password: NewPassword,
}

/// How a sign-up treats an unverified user holding the same address (issue #19, point 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupKind {
    /// The open form: an unverified user older than a verification link's lifetime
    /// ([`crate::users::tokens::VERIFY_TTL`]) is replaced, a younger one blocks the address;
    /// a verification e-mail is queued.
    Plain,
    /// From an invitation sent to the address: any unverified user is replaced, and the
    /// address is verified by accepting the invitation (in `extra`).
    Invited,
}

/// Creates the user and their personal account in one transaction (`atrium.user.signed_up`),
/// replacing an unverified user holding the address as `kind` says (`atrium.user.replaced`),
/// queueing the verification e-mail for a plain sign-up, and running `extra` inside the same
/// transaction (e.g. accepting an invitation; its refusal rolls everything back). The
/// address or handle taken: field errors.
pub fn sign_up(
    c: &mut DbConn,
    cfg: &AppConfig,
    valid: &ValidSignup,
    password_hash: &str,
    ip: String,
    kind: SignupKind,
    extra: impl FnOnce(&mut DbConn, &User) -> OpResult<()>,
) -> OpResult<User> {
    write_tx(c, |c| {
        let mut replaced = None;
        if let Some(holder) = users::find_by_email(c, valid.email.normalized())? {
            let stale = holder.created_at <= crate::db::now() - super::tokens::VERIFY_TTL;
            if !holder.is_verified() && (kind == SignupKind::Invited || stale) {
                replaced = users::replace_unverified(c, &holder)?;
            }
        }
        let new = NewUser {
            email: valid.email.as_str(),
            email_normalized: valid.email.normalized(),
            handle: valid.handle.as_str(),
            first_name: valid.first.as_str(),
            last_name: valid.last.as_str(),
            password_hash,
        };
        // Refused: roll back (a replacement made above must not stay).
        let user = match users::create_with_personal_account(c, &new) {
            Ok(u) => u,
            Err(SignupError::EmailTaken) => {
                return invalid(
                    "email",
                    "An account with this e-mail already exists. Log in instead.",
                );
            }
            Err(SignupError::HandleTaken) => {
                return invalid(
                    "handle",
                    "This handle is already taken. Choose another one.",
                );
            }
            Err(SignupError::Db(e)) => return Err(e.into()),
        };
        // Signing up signs in: the first log-in is now, not "Never".
        users::touch_login(c, &user.id)?;
        let personal = crate::accounts::model::personal_of(c, &user.id)?.map(|a| a.id);
        if let Some(r) = &replaced {
            replaced_event(Actor::user(&user), r, personal.clone(), &ip).record(c)?;
        }
        Event::new(
            "atrium.user.signed_up",
            Actor::user(&user),
            "user",
            Some(user.id.clone()),
            user.handle.clone(),
        )
        .account_opt(personal)
        .ip(ip)
        .payload(json!({ "email": user.email, "handle": user.handle }))
        .record(c)?;
        if kind == SignupKind::Plain {
            super::mail::send_link(c, cfg, &user, super::tokens::Purpose::Verify, &user.email)?;
        }
        extra(c, &user)?;
        Ok(user)
    })
}

/// Records a log-in attempt in one transaction: a success releases its rate-limit slot,
/// notes the log-in time, stores a rehashed password when the hash parameters changed
/// (`atrium.user.logged_in`); a failure keeps its slot counted (`atrium.user.login_failed`,
/// by the identifier typed, naming the user when one matched).
#[allow(clippy::too_many_arguments)]
pub fn record_login(
    c: &mut DbConn,
    user: Option<&User>,
    ok: bool,
    slot: crate::authn::rate_limit::Slot,
    rehash: Option<&str>,
    identifier: &str,
    ip: String,
    second_step: bool,
) -> OpResult<()> {
    write_tx(c, |c| {
        let personal = match user {
            Some(u) => crate::accounts::model::personal_of(c, &u.id)?.map(|a| a.id),
            None => None,
        };
        if ok {
            let Some(u) = user else { return Ok(()) };
            // A success does not count against the next attempts.
            crate::authn::rate_limit::release(c, slot)?;
            if let Some(h) = rehash {
                users::set_password_hash(c, &u.id, h)?;
            }
            if second_step {
                // The log-in is recorded when the second factor is given too
                // (`two_factor::ops::second_step`).
                return Ok(());
            }
            users::touch_login(c, &u.id)?;
            Event::new(
                "atrium.user.logged_in",
                Actor::user(u),
                "user",
                Some(u.id.clone()),
                u.handle.clone(),
            )
            .account_opt(personal)
            .ip(ip)
            .record(c)?;
        } else {
            // The failure stays counted by its slot.
            Event::new(
                "atrium.user.login_failed",
                Actor::Anonymous {
                    label: identifier.to_string(),
                },
                "user",
                user.map(|u| u.id.clone()),
                identifier.to_string(),
            )
            .account_opt(personal)
            .ip(ip)
            .payload(json!({ "known_user": user.is_some() }))
            .record(c)?;
        }
        Ok(())
    })
}

/// Records a log-out (`atrium.user.logged_out`).
pub fn record_logout(c: &mut DbConn, user: &User, ip: &str) -> OpResult<()> {
    write_tx(c, |c| {
        user_event(
            c,
            "atrium.user.logged_out",
            Actor::user(user),
            user,
            ip,
            json!({}),
        )
    })
}

/// Saves the user's names in one transaction (`atrium.user.updated`).
pub fn update_names(
    c: &mut DbConn,
    user: &User,
    first: &Name,
    last: &Name,
    ip: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        users::update_names(c, &user.id, first.as_str(), last.as_str())?;
        user_event(
            c,
            "atrium.user.updated",
            Actor::user(user),
            user,
            ip,
            json!({ "first_name": first.as_str(), "last_name": last.as_str() }),
        )
    })
}

/// Stores a new password hash in one transaction, ends every session of the user and
/// releases the attempt's rate-limit slot (`atrium.user.password_changed`).
pub fn change_password(
    c: &mut DbConn,
    user: &User,
    hash: &str,
    slot: crate::authn::rate_limit::Slot,
    ip: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        crate::authn::rate_limit::release(c, slot)?;
        users::set_password_hash(c, &user.id, hash)?;
        users::end_sessions(c, &user.id)?;
        user_event(
            c,
            "atrium.user.password_changed",
            Actor::user(user),
            user,
            ip,
            json!({}),
        )
    })
}

/// Uses a verification or change-of-address link in one transaction: marks the code used,
/// verifies the address (`atrium.user.email_verified`) or moves the user to the new one
/// (`atrium.user.email_changed`, the old address told; an unverified holder of the new one
/// is replaced, a verified one keeps it: [`Verified::Taken`]).
pub fn verify_link(c: &mut DbConn, id: &str, code: &str, ip: &str) -> OpResult<Verified> {
    write_tx(c, |c| {
        let (token, user) = match usable(c, id, code)? {
            Ok(t) => t,
            Err(p) => return Ok(Verified::Problem(p)),
        };
        let change = tokens::purpose_of(&token) == Some(Purpose::ChangeEmail);
        let mut replaced = None;
        let new = if change {
            let Ok(new) = Email::parse(&token.email) else {
                return Ok(Verified::Problem(Problem::Invalid));
            };
            if let Some(holder) = users::find_by_email(c, new.normalized())?
                && holder.id != user.id
            {
                if holder.is_verified() {
                    return Ok(Verified::Taken);
                }
                // Proving the mailbox beats an account that never did.
                replaced = users::replace_unverified(c, &holder)?;
            }
            Some(new)
        } else {
            None
        };
        if !tokens::mark_used(c, &token.id)? {
            return Ok(Verified::Problem(Problem::Used));
        }
        let actor = Actor::user(&user);
        match new {
            Some(new) => {
                if let Some(r) = &replaced {
                    let personal = crate::accounts::ops::personal_of(c, &user.id)?.map(|a| a.id);
                    replaced_event(actor.clone(), r, personal, ip).record(c)?;
                }
                users::set_verified_email(c, &user.id, new.as_str(), new.normalized())?;
                user_event(
                    c,
                    "atrium.user.email_changed",
                    actor,
                    &user,
                    ip,
                    json!({ "from": user.email, "to": new.as_str() }),
                )?;
                queue_notice(
                    c,
                    &user.email,
                    "Your Atrium e-mail address was changed",
                    &format!(
                        "The e-mail address of the Atrium account {} was changed from {} to {}. Messages go to the new address from now on.",
                        user.handle,
                        user.email,
                        new.as_str()
                    ),
                )?;
                Ok(Verified::Done {
                    email: new.as_str().to_string(),
                    changed: true,
                })
            }
            None => {
                users::mark_verified(c, &user.id)?;
                user_event(
                    c,
                    "atrium.user.email_verified",
                    actor,
                    &user,
                    ip,
                    json!({ "email": user.email }),
                )?;
                Ok(Verified::Done {
                    email: user.email.clone(),
                    changed: false,
                })
            }
        }
    })
}

/// "Forgot password" in one transaction: within the per-address limit (`false` past it),
/// e-mails a reset link when the address has an account (`atrium.user.password_reset_requested`).
pub fn request_reset(
    c: &mut DbConn,
    cfg: &AppConfig,
    email: &Email,
    ip: &str,
    limit: i64,
) -> OpResult<bool> {
    write_tx(c, |c| {
        if !throttle::take_slot(c, throttle::FORGOT, ip, limit)? {
            return Ok(false);
        }
        if let Some(user) = users::find_by_email(c, email.normalized())? {
            send_link(c, cfg, &user, Purpose::Reset, &user.email)?;
            user_event(
                c,
                "atrium.user.password_reset_requested",
                Actor::Anonymous {
                    label: email.as_str().to_string(),
                },
                &user,
                ip,
                json!({}),
            )?;
        }
        Ok(true)
    })
}

/// Sets a new password from a reset link in one transaction: the code is used once, the
/// address counts as proved, every session ends (`atrium.user.password_reset`).
pub fn reset_password(
    c: &mut DbConn,
    id: &str,
    code: &str,
    hash: &str,
    ip: &str,
) -> OpResult<Result<(), Problem>> {
    write_tx(c, |c| {
        let token = match tokens::check(c, id, code, &[Purpose::Reset])? {
            Ok(t) => t,
            Err(p) => return Ok(Err(p)),
        };
        let Some(user) = users::find(c, &token.user_id)? else {
            return Ok(Err(Problem::Invalid));
        };
        if !tokens::mark_used(c, &token.id)? {
            return Ok(Err(Problem::Used));
        }
        users::set_password_hash(c, &user.id, hash)?;
        // The link reached the mailbox: the address is proved, if it is still the user's.
        if user.email_normalized == token.email.to_lowercase() {
            users::mark_verified(c, &user.id)?;
        }
        let ended = users::end_sessions(c, &user.id)?;
        user_event(
            c,
            "atrium.user.password_reset",
            Actor::user(&user),
            &user,
            ip,
            json!({ "sessions_ended": ended }),
        )?;
        Ok(Ok(()))
    })
}

/// Sends a new verification link within the mail limit (`false` past it), recorded as
/// `atrium.user.verification_sent`.
pub fn resend_verification(
    c: &mut DbConn,
    cfg: &AppConfig,
    user: &User,
    ip: &str,
) -> OpResult<bool> {
    write_tx(c, |c| {
        if !throttle::take_slot(c, throttle::MAIL, &user.id, throttle::MAILS_PER_MINUTE)? {
            return Ok(false);
        }
        send_link(c, cfg, user, Purpose::Verify, &user.email)?;
        user_event(
            c,
            "atrium.user.verification_sent",
            Actor::user(user),
            user,
            ip,
            json!({ "email": user.email }),
        )?;
        Ok(true)
    })
}

/// Asks to move the user to a new address: a link to it, within the mail limit
/// (`atrium.user.email_change_requested`); an address a verified user holds is taken.
pub fn request_email_change(
    c: &mut DbConn,
    cfg: &AppConfig,
    user: &User,
    new2: &Email,
    ip: &str,
) -> OpResult<Requested> {
    write_tx(c, |c| {
        if users::find_by_email(c, new2.normalized())?.is_some_and(|u| u.is_verified()) {
            return Ok(Requested::Taken);
        }
        if !throttle::take_slot(c, throttle::MAIL, &user.id, throttle::MAILS_PER_MINUTE)? {
            return Ok(Requested::Limited);
        }
        send_link(c, cfg, user, Purpose::ChangeEmail, new2.as_str())?;
        user_event(
            c,
            "atrium.user.email_change_requested",
            Actor::user(user),
            user,
            ip,
            json!({ "from": user.email, "to": new2.as_str() }),
        )?;
        Ok(Requested::Sent)
    })
}

/// Takes one of the user's password-confirmation slots (`false`: none left this minute).
pub fn take_confirm_slot(c: &mut DbConn, uid: &str, limit: i64) -> OpResult<bool> {
    write_tx(c, |c| {
        Ok(throttle::take_slot(c, throttle::CONFIRM, uid, limit)?)
    })
}

/// Records a password confirmation ("sudo"): `atrium.user.password_confirmed` or
/// `atrium.user.password_confirm_failed`.
pub fn record_confirmation(c: &mut DbConn, user: &User, ok: bool, ip: &str) -> OpResult<()> {
    write_tx(c, |c| {
        let action = if ok {
            "atrium.user.password_confirmed"
        } else {
            "atrium.user.password_confirm_failed"
        };
        user_event(c, action, Actor::user(user), user, ip, json!({}))
    })
}

/// The token behind a verification link, if it may be used: for `Verify`, the address
/// must still be the user's (a link to an address the user has left is dead).
pub fn usable(
    c: &mut DbConn,
    id: &str,
    code: &str,
) -> OpResult<Result<(EmailToken, User), Problem>> {
    let token = match tokens::check(c, id, code, &[Purpose::Verify, Purpose::ChangeEmail])? {
        Ok(t) => t,
        Err(p) => return Ok(Err(p)),
    };
    let Some(user) = users::find(c, &token.user_id)? else {
        return Ok(Err(Problem::Invalid));
    };
    if tokens::purpose_of(&token) == Some(Purpose::Verify)
        && user.email_normalized != token.email.to_lowercase()
    {
        return Ok(Err(Problem::Invalid));
    }
    Ok(Ok((token, user)))
}

/// What using a verification or change-of-address link did.
pub enum Verified {
    Problem(Problem),
    Taken,
    Done { email: String, changed: bool },
}

/// What asking for a change of address did.
pub enum Requested {
    Sent,
    Taken,
    Limited,
}
