//! The service-account operations, shared by the pages and the JSON API: create (with an
//! optional first workspace role), rename, rotate the key, delete, and give, change or take
//! away a workspace role. Each change is one transaction that re-checks the caller's
//! permissions with the same functions as the extractors (`authz::account_permissions`,
//! `workspaces::access::load`), under the account lock, and records its audit events in it.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use super::model;
use crate::accounts::model::{self as accounts, AccountRole};
use crate::apikeys::{ApiKey, KeyHolder};
use crate::audit::{Event, Resource};
use crate::authz::account::AccountPerm;
use crate::db::{DbConn, now, write_tx};
use crate::ids::ServiceAccountId;
use crate::outcome::{FieldErrors, OpError, OpResult, Reason, Refusal};
use crate::workspaces::grants::{ABOVE_OWN, Granter};
use crate::workspaces::model::{self as workspaces, Workspace, WorkspaceRole};

/// A service account's workspaces and roles (its page).
pub use super::model::roles_of;
/// Reads that carry no rule of their own (the caller was allowed to see them).
pub use super::model::{
    BotAccess, Filter, LIST_PAGE, ListPage, Listed, ServiceAccount, access_counts, bot_access,
    bot_access_by_id, bot_accesses, filter, find, list, normalize, page, parse_name,
    without_access, workspaces_of,
};

/// The longest an old key may keep working after a rotation (DESIGN §3).
pub const MAX_OVERLAP: TimeDelta = TimeDelta::hours(48);

pub const NAME_TAKEN: &str = "A service account with this name already exists in this account.";
pub use crate::apikeys::EXPIRATION_PAST;
pub const OVERLAP_TOO_LONG: &str = "The old key can keep working for at most 48 hours.";
pub const UNKNOWN_ROLE: &str = "Choose a workspace role of this account.";
pub const UNKNOWN_WORKSPACE: &str = "Choose a workspace of this account.";
pub const UNKNOWN_SERVICE_ACCOUNT: &str = "Choose a service account of this account.";

/// Who asks, and from where.
#[derive(Clone, Debug)]
pub struct Who {
    pub holder: KeyHolder,
    pub ip: String,
}

/// Which input a message is about; each edge maps it to its own field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Expiration,
    Workspace,
    Role,
    Overlap,
    ServiceAccount,
}

impl Field {
    /// The input's key in the operation's field errors; each edge maps it to its own name.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Expiration => "expiration",
            Field::Workspace => "workspace",
            Field::Role => "role",
            Field::Overlap => "overlap",
            Field::ServiceAccount => "service_account",
        }
    }

    /// The input a field error's key names.
    pub fn of_key(key: &str) -> Option<Field> {
        [
            Field::Name,
            Field::Expiration,
            Field::Workspace,
            Field::Role,
            Field::Overlap,
            Field::ServiceAccount,
        ]
        .into_iter()
        .find(|f| f.key() == key)
    }
}

fn invalid(field: Field, msg: impl Into<String>) -> OpError {
    Refusal::Invalid(FieldErrors::one(field.key(), msg)).into()
}

/// Giving a role with scopes one does not hold (403 with the reason).
fn above_own() -> OpError {
    Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into()
}

/// `read:bot` to see them at all (404 otherwise), then `p` (403 otherwise).
fn require_bot(c: &mut DbConn, who: &Who, account_id: &str, p: AccountPerm) -> OpResult<()> {
    who.holder.require(c, account_id, AccountPerm::ReadBot, p)
}

/// The caller as a granter on the workspace, their scopes read in this transaction
/// (`None`: it does not exist for them).
fn scopes_on(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
) -> OpResult<Option<Granter>> {
    Ok(Granter::load(
        c,
        account_id,
        workspace_id,
        who.holder.actor_ref(),
    )?)
}

/// The workspace, when the caller may manage its service accounts: 404 when they may not
/// see them, 403 when they may see but not change them.
fn managed_workspace(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
) -> OpResult<(Workspace, Granter)> {
    let Some(g) = scopes_on(c, who, account_id, workspace_id)? else {
        return Err(OpError::from(Refusal::NotFound));
    };
    if !g.has("see_workspace_service_accounts") {
        return Err(OpError::from(Refusal::NotFound));
    }
    if !g.has("manage_workspace_service_accounts") {
        return Err(OpError::from(Refusal::Forbidden(None)));
    }
    Ok((g.workspace().clone(), g))
}

fn role_of_account(
    c: &mut DbConn,
    account_id: &str,
    role_id: &str,
) -> OpResult<Option<WorkspaceRole>> {
    if uuid::Uuid::parse_str(role_id).is_err() {
        return Ok(None);
    }
    Ok(workspaces::role(c, role_id)?.filter(|r| r.usable_in(account_id)))
}

fn check_expiration(expires_at: Option<NaiveDateTime>, errors: &mut FieldErrors) {
    if expires_at.is_some_and(|t| t <= now()) {
        errors.add(Field::Expiration.key(), EXPIRATION_PAST);
    }
}

fn sa_resource(sa: &ServiceAccount) -> Resource {
    Resource {
        kind: "service_account",
        id: Some(sa.id.clone()),
        name: sa.name.clone(),
    }
}

fn key_resource(key: &ApiKey) -> Resource {
    Resource {
        kind: "api_key",
        id: Some(key.id.clone()),
        name: key.mask(),
    }
}

fn when(t: Option<NaiveDateTime>) -> serde_json::Value {
    match t {
        Some(t) => json!(t.and_utc().to_rfc3339()),
        None => serde_json::Value::Null,
    }
}

/// What a new service account is made of (raw input; checked here).
#[derive(Clone, Debug)]
pub struct NewServiceAccount {
    pub name: String,
    pub expires_at: Option<NaiveDateTime>,
    /// A first workspace and role: `(workspace_id, role_id)`.
    pub access: Option<(String, String)>,
}

pub struct Created {
    pub sa: ServiceAccount,
    pub key: ApiKey,
    /// The key's plaintext: shown once, never stored.
    pub plain: String,
    pub access: Option<(Workspace, BotAccess)>,
}

/// Creates a service account (account role Member, always) with its first key, and the
/// optional first workspace role — which must be one the creator may give there.
pub fn create(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    new: NewServiceAccount,
) -> OpResult<Created> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_bot(c, who, account_id, AccountPerm::CreateBot)?;
        let mut errors = FieldErrors::default();
        let name = match model::parse_name(&new.name) {
            Ok(n) if model::name_taken(c, account_id, &n, None)? => {
                errors.add(Field::Name.key(), NAME_TAKEN);
                None
            }
            Ok(n) => Some(n),
            Err(msg) => {
                errors.add(Field::Name.key(), msg);
                None
            }
        };
        check_expiration(new.expires_at, &mut errors);
        let mut grant: Option<(Workspace, WorkspaceRole)> = None;
        if let Some((ws_id, role_id)) = &new.access {
            match scopes_on(c, who, account_id, ws_id)? {
                None => errors.add(Field::Workspace.key(), UNKNOWN_WORKSPACE),
                Some(g) if !g.has("manage_workspace_service_accounts") => errors.add(
                    Field::Workspace.key(),
                    "You cannot share service accounts into this workspace.",
                ),
                Some(g) => match role_of_account(c, account_id, role_id)? {
                    None => errors.add(Field::Role.key(), UNKNOWN_ROLE),
                    Some(r) if !g.may_give(&r) => errors.add(Field::Role.key(), ABOVE_OWN),
                    Some(r) => grant = Some((g.workspace().clone(), r)),
                },
            }
        }
        let Some(name) = name.filter(|_| errors.is_empty()) else {
            return Err(Refusal::Invalid(errors).into());
        };
        let created_by = match &who.holder {
            KeyHolder::User(u) => Some(u.id.as_str()),
            KeyHolder::ServiceAccount(_) => None,
        };
        let (sa, key, plain) = model::create(c, account_id, &name, created_by, new.expires_at)?;
        Event::about(
            "atrium.service_account.created",
            who.holder.audit_actor(),
            sa_resource(&sa),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "name": sa.name, "account_role": AccountRole::Member.as_str() }))
        .record(c)?;
        Event::about(
            "atrium.api_key.created",
            who.holder.audit_actor(),
            key_resource(&key),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({
            "service_account_id": sa.id,
            "service_account": sa.name,
            "expiration": when(key.expires_at),
        }))
        .record(c)?;
        let access = match grant {
            Some((ws, role)) => {
                let a = set_access(c, who, &ws, &sa, &role, None)?;
                Some((ws, a))
            }
            None => None,
        };
        Ok(Created {
            sa,
            key,
            plain,
            access,
        })
    })
}

/// Renames a service account (unique in the account, compared case-insensitively).
pub fn rename(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    sa_id: &ServiceAccountId,
    raw_name: &str,
) -> OpResult<ServiceAccount> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_bot(c, who, account_id, AccountPerm::UpdateBot)?;
        let sa =
            model::find(c, account_id, sa_id.as_str())?.ok_or(OpError::from(Refusal::NotFound))?;
        let name = model::parse_name(raw_name).map_err(|m| invalid(Field::Name, m))?;
        if name == sa.name {
            return Ok(sa);
        }
        if model::name_taken(c, account_id, &name, Some(&sa.id))? {
            return Err(invalid(Field::Name, NAME_TAKEN));
        }
        model::rename(c, &sa.id, &name)?;
        Event::new(
            "atrium.service_account.renamed",
            who.holder.audit_actor(),
            "service_account",
            Some(sa.id.clone()),
            name.clone(),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "from": sa.name, "to": name }))
        .record(c)?;
        model::find(c, account_id, sa_id.as_str())?.ok_or(OpError::from(Refusal::NotFound))
    })
}

pub struct Rotated {
    pub sa: ServiceAccount,
    pub key: ApiKey,
    pub plain: String,
    /// Until when the previous key keeps working (`None`: it stopped at once).
    pub old_until: Option<NaiveDateTime>,
}

/// A new key for the service account. The old keys stop at once (`overlap` `None` or
/// zero) or after `overlap`, at most 48 hours.
pub fn rotate(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    sa_id: &ServiceAccountId,
    expires_at: Option<NaiveDateTime>,
    overlap: Option<TimeDelta>,
) -> OpResult<Rotated> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_bot(c, who, account_id, AccountPerm::UpdateBot)?;
        let sa =
            model::find(c, account_id, sa_id.as_str())?.ok_or(OpError::from(Refusal::NotFound))?;
        let mut errors = FieldErrors::default();
        check_expiration(expires_at, &mut errors);
        match overlap {
            Some(d) if d > MAX_OVERLAP => errors.add(Field::Overlap.key(), OVERLAP_TOO_LONG),
            Some(d) if d < TimeDelta::zero() => errors.add(
                Field::Overlap.key(),
                "Enter a number of hours from 0 to 48.",
            ),
            _ => {}
        }
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors).into());
        }
        let old_until = overlap
            .filter(|d| *d > TimeDelta::zero())
            .map(|d| now() + d);
        let old_keys = crate::apikeys::for_service_account(c, &sa.id)?;
        let (key, plain) = model::rotate(c, &sa, expires_at, old_until)?;
        Event::about(
            "atrium.api_key.rotated",
            who.holder.audit_actor(),
            key_resource(&key),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({
            "service_account_id": sa.id,
            "service_account": sa.name,
            "expiration": when(key.expires_at),
            "old_keys": old_keys.iter().map(ApiKey::mask).collect::<Vec<_>>(),
            "old_keys_stop": match old_until {
                Some(t) => json!(t.and_utc().to_rfc3339()),
                None => json!("now"),
            },
        }))
        .record(c)?;
        Ok(Rotated {
            sa,
            key,
            plain,
            old_until,
        })
    })
}

/// Deletes a service account: its keys stop at once, its workspace roles go with it.
pub fn delete(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    sa_id: &ServiceAccountId,
) -> OpResult<ServiceAccount> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_bot(c, who, account_id, AccountPerm::DeleteBot)?;
        let sa =
            model::find(c, account_id, sa_id.as_str())?.ok_or(OpError::from(Refusal::NotFound))?;
        let keys = crate::apikeys::for_service_account(c, &sa.id)?;
        let reached: Vec<String> = model::workspaces_of(c, &sa.id)?
            .into_iter()
            .map(|(w, _, _)| w.handle)
            .collect();
        model::delete(c, &sa.id)?;
        Event::about(
            "atrium.service_account.deleted",
            who.holder.audit_actor(),
            sa_resource(&sa),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "name": sa.name, "workspaces": reached }))
        .record(c)?;
        for key in &keys {
            Event::about(
                "atrium.api_key.deleted",
                who.holder.audit_actor(),
                key_resource(key),
            )
            .account(account_id)
            .ip(who.ip.clone())
            .payload(json!({ "service_account_id": sa.id, "service_account": sa.name }))
            .record(c)?;
        }
        Ok(sa)
    })
}

/// Sets the role and records it (`granted` or `role_changed`); no event when unchanged.
fn set_access(
    c: &mut DbConn,
    who: &Who,
    ws: &Workspace,
    sa: &ServiceAccount,
    role: &WorkspaceRole,
    before: Option<&BotAccess>,
) -> OpResult<BotAccess> {
    if let Some(b) = before
        && b.role_id == role.id
    {
        return Ok(b.clone());
    }
    model::set_bot_access(c, &ws.id, &sa.id, &role.id)?;
    Event::about(
        if before.is_some() {
            "atrium.workspace_access.role_changed"
        } else {
            "atrium.workspace_access.granted"
        },
        who.holder.audit_actor(),
        sa_resource(sa),
    )
    .account(ws.account_id.clone())
    .workspace(ws.id.clone())
    .ip(who.ip.clone())
    .payload(json!({ "from": before.map(|b| b.role_name.clone()), "to": role.name }))
    .record(c)?;
    model::bot_access(c, &ws.id, &sa.id)?.ok_or(OpError::from(Refusal::NotFound))
}

/// One grant: a service account of the account and a workspace role id.
#[derive(Clone, Debug)]
pub struct Grant {
    pub service_account_id: String,
    pub role_id: String,
}

/// Gives (or changes) the workspace roles of service accounts, all or nothing. Nobody
/// gives a role, or changes one, with scopes they do not hold themselves.
pub fn grant(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    grants: &[Grant],
) -> OpResult<Vec<BotAccess>> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let (ws, granter) = managed_workspace(c, who, account_id, workspace_id)?;
        let many = grants.len() > 1;
        // With several grants, a refused one answers at its own place in the list.
        let at = |i: usize, field: Field, msg: &str| -> OpError {
            let f = FieldErrors::one(field.key(), msg);
            if many {
                Refusal::InvalidItem(i, f).into()
            } else {
                Refusal::Invalid(f).into()
            }
        };
        let mut done = Vec::with_capacity(grants.len());
        for (i, g) in grants.iter().enumerate() {
            let sa = if uuid::Uuid::parse_str(&g.service_account_id).is_ok() {
                model::find(c, account_id, &g.service_account_id)?
            } else {
                None
            };
            let Some(sa) = sa else {
                return Err(at(i, Field::ServiceAccount, UNKNOWN_SERVICE_ACCOUNT));
            };
            let Some(role) = role_of_account(c, account_id, &g.role_id)? else {
                return Err(at(i, Field::Role, UNKNOWN_ROLE));
            };
            if !granter.may_give(&role) {
                return Err(above_own());
            }
            let before = model::bot_access(c, &ws.id, &sa.id)?;
            if !granter.may_replace(c, before.as_ref().map(|b| b.role_id.as_str()))? {
                return Err(above_own());
            }
            done.push(set_access(c, who, &ws, &sa, &role, before.as_ref())?);
        }
        Ok(done)
    })
}

/// Takes a service account's role on the workspace away.
pub fn revoke(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    sa_id: &ServiceAccountId,
) -> OpResult<BotAccess> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let (ws, g) = managed_workspace(c, who, account_id, workspace_id)?;
        let before = model::bot_access(c, &ws.id, sa_id.as_str())?
            .ok_or(OpError::from(Refusal::NotFound))?;
        if !g.may_replace(c, Some(&before.role_id))? {
            return Err(above_own());
        }
        model::remove_bot_access(c, &ws.id, sa_id.as_str())?;
        Event::new(
            "atrium.workspace_access.revoked",
            who.holder.audit_actor(),
            "service_account",
            Some(before.service_account_id.clone()),
            before.name.clone(),
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(who.ip.clone())
        .payload(json!({ "role": before.role_name }))
        .record(c)?;
        Ok(before)
    })
}
