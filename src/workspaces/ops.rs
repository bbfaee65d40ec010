//! Workspace operations, shared by the pages and the JSON API: create, save the settings
//! (name, handle, description, default role), delete, and give, change or take away a
//! person's workspace role. Each change is one transaction under the account lock that
//! re-checks the actor's rights with current data and records its audit event in it.

use serde::Deserialize;

use serde_json::json;

use super::access::ActorRef;
use super::grants::Granter;
use super::model::{self as workspaces, NewWorkspace};
use crate::accounts::model as accounts;
use crate::audit::{Actor, Event};
use crate::authz::{AccountPerm, PermSet};
use crate::db::{DbConn, write_tx};
use crate::ids::UserId;
use crate::outcome::{FieldErrors, OpError, OpResult, Reason, Refusal, forbidden, invalid, refuse};
use crate::users::domain::{Handle, Name};
use crate::users::model::User;

/// Reads that carry no rule of their own (the caller was allowed to see them).
pub use super::model::{
    LIST_PAGE, ListPage, Reachable, UserAccess, Workspace, WorkspaceRole, account_of,
    count_user_accesses, delete_counts, find, grantable, in_account, list_page,
    member_by_handle_or_email, members_without_access, note_visit, reachable, role,
    roles_for_account, user_access, user_access_by_id, user_accesses, user_accesses_page,
};

#[derive(Deserialize, Default, Clone)]
pub struct WorkspaceForm {
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub description: String,
}

pub struct ValidWorkspace {
    pub name: Name,
    pub handle: Handle,
    pub description: String,
}

pub fn validate(form: &WorkspaceForm) -> Result<ValidWorkspace, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = Name::parse(&form.name, "a name", true)
        .map_err(|e| errors.add("name", e))
        .ok();
    let handle = Handle::parse_len(&form.handle, 1)
        .map_err(|e| errors.add("handle", e))
        .ok();
    let description = form.description.trim().to_string();
    if description.chars().count() > 500 {
        errors.add("description", "Descriptions are at most 500 characters.");
    } else if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(
            "description",
            "Descriptions cannot contain control characters.",
        );
    }
    match (name, handle) {
        (Some(name), Some(handle)) if errors.is_empty() => Ok(ValidWorkspace {
            name,
            handle,
            description,
        }),
        _ => Err(errors),
    }
}

pub const HANDLE_TAKEN: &str = "This account already has a workspace with this handle.";

/// Creates a workspace of `account_id` for `user` in one transaction, deciding with current
/// data: the user's role now (403 without `create:workspace`), the handle free in the
/// account, the account's workspace limit. The creator gets the Owner role on it;
/// `atrium.workspace.created` is recorded. Refused for the input: field errors.
pub fn create(
    c: &mut DbConn,
    account_id: &str,
    user: &User,
    valid: &ValidWorkspace,
    ip: String,
) -> OpResult<Workspace> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let Some(account) = accounts::find(c, account_id)? else {
            return refuse(Refusal::NotFound);
        };
        let role = crate::members::ops::role_of(c, account_id, &user.id)?;
        if !role.is_some_and(|r| PermSet::of_role(r).has(AccountPerm::CreateWorkspace)) {
            return refuse(Refusal::Forbidden(None));
        }
        let mut errors = FieldErrors::default();
        if workspaces::handle_taken(c, account_id, valid.handle.as_str())? {
            errors.add("handle", HANDLE_TAKEN);
            return refuse(Refusal::Invalid(errors));
        }
        if let Some(limit) = account.workspace_limit
            && workspaces::count_in_account(c, account_id)? >= limit
        {
            errors.add(
                "name",
                format!(
                    "{} has reached its limit of {limit} workspace{}. Delete one, or ask an Owner to raise the limit in the account settings.",
                    account.name,
                    if limit == 1 { "" } else { "s" }
                ),
            );
            return refuse(Refusal::Invalid(errors));
        }
        let ws = workspaces::create(
            c,
            &NewWorkspace {
                account_id,
                name: valid.name.as_str(),
                handle: valid.handle.as_str(),
                description: &valid.description,
            },
            &user.id,
        )?;
        workspaces::record_visit(c, &user.id, &ws.id)?;
        Event::new(
            "atrium.workspace.created",
            crate::audit::Actor::user(user),
            "workspace",
            Some(ws.id.clone()),
            ws.handle.clone(),
        )
        .account(account_id.to_string())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({ "name": ws.name, "handle": ws.handle, "description": ws.description }))
        .record(c)?;
        Ok(ws)
    })
}

pub const NO_ACCESS: &str = "none";

pub const DEFAULT_ROLE_CHOICE: &str = "Choose a role of this account, or No Access.";

/// Saves name, handle, description and default role (`None` = No Access) in one
/// transaction, recorded as `atrium.workspace.updated` (or
/// `atrium.workspace.default_role_changed` when only the default role changed). Changing
/// the default role widens (or narrows) what everyone in the account may do: the changer
/// must hold every scope of the old and the new default ([`Granter::may_set_default`],
/// read inside this transaction; 403 otherwise). A handle taken by another workspace of
/// the account: a field error.
pub fn save(
    c: &mut DbConn,
    granter: ActorRef<'_>,
    ws: &Workspace,
    valid: &ValidWorkspace,
    new_default_id: Option<String>,
    actor: Actor,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, granter)? else {
            return refuse(Refusal::NotFound);
        };
        if !g.may_set_default(c, new_default_id.as_deref())? {
            return forbidden(Reason::AboveOwnScopes);
        }
        // The workspace as it is now (the request's copy may be older).
        let ws = g.workspace();
        if valid.handle.as_str() != ws.handle
            && workspaces::handle_taken(c, &ws.account_id, valid.handle.as_str())?
        {
            return invalid("handle", HANDLE_TAKEN);
        }
        let role_name = |c: &mut DbConn, id: &Option<String>| -> OpResult<Option<String>> {
            Ok(match id {
                Some(id) => workspaces::role(c, id)?.map(|r| r.name),
                None => None,
            })
        };
        let old_default = role_name(c, &ws.default_role_id)?;
        let new_default = role_name(c, &new_default_id)?;
        workspaces::update_settings(
            c,
            &ws.id,
            valid.name.as_str(),
            valid.handle.as_str(),
            &valid.description,
            new_default_id.as_deref(),
        )?;
        // A change of the default role alone has its own name in the audit log.
        Event::new(
            if valid.name.as_str() == ws.name
                && valid.handle.as_str() == ws.handle
                && valid.description == ws.description
                && new_default_id != ws.default_role_id
            {
                "atrium.workspace.default_role_changed"
            } else {
                "atrium.workspace.updated"
            },
            actor,
            "workspace",
            Some(ws.id.clone()),
            valid.handle.as_str(),
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({
            "name": { "from": ws.name, "to": valid.name.as_str() },
            "handle": { "from": ws.handle, "to": valid.handle.as_str() },
            "description": { "from": ws.description, "to": valid.description },
            "default_role": { "from": old_default, "to": new_default },
        }))
        .record(c)?;
        Ok(())
    })
}

/// Deletes the workspace in one transaction; accesses (people's, service accounts' and
/// teams'), invitations and its data go with it, and so do the Collaborators whose last access in the account it held
/// (a Collaborator exists only through a workspace access, DESIGN §1). Recorded as
/// `atrium.workspace.deleted` in the account's audit log.
pub fn delete(c: &mut DbConn, ws: &Workspace, actor: Actor, ip: String) -> OpResult<()> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let (accesses, bot_accesses, invitations) = workspaces::delete_counts(c, &ws.id)?;
        let holders = workspaces::users_with_access(c, &ws.id)?;
        // Team accesses go with the workspace (foreign keys); counted for the record.
        let team_accesses = crate::teams::model::count_accesses_of_workspace(c, &ws.id)?;
        if workspaces::delete(c, &ws.account_id, &ws.id)? == 0 {
            // A concurrent transfer or delete got there first.
            return refuse(Refusal::NotFound);
        }
        crate::faults::point("delete_after_rows");
        let mut collaborators_removed = 0;
        for user_id in &holders {
            if workspaces::drop_collaborator_without_access(c, &ws.account_id, user_id)? {
                collaborators_removed += 1;
            }
        }
        Event::new("atrium.workspace.deleted", actor, "workspace", Some(ws.id.clone()), ws.handle.clone()).account(ws.account_id.clone()).workspace(ws.id.clone()).ip(ip).payload(json!({ "name": ws.name, "handle": ws.handle, "member_accesses": accesses, "service_account_accesses": bot_accesses, "team_accesses": team_accesses, "pending_invitations": invitations, "collaborators_removed": collaborators_removed })).record(c)?;
        crate::faults::point("delete_before_commit");
        Ok(())
    })
}

pub const ROLE_CHOICE: &str = "Choose a role of this account.";

pub const NOT_A_MEMBER: &str = "Only members of the account can be added.";

/// Grants (or changes) a user's role in one transaction, re-checking under the lock.
pub fn grant_one(
    c: &mut DbConn,
    ws: &workspaces::Workspace,
    actor: &crate::users::model::User,
    user_id: &str,
    role_id: &str,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, ActorRef::User(&actor.id))? else {
            return refuse(Refusal::NotFound);
        };
        grant(c, &g, ws, Actor::user(actor), user_id, role_id, ip)
    })
}

/// Gives `user_id` the role `role_id` on the workspace (insert or change), inside the
/// caller's transaction with the account locked: the role must be one of the account's,
/// the user a member, and the granter must hold every scope of the new role and of the role
/// it replaces (`g`, their scopes read in this transaction: [`Granter::load`], once per
/// transaction however many grants it makes). Recorded as
/// `atrium.workspace_access.granted` or `….role_changed`.
pub fn grant(
    c: &mut DbConn,
    g: &Granter,
    ws: &workspaces::Workspace,
    actor: Actor,
    user_id: &str,
    role_id: &str,
    ip: String,
) -> OpResult<()> {
    {
        let Some(role) = workspaces::role(c, role_id)?.filter(|r| {
            r.account_id.is_none() || r.account_id.as_deref() == Some(ws.account_id.as_str())
        }) else {
            return invalid("workspace_role_id", ROLE_CHOICE);
        };
        if !g.may_give(&role) {
            return forbidden(Reason::AboveOwnScopes);
        }
        if crate::members::ops::role_of(c, &ws.account_id, user_id)?.is_none() {
            return invalid("user_id", NOT_A_MEMBER);
        }
        let before = workspaces::user_access(c, &ws.id, user_id)?;
        if !g.may_replace(c, before.as_ref().map(|b| b.role_id.as_str()))? {
            return forbidden(Reason::AboveOwnScopes);
        }
        if before.as_ref().is_some_and(|b| b.role_id == role.id) {
            // The same role again: nothing changes, nothing is recorded.
            return Ok(());
        }
        workspaces::set_user_access(c, &ws.id, user_id, &role.id)?;
        let after = workspaces::user_access(c, &ws.id, user_id)?;
        let handle = after.as_ref().map(|a| a.handle.clone()).unwrap_or_default();
        Event::new(
            if before.is_some() {
                "atrium.workspace_access.role_changed"
            } else {
                "atrium.workspace_access.granted"
            },
            actor,
            "user",
            Some(user_id.into()),
            handle,
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({ "from": before.map(|b| b.role_name), "to": role.name }))
        .record(c)?;
        Ok(())
    }
}

/// Removes `user_id`'s access to the workspace in one transaction (404 when they have
/// none); refused when the role they hold has scopes the remover lacks. A Collaborator
/// whose last access in the account this was stops being a member. Recorded as
/// `atrium.workspace_access.revoked`.
pub fn revoke(
    c: &mut DbConn,
    granter: ActorRef<'_>,
    ws: &workspaces::Workspace,
    actor: Actor,
    user: &UserId,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, &ws.account_id)?;
        let Some(before) = workspaces::user_access(c, &ws.id, user.as_str())? else {
            return refuse(Refusal::NotFound);
        };
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, granter)? else {
            return refuse(Refusal::NotFound);
        };
        if !g.may_replace(c, Some(&before.role_id))? {
            return forbidden(Reason::AboveOwnScopes);
        }
        workspaces::remove_user_access(c, &ws.id, user.as_str())?;
        workspaces::drop_collaborator_without_access(c, &ws.account_id, user.as_str())?;
        Event::new(
            "atrium.workspace_access.revoked",
            actor,
            "user",
            Some(user.as_str().to_string()),
            before.handle.clone(),
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
        .payload(json!({ "role": before.role_name }))
        .record(c)?;
        Ok(())
    })
}

/// Gives each `(user_id, workspace_role_id)` of a list its role on the workspace, all or
/// none, in one transaction under the account lock (the API's `user_access` bodies). A
/// refused item answers [`Refusal::InvalidItem`] with its index (or 403 above one's own
/// scopes); the accesses as they are afterwards otherwise.
pub fn grant_all(
    c: &mut DbConn,
    granter: ActorRef<'_>,
    ws: &Workspace,
    actor: Actor,
    wanted: &[(String, String)],
    ip: String,
) -> OpResult<Vec<UserAccess>> {
    write_tx(c, |c| {
        accounts::lock(c, &ws.account_id)?;
        let Some(g) = Granter::load(c, &ws.account_id, &ws.id, granter)? else {
            return refuse(Refusal::NotFound);
        };
        let mut done = Vec::new();
        for (i, (user_id, role_id)) in wanted.iter().enumerate() {
            match grant(c, &g, ws, actor.clone(), user_id, role_id, ip.clone()) {
                Ok(()) => {}
                Err(OpError::Refused(Refusal::Invalid(f))) => {
                    return refuse(Refusal::InvalidItem(i, f));
                }
                Err(e) => return Err(e),
            }
            let access = workspaces::user_access(c, &ws.id, user_id)?
                .ok_or_else(|| OpError::Internal(anyhow::anyhow!("access just granted")))?;
            done.push(access);
        }
        Ok(done)
    })
}
