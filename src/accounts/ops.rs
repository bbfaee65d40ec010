//! Account operations: create an organization, save its settings, delete it. Each is one
//! transaction that decides with current data and records its audit event in it.

use serde_json::json;

use super::model as accounts;
use crate::audit::{Actor, Event};
use crate::authz::account::{
    may_require_two_factor, may_set_audit_retention, may_set_run_retention,
};
use crate::db::{DbConn, write_tx};
use crate::outcome::{OpResult, Reason, Refusal, forbidden, invalid, refuse};
use crate::users::domain::{Handle, Name};
use crate::users::model::User;

/// Reads that carry no rule of their own.
pub use super::model::{Account, AccountKind, find, personal_of};
pub use crate::users::model::for_user;

pub const HANDLE_TAKEN: &str = "This handle is already taken. Choose another one.";

/// Creates an organization owned by `user` in one transaction (`atrium.account.created`).
/// A handle taken by a user or an account: a field error.
pub fn create(
    c: &mut DbConn,
    name: &Name,
    handle: &Handle,
    user: &User,
    ip: String,
) -> OpResult<Account> {
    write_tx(c, |c| {
        if accounts::handle_taken(c, handle.as_str())? {
            return invalid("handle", HANDLE_TAKEN);
        }
        let account = accounts::create(
            c,
            AccountKind::Organization,
            name.as_str(),
            handle.as_str(),
            &user.id,
        )?;
        Event::new(
            "atrium.account.created",
            Actor::user(user),
            "account",
            Some(account.id.clone()),
            account.handle.clone(),
        )
        .account(account.id.clone())
        .ip(ip)
        .payload(json!({ "name": account.name, "handle": account.handle }))
        .record(c)?;
        Ok(account)
    })
}

/// New settings of an account (already parsed).
pub struct NewSettings {
    pub name: Name,
    pub handle: Handle,
    pub workspace_limit: Option<i64>,
    pub audit_retention_days: i32,
    pub flow_run_retention_days: i32,
    pub require_two_factor: bool,
}

/// Saves the account's settings in one transaction (`atrium.account.updated`). Only Owners
/// change the audit retention (403, the role read inside the transaction); a handle taken
/// by another user or account is a field error.
pub fn update(
    c: &mut DbConn,
    account: &Account,
    s: &NewSettings,
    user: &User,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        if s.audit_retention_days != account.audit_retention_days
            && !crate::members::model::role_of(c, &account.id, &user.id)?
                .is_some_and(may_set_audit_retention)
        {
            return forbidden(Reason::RetentionOwnersOnly);
        }
        if s.flow_run_retention_days != account.flow_run_retention_days
            && !crate::members::model::role_of(c, &account.id, &user.id)?
                .is_some_and(may_set_run_retention)
        {
            return forbidden(Reason::RunRetentionOwnersOnly);
        }
        if s.require_two_factor != account.require_two_factor {
            if !crate::members::model::role_of(c, &account.id, &user.id)?
                .is_some_and(may_require_two_factor)
            {
                return forbidden(Reason::TwoFactorOwnersOnly);
            }
            // Whoever requires it has it: an Owner cannot lock themselves out of the account.
            if s.require_two_factor && !crate::two_factor::ops::is_enabled(c, &user.id)? {
                return invalid(
                    "require_two_factor",
                    Reason::TwoFactorYourselfFirst.message(),
                );
            }
        }
        if s.handle.as_str() != account.handle
            && accounts::handle_taken_by_other(c, s.handle.as_str(), &account.id)?
        {
            return invalid("handle", HANDLE_TAKEN);
        }
        accounts::update(
            c,
            &account.id,
            accounts::Settings {
                name: s.name.as_str(),
                handle: s.handle.as_str(),
                workspace_limit: s.workspace_limit,
                audit_retention_days: s.audit_retention_days,
                flow_run_retention_days: s.flow_run_retention_days,
                require_two_factor: s.require_two_factor,
            },
        )?;
        Event::new(
            "atrium.account.updated",
            Actor::user(user),
            "account",
            Some(account.id.clone()),
            s.handle.as_str(),
        )
        .account(account.id.clone())
        .ip(ip)
        .payload(json!({
            "name": { "from": account.name, "to": s.name.as_str() },
            "handle": { "from": account.handle, "to": s.handle.as_str() },
            "workspace_limit": { "from": account.workspace_limit, "to": s.workspace_limit },
            "audit_retention_days": { "from": account.audit_retention_days, "to": s.audit_retention_days },
            "flow_run_retention_days": { "from": account.flow_run_retention_days, "to": s.flow_run_retention_days },
            "require_two_factor": { "from": account.require_two_factor, "to": s.require_two_factor },
        }))
        .record(c)?;
        Ok(())
    })
}

/// Deletes an organization with everything in it, in one transaction under its lock
/// (`atrium.account.deleted`). A personal account cannot be deleted (409).
pub fn delete(c: &mut DbConn, account: &Account, user: &User, ip: String) -> OpResult<()> {
    if account.is_personal() {
        return refuse(Refusal::Conflict(Reason::DeletePersonal));
    }
    write_tx(c, |c| {
        accounts::lock(c, &account.id)?;
        accounts::delete(c, &account.id)?;
        Event::new(
            "atrium.account.deleted",
            Actor::user(user),
            "account",
            Some(account.id.clone()),
            account.handle.clone(),
        )
        .account(account.id.clone())
        .ip(ip)
        .payload(json!({ "name": account.name, "handle": account.handle }))
        .record(c)?;
        Ok(())
    })
}
