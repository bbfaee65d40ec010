//! Custom workspace roles: the form's rules, create, update, delete (refused while the role
//! is in use). Each change is one transaction under the account lock, with its audit event.

use serde_json::json;

use crate::audit::{Actor, Event};
use crate::authz::workspace::{BuiltinRole, ScopeSet, close};
use crate::db::{DbConn, write_tx};
use crate::outcome::{FieldErrors, OpResult, Refusal, invalid, refuse};
use crate::users::domain::Name;
use crate::workspaces::model as workspaces;

/// Reads that carry no rule of their own.
pub use crate::workspaces::model::{
    WorkspaceRole, builtin_role_id, custom_roles, role, roles_for_account,
};

/// The role form, parsed from a urlencoded body (repeated `scopes` fields).
#[derive(Default, Clone)]
pub struct RoleForm {
    pub name: String,
    pub description: String,
    /// A built-in role's name (`BuiltinRole::as_str`), or empty for none.
    pub inherit: String,
    pub scopes: Vec<String>,
}

impl RoleForm {
    /// The form from a urlencoded body (`scopes` repeated).
    pub fn parse(body: &[u8]) -> Self {
        let mut f = RoleForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "name" => f.name = v.into_owned(),
                "description" => f.description = v.into_owned(),
                "inherit" => f.inherit = v.into_owned(),
                "scopes" => f.scopes.push(v.into_owned()),
                _ => {}
            }
        }
        f
    }

    pub fn of(r: &WorkspaceRole) -> Self {
        RoleForm {
            name: r.name.clone(),
            description: r.description.clone(),
            inherit: r.inherited_role.clone().unwrap_or_default(),
            scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
        }
    }
}

pub struct ValidRole {
    pub name: String,
    pub description: String,
    pub inherit: Option<BuiltinRole>,
    pub scopes: ScopeSet,
}

/// Parses a role form: the page's field names (`name`, `description`, `inherit`, `scopes`).
pub fn validate(f: &RoleForm) -> Result<ValidRole, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = Name::parse(&f.name, "a name", true)
        .map_err(|e| errors.add("name", e))
        .ok();
    let description = f.description.trim().to_string();
    if description.chars().count() > 140 {
        errors.add("description", "Descriptions are at most 140 characters.");
    } else if description.chars().any(char::is_control) {
        // NUL cannot be stored by PostgreSQL; line breaks have no place in a one-line field.
        errors.add(
            "description",
            "Descriptions cannot contain line breaks or control characters.",
        );
    }
    let inherit = if f.inherit.is_empty() {
        None
    } else {
        match BuiltinRole::parse(&f.inherit) {
            Some(b) => Some(b),
            None => {
                errors.add("inherit", "Choose a built-in role, or none.");
                None
            }
        }
    };
    if let Some(bad) = f
        .scopes
        .iter()
        .find(|s| !crate::authz::workspace::is_scope(s))
    {
        errors.add("scopes", format!("Unknown scope {bad:?}."));
    }
    let scopes = close(f.scopes.iter().map(String::as_str));
    if scopes.is_empty() && inherit.is_none() {
        errors.add(
            "scopes",
            "Tick at least one scope, or inherit a built-in role.",
        );
    }
    match name {
        Some(n) if errors.is_empty() => Ok(ValidRole {
            name: n.as_str().to_string(),
            description,
            inherit,
            scopes,
        }),
        _ => Err(errors),
    }
}

pub const NAME_TAKEN: &str = "A role with this name already exists in this account.";

/// Creates (`role_id` None) or updates the account's custom role in one transaction; 404
/// when `role_id` is not a custom role of the account; a field error when the name is
/// taken (built-in role names included), and nothing changed. Answers the role's id. Recorded as `atrium.role.created` / `….updated`.
pub fn save(
    c: &mut DbConn,
    aid: &str,
    rid: Option<&str>,
    valid: &ValidRole,
    actor: Actor,
    ip: String,
) -> OpResult<String> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, aid)?;
        if let Some(id) = rid
            && !workspaces::custom_roles(c, aid)?.iter().any(|r| r.id == id)
        {
            return refuse(Refusal::NotFound);
        }
        if workspaces::role_name_taken(c, aid, &valid.name, rid)? {
            return invalid("name", NAME_TAKEN);
        }
        let names: Vec<&str> = valid.scopes.names();
        let id = workspaces::save_custom_role(
            c,
            rid,
            aid,
            &valid.name,
            &valid.description,
            &serde_json::to_string(&names).unwrap_or_else(|_| "[]".into()),
            valid.inherit.map(BuiltinRole::as_str),
        )?;
        Event::new(if rid.is_some() {
                    "atrium.role.updated"
                } else {
                    "atrium.role.created"
                }, actor, "workspace_role", Some(id.clone()), valid.name.clone()).account(aid.to_string()).ip(ip).payload(json!({ "scopes": names, "inherit": valid.inherit.map(BuiltinRole::as_str), "description": valid.description })).record(c)?;
        Ok(id)
    })
}

/// Deletes the account's custom role in one transaction, unless it is in use (held by
/// someone, a workspace's default role, offered by an invitation): then `Some` of the
/// message naming where, and nothing changes. Recorded as `atrium.role.deleted`.
pub fn delete(
    c: &mut DbConn,
    aid: &str,
    role: &WorkspaceRole,
    actor: Actor,
    ip: String,
) -> OpResult<Option<String>> {
    write_tx(c, |c| {
        crate::accounts::model::lock(c, aid)?;
        let usage = workspaces::role_usage(c, &role.id)?;
        if !usage.is_empty() {
            let mut parts = Vec::new();
            if !usage.held.is_empty() {
                parts.push(format!("held by members of {}", usage.held.join(", ")));
            }
            if !usage.default_of.is_empty() {
                parts.push(format!(
                    "the default role of {}",
                    usage.default_of.join(", ")
                ));
            }
            if !usage.invited.is_empty() {
                parts.push(format!(
                    "offered by pending invitations to {}",
                    usage.invited.join(", ")
                ));
            }
            return Ok(Some(format!(
                "{} is still in use: {}. Change those first.",
                role.name,
                parts.join("; ")
            )));
        }
        if workspaces::delete_role(c, aid, &role.id)? == 0 {
            return refuse(Refusal::NotFound);
        }
        Event::new(
            "atrium.role.deleted",
            actor,
            "workspace_role",
            Some(role.id.clone()),
            role.name.clone(),
        )
        .account(aid.to_string())
        .ip(ip)
        .record(c)?;
        Ok(None)
    })
}
