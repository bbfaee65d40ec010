//! Operations on people: the events about them, sign-up and the account-security flows
//! (verify, reset, change of address) that the pages run.

use serde_json::json;

use super::model::Replaced;
pub use super::model::User;
use crate::audit::{Actor, Event};
use crate::db::DbConn;
use crate::outcome::OpResult;

/// Reads that carry no rule of their own.
pub use super::model::{NewUser, SignupError, find, find_by_email};

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
