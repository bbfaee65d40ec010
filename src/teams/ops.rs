//! Team operations, shared by the pages and the JSON API: create, rename, delete, add and
//! remove members, and give, change or take away a team's role on a workspace. Each change
//! is one transaction under the account lock that re-checks the caller's rights with
//! current data (`authz::account_permissions` for the team itself; `workspaces::grants` —
//! the same check as for a person — for every role a change gives or takes away) and
//! records its audit event in it.
//!
//! Adding someone to a team gives them the team's roles; removing them, or a team's
//! access, takes those away: both go through the grant check on every workspace the team
//! has a role on, so nobody widens (or narrows) access beyond their own scopes through a
//! team either.

use serde_json::json;

use super::model;
/// What the operations answer with (the JSON API names them).
pub use super::model::{Team, TeamAccess};
use crate::accounts::model::{self as accounts, AccountRole};
use crate::apikeys::KeyHolder;
use crate::audit::{Event, Resource};
use crate::authz::account::AccountPerm;
use crate::db::{DbConn, write_tx};
use crate::outcome::{FieldErrors, OpError, OpResult, Reason, Refusal};
use crate::workspaces::grants::Granter;
use crate::workspaces::model::{self as workspaces, Workspace};

/// Reads that carry no rule of their own (the caller was allowed to see them).
pub use super::model::{
    DESCRIPTION_MAX, Filter, Listed, Member, NAME_MAX, PAGE_SIZE, ViaTeam, access,
    accesses_of_team, accesses_of_workspace, count_in_account, count_members, find, list, members,
    panel_via_teams, via_teams, without_access,
};

pub const NAME_TAKEN: &str = "A team with this name already exists in this account.";
pub const NOT_A_MEMBER: &str = "Only members of the account can join a team.";
pub const ALREADY_IN_TEAM: &str = "They are already in this team.";
pub const UNKNOWN_TEAM: &str = "Choose a team of this account.";
pub const UNKNOWN_ROLE: &str = "Choose a workspace role of this account.";
pub const NO_SUCH_PERSON: &str = "No member of this account has this handle or e-mail address.";

/// Who asks, and from where.
#[derive(Clone, Debug)]
pub struct Who {
    pub holder: KeyHolder,
    pub ip: String,
}

impl Who {
    pub fn user(u: &crate::users::model::User, ip: String) -> Who {
        Who {
            holder: KeyHolder::User(u.clone()),
            ip,
        }
    }
}

fn team_resource(t: &Team) -> Resource {
    Resource {
        kind: "team",
        id: Some(t.id.clone()),
        name: t.name.clone(),
    }
}

/// `read:team` to see them at all (404 otherwise), then `p` (403 otherwise).
fn require_team(c: &mut DbConn, who: &Who, account_id: &str, p: AccountPerm) -> OpResult<()> {
    who.holder.require(c, account_id, AccountPerm::ReadTeam, p)
}

/// The team, for a caller who may see the account's teams (404 otherwise).
pub fn visible(c: &mut DbConn, who: &Who, account_id: &str, team_id: &str) -> OpResult<Team> {
    require_team(c, who, account_id, AccountPerm::ReadTeam)?;
    model::find(c, account_id, team_id)?.ok_or(Refusal::NotFound.into())
}

/// Checked name and description.
fn check(
    c: &mut DbConn,
    account_id: &str,
    name: &str,
    description: &str,
    except: Option<&str>,
) -> OpResult<(String, String)> {
    let mut errors = FieldErrors::default();
    let name = match crate::users::domain::Name::parse(name, "a name", true) {
        Ok(n) => n.as_str().to_string(),
        Err(msg) => {
            errors.add("name", msg);
            String::new()
        }
    };
    let description = description.trim().to_string();
    if description.chars().count() > DESCRIPTION_MAX {
        errors.add("description", "Use at most 1,000 characters.");
    }
    if !name.is_empty() && model::name_taken(c, account_id, &model::normalize(&name), except)? {
        errors.add("name", NAME_TAKEN);
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok((name, description))
}

/// Creates a team (`create:team`); its name is unique in the account, ignoring case.
/// Recorded as `atrium.team.created`.
pub fn create(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    name: &str,
    description: &str,
) -> OpResult<Team> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_team(c, who, account_id, AccountPerm::CreateTeam)?;
        let (name, description) = check(c, account_id, name, description, None)?;
        let team = model::insert(c, account_id, &name, &description)?;
        Event::about(
            "atrium.team.created",
            who.holder.audit_actor(),
            team_resource(&team),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "name": team.name, "description": team.description }))
        .record(c)?;
        Ok(team)
    })
}

/// Renames the team or changes its description (`update:team`). Recorded as
/// `atrium.team.renamed` when the name changed, `atrium.team.updated` otherwise (nothing
/// when nothing changed).
pub fn update(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    team_id: &str,
    name: &str,
    description: &str,
) -> OpResult<Team> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_team(c, who, account_id, AccountPerm::ReadTeam)?;
        let before =
            model::find(c, account_id, team_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        require_team(c, who, account_id, AccountPerm::UpdateTeam)?;
        let (name, description) = check(c, account_id, name, description, Some(team_id))?;
        if name == before.name && description == before.description {
            return Ok(before);
        }
        model::update(c, team_id, &name, &description)?;
        let after = model::find(c, account_id, team_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        let action = if name != before.name {
            "atrium.team.renamed"
        } else {
            "atrium.team.updated"
        };
        Event::about(action, who.holder.audit_actor(), team_resource(&after))
            .account(account_id)
            .ip(who.ip.clone())
            .payload(
                json!({ "from": before.name, "to": after.name, "description": after.description }),
            )
            .record(c)?;
        Ok(after)
    })
}

/// The team's workspace roles on the workspaces `viewer` can see (rule 4 of DESIGN §2: a
/// workspace one has no scope on does not exist for them, even named in a team's list).
/// Owners and Admins see them all; others, one scope check per workspace of the team.
pub fn accesses_of_team_seen_by(
    c: &mut DbConn,
    team: &Team,
    viewer: &KeyHolder,
) -> diesel::QueryResult<Vec<TeamAccess>> {
    let all = model::accesses_of_team(c, &team.id)?;
    if let KeyHolder::User(u) = viewer
        && matches!(
            crate::members::model::role_of(c, &team.account_id, &u.id)?,
            Some(AccountRole::Owner | AccountRole::Admin)
        )
    {
        return Ok(all);
    }
    let mut seen = Vec::with_capacity(all.len());
    for a in all {
        let scopes = crate::workspaces::access::load(
            c,
            &team.account_id,
            &a.workspace_id,
            viewer.actor_ref(),
        )?
        .map(|l| l.scopes)
        .unwrap_or_default();
        if !scopes.is_empty() {
            seen.push(a);
        }
    }
    Ok(seen)
}

/// What deleting a team takes away: its members and its roles on workspaces.
pub struct DeleteImpact {
    pub members: i64,
    pub accesses: Vec<TeamAccess>,
}

pub fn delete_impact(c: &mut DbConn, team_id: &str) -> OpResult<DeleteImpact> {
    Ok(DeleteImpact {
        members: model::count_members(c, team_id)?,
        accesses: model::accesses_of_team(c, team_id)?,
    })
}

/// Every workspace the team has a role on, with the caller as a granter there: taking the
/// team's role away (or giving it to someone new) must be within the caller's scopes on
/// each (`workspaces::grants`, read in this transaction).
fn check_team_roles(c: &mut DbConn, who: &Who, team: &Team) -> OpResult<Vec<TeamAccess>> {
    let accesses = model::accesses_of_team(c, &team.id)?;
    for a in &accesses {
        let Some(g) = Granter::load(c, &team.account_id, &a.workspace_id, who.holder.actor_ref())?
        else {
            return Err(Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into());
        };
        if !g.may_replace(c, Some(&a.role_id))? {
            return Err(Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into());
        }
    }
    Ok(accesses)
}

/// Deletes the team (`delete:team`): its members leave it and its workspace roles go, at
/// the members' next request. Recorded as `atrium.team.deleted` with what it lost.
pub fn delete(c: &mut DbConn, who: &Who, account_id: &str, team_id: &str) -> OpResult<()> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_team(c, who, account_id, AccountPerm::ReadTeam)?;
        let team = model::find(c, account_id, team_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        require_team(c, who, account_id, AccountPerm::DeleteTeam)?;
        let accesses = check_team_roles(c, who, &team)?;
        let members = model::count_members(c, team_id)?;
        model::delete(c, team_id)?;
        Event::about("atrium.team.deleted", who.holder.audit_actor(), team_resource(&team))
            .account(account_id)
            .ip(who.ip.clone())
            .payload(json!({
                "name": team.name,
                "members": members,
                "workspaces": accesses.iter().map(|a| json!({ "workspace": a.workspace_handle, "role": a.role_name })).collect::<Vec<_>>(),
            }))
            .record(c)?;
        Ok(())
    })
}

/// Adds people to the team (`update:team`), all or none: each must be a member of the
/// account (Owner, Admin or Member), and the caller must be able to give the team's role
/// on each of its workspaces (joining a team gives them). Already-members are skipped.
/// Each addition is recorded as `atrium.team.member_added`. Field errors name the item
/// (`InvalidItem`).
pub fn add_members(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    team_id: &str,
    user_ids: &[String],
) -> OpResult<Vec<String>> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_team(c, who, account_id, AccountPerm::ReadTeam)?;
        let team = model::find(c, account_id, team_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        require_team(c, who, account_id, AccountPerm::UpdateTeam)?;
        check_team_roles(c, who, &team)?;
        let mut added = Vec::new();
        for (i, user_id) in user_ids.iter().enumerate() {
            let member = !crate::db::holds_nul(user_id)
                && matches!(
                    crate::members::model::role_of(c, account_id, user_id)?,
                    Some(AccountRole::Owner | AccountRole::Admin | AccountRole::Member)
                );
            if !member {
                return Err(
                    Refusal::InvalidItem(i, FieldErrors::one("member_id", NOT_A_MEMBER)).into(),
                );
            }
            if !model::add_member(c, team_id, user_id)? {
                continue;
            }
            let handle = crate::users::model::find(c, user_id)?
                .map(|u| u.handle)
                .unwrap_or_default();
            Event::about(
                "atrium.team.member_added",
                who.holder.audit_actor(),
                Resource {
                    kind: "user",
                    id: Some(user_id.clone()),
                    name: handle.clone(),
                },
            )
            .account(account_id)
            .ip(who.ip.clone())
            .payload(json!({ "team": team.name, "team_id": team.id }))
            .record(c)?;
            added.push(user_id.clone());
        }
        Ok(added)
    })
}

/// The member of the account named by handle or e-mail (the pages' picker sends the
/// handle; without JavaScript one may type either).
pub fn member_by_handle_or_email(
    c: &mut DbConn,
    account_id: &str,
    who: &str,
) -> OpResult<Option<String>> {
    Ok(workspaces::member_by_handle_or_email(c, account_id, who)?)
}

/// Removes someone from the team (`update:team`; 404 when they are not in it). They lose
/// the team's roles at their next request. Recorded as `atrium.team.member_removed`.
pub fn remove_member(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    team_id: &str,
    user_id: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require_team(c, who, account_id, AccountPerm::ReadTeam)?;
        let team = model::find(c, account_id, team_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        if crate::db::holds_nul(user_id) || !model::is_member(c, team_id, user_id)? {
            return Err(Refusal::NotFound.into());
        }
        require_team(c, who, account_id, AccountPerm::UpdateTeam)?;
        check_team_roles(c, who, &team)?;
        model::remove_member(c, team_id, user_id)?;
        let handle = crate::users::model::find(c, user_id)?
            .map(|u| u.handle)
            .unwrap_or_default();
        Event::about(
            "atrium.team.member_removed",
            who.holder.audit_actor(),
            Resource {
                kind: "user",
                id: Some(user_id.to_string()),
                name: handle,
            },
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "team": team.name, "team_id": team.id }))
        .record(c)?;
        Ok(())
    })
}

/// The workspace, when the caller may manage its teams: 404 when they may not see who has
/// access (`see_workspace_users`), 403 without `manage_workspace_teams`.
fn managed_workspace(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
) -> OpResult<(Workspace, Granter)> {
    let Some(g) = Granter::load(c, account_id, workspace_id, who.holder.actor_ref())? else {
        return Err(Refusal::NotFound.into());
    };
    if !g.has("see_workspace_users") {
        return Err(Refusal::NotFound.into());
    }
    if !g.has("manage_workspace_teams") {
        return Err(Refusal::Forbidden(None).into());
    }
    Ok((g.workspace().clone(), g))
}

/// Gives `team_id` the role `role_id` on the workspace, inside the caller's transaction:
/// the team and the role must be the workspace's account's, and the granter must hold every
/// scope of the new role and of the one it replaces (the one check for people too).
/// Recorded as `atrium.team_access.granted` or `….role_changed`.
fn grant_in(
    c: &mut DbConn,
    who: &Who,
    g: &Granter,
    ws: &Workspace,
    team_id: &str,
    role_id: &str,
) -> OpResult<TeamAccess> {
    let Some(team) = model::find(c, &ws.account_id, team_id)? else {
        return Err(FieldErrors::one("team_id", UNKNOWN_TEAM).into());
    };
    let role = if uuid::Uuid::parse_str(role_id).is_ok() {
        workspaces::role(c, role_id)?.filter(|r| r.usable_in(&ws.account_id))
    } else {
        None
    };
    let Some(role) = role else {
        return Err(FieldErrors::one("workspace_role_id", UNKNOWN_ROLE).into());
    };
    if !g.may_give(&role) {
        return Err(Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into());
    }
    let before = model::access(c, &ws.id, team_id)?;
    if !g.may_replace(c, before.as_ref().map(|b| b.role_id.as_str()))? {
        return Err(Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into());
    }
    if let Some(b) = before.as_ref().filter(|b| b.role_id == role.id) {
        return Ok(b.clone());
    }
    model::set_access(c, &ws.id, team_id, &role.id)?;
    Event::about(
        if before.is_some() {
            "atrium.team_access.role_changed"
        } else {
            "atrium.team_access.granted"
        },
        who.holder.audit_actor(),
        team_resource(&team),
    )
    .account(ws.account_id.clone())
    .workspace(ws.id.clone())
    .ip(who.ip.clone())
    .payload(json!({ "from": before.map(|b| b.role_name), "to": role.name }))
    .record(c)?;
    model::access(c, &ws.id, team_id)?
        .ok_or_else(|| OpError::Internal(anyhow::anyhow!("team access just granted")))
}

/// Gives (or changes) one team's role on the workspace (`manage_workspace_teams`).
pub fn grant(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    team_id: &str,
    role_id: &str,
) -> OpResult<TeamAccess> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let (ws, g) = managed_workspace(c, who, account_id, workspace_id)?;
        grant_in(c, who, &g, &ws, team_id, role_id)
    })
}

/// Gives each `(team_id, role_id)` its role on the workspace, all or none (the API's
/// `PUT team_access/`); a refused item answers `InvalidItem` with its index.
pub fn grant_all(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    wanted: &[(String, String)],
) -> OpResult<Vec<TeamAccess>> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let (ws, g) = managed_workspace(c, who, account_id, workspace_id)?;
        let mut done = Vec::new();
        for (i, (team_id, role_id)) in wanted.iter().enumerate() {
            match grant_in(c, who, &g, &ws, team_id, role_id) {
                Ok(a) => done.push(a),
                Err(OpError::Refused(Refusal::Invalid(f))) => {
                    return Err(Refusal::InvalidItem(i, f).into());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    })
}

/// Takes the team's role on the workspace away (`manage_workspace_teams`; 404 when it has
/// none); refused when that role has scopes the remover lacks. Its members lose it at their
/// next request. Recorded as `atrium.team_access.revoked`.
pub fn revoke(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    team_id: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        let (ws, g) = managed_workspace(c, who, account_id, workspace_id)?;
        if crate::db::holds_nul(team_id) {
            return Err(Refusal::NotFound.into());
        }
        let Some(before) = model::access(c, &ws.id, team_id)? else {
            return Err(Refusal::NotFound.into());
        };
        if !g.may_replace(c, Some(&before.role_id))? {
            return Err(Refusal::Forbidden(Some(Reason::AboveOwnScopes)).into());
        }
        model::remove_access(c, &ws.id, team_id)?;
        Event::about(
            "atrium.team_access.revoked",
            who.holder.audit_actor(),
            Resource {
                kind: "team",
                id: Some(before.team_id.clone()),
                name: before.team_name.clone(),
            },
        )
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(who.ip.clone())
        .payload(json!({ "role": before.role_name }))
        .record(c)?;
        Ok(())
    })
}

/// The teams with a role on the workspace, for a caller who may see who has access
/// (`see_workspace_users`; 404 otherwise).
pub fn accesses_for(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    workspace_id: &str,
    offset: i64,
    limit: i64,
) -> OpResult<Vec<TeamAccess>> {
    let Some(g) = Granter::load(c, account_id, workspace_id, who.holder.actor_ref())? else {
        return Err(Refusal::NotFound.into());
    };
    if !g.has("see_workspace_users") {
        return Err(Refusal::NotFound.into());
    }
    Ok(model::accesses_of_workspace(
        c,
        workspace_id,
        offset,
        limit,
    )?)
}
