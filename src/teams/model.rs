//! Team queries: teams of an account, their members, and their roles on workspaces.

use diesel::prelude::*;

use crate::db::schema::{
    team_members, teams, users, workspace_roles, workspace_team_access, workspaces,
};
use crate::db::{DbConn, new_id, now};
use crate::workspaces::model::WorkspaceRole;

/// Teams of one account shown per page.
pub const PAGE_SIZE: i64 = 50;
/// The longest team name (characters).
pub const NAME_MAX: usize = 100;
/// The longest description (characters).
pub const DESCRIPTION_MAX: usize = 1000;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = teams)]
pub struct Team {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub name_normalized: String,
    pub description: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// The key a team name is unique by in its account (and sorted and searched by).
pub fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A team in the account's list, with how many members it has and how many workspaces it
/// has a role on.
#[derive(Clone, Debug)]
pub struct Listed {
    pub team: Team,
    pub members: i64,
    pub workspaces: i64,
}

/// The team `id` of account `account_id`.
pub fn find(c: &mut DbConn, account_id: &str, id: &str) -> QueryResult<Option<Team>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    teams::table
        .filter(teams::id.eq(id))
        .filter(teams::account_id.eq(account_id))
        .select(Team::as_select())
        .first(c)
        .optional()
}

/// Is `normalized` the name of a team of the account other than `except`?
pub fn name_taken(
    c: &mut DbConn,
    account_id: &str,
    normalized: &str,
    except: Option<&str>,
) -> QueryResult<bool> {
    let mut q = teams::table
        .filter(teams::account_id.eq(account_id))
        .filter(teams::name_normalized.eq(normalized))
        .into_boxed();
    if let Some(id) = except {
        q = q.filter(teams::id.ne(id.to_string()));
    }
    Ok(q.count().get_result::<i64>(c)? > 0)
}

pub fn insert(
    c: &mut DbConn,
    account_id: &str,
    name: &str,
    description: &str,
) -> QueryResult<Team> {
    let at = now();
    let id = new_id();
    diesel::insert_into(teams::table)
        .values((
            teams::id.eq(&id),
            teams::account_id.eq(account_id),
            teams::name.eq(name),
            teams::name_normalized.eq(normalize(name)),
            teams::description.eq(description),
            teams::created_at.eq(at),
            teams::updated_at.eq(at),
        ))
        .execute(c)?;
    teams::table.find(&id).select(Team::as_select()).first(c)
}

pub fn update(c: &mut DbConn, id: &str, name: &str, description: &str) -> QueryResult<usize> {
    diesel::update(teams::table.find(id))
        .set((
            teams::name.eq(name),
            teams::name_normalized.eq(normalize(name)),
            teams::description.eq(description),
            teams::updated_at.eq(now()),
        ))
        .execute(c)
}

/// Deletes the team; its members and workspace accesses go with it (`ON DELETE CASCADE`,
/// foreign keys enforced on both backends).
pub fn delete(c: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(teams::table.find(id)).execute(c)
}

/// Filter and keyset position of the account's team list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// A case-insensitive part of the name.
    pub q: String,
    /// Only teams with one of these ids (the API's `teams.id.any_`).
    pub ids: Option<Vec<String>>,
    /// Only teams named (exactly, ignoring case) one of these.
    pub names: Option<Vec<String>>,
    /// Only teams with one of these members.
    pub member_ids: Option<Vec<String>>,
    /// Only teams with a role on one of these workspaces.
    pub workspace_ids: Option<Vec<String>>,
    /// Only teams holding one of these roles on some workspace.
    pub role_ids: Option<Vec<String>>,
    /// After this `(name_normalized, id)` in the list's order (keyset paging, pages):
    /// greater by name, or smaller with `descending`.
    pub after: Option<(String, String)>,
    /// Newest first by name (`NAME_DESC`) instead of by name.
    pub descending: bool,
    /// Sort by creation time instead of name.
    pub by_created: bool,
    pub offset: i64,
    pub limit: i64,
}

fn like_pattern(q: &str) -> String {
    format!(
        "%{}%",
        q.trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The account's teams matching `f`, with their counts.
pub fn list(c: &mut DbConn, account_id: &str, f: &Filter) -> QueryResult<Vec<Listed>> {
    let members = team_members::table
        .filter(team_members::team_id.eq(teams::id))
        .count()
        .single_value();
    let accesses = workspace_team_access::table
        .filter(workspace_team_access::team_id.eq(teams::id))
        .count()
        .single_value();
    let mut q = teams::table
        .filter(teams::account_id.eq(account_id.to_string()))
        .into_boxed();
    if !f.q.trim().is_empty() {
        q = q.filter(teams::name_normalized.like(like_pattern(&f.q)).escape('\\'));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(teams::id.eq_any(ids.clone()));
    }
    if let Some(names) = &f.names {
        q = q.filter(
            teams::name_normalized.eq_any(names.iter().map(|n| normalize(n)).collect::<Vec<_>>()),
        );
    }
    if let Some(ids) = &f.member_ids {
        q = q.filter(
            teams::id.eq_any(
                team_members::table
                    .filter(team_members::user_id.eq_any(ids.clone()))
                    .select(team_members::team_id),
            ),
        );
    }
    if let Some(ids) = &f.workspace_ids {
        q = q.filter(
            teams::id.eq_any(
                workspace_team_access::table
                    .filter(workspace_team_access::workspace_id.eq_any(ids.clone()))
                    .select(workspace_team_access::team_id),
            ),
        );
    }
    if let Some(ids) = &f.role_ids {
        q = q.filter(
            teams::id.eq_any(
                workspace_team_access::table
                    .filter(workspace_team_access::role_id.eq_any(ids.clone()))
                    .select(workspace_team_access::team_id),
            ),
        );
    }
    // "After" in the list's order: by name upwards, or downwards with `descending` (the
    // pages' "Previous" reads backwards from the first row shown).
    match (&f.after, f.descending) {
        (Some((name, id)), false) => {
            q = q.filter(
                teams::name_normalized
                    .gt(name.clone())
                    .or(teams::name_normalized
                        .eq(name.clone())
                        .and(teams::id.gt(id.clone()))),
            );
        }
        (Some((name, id)), true) => {
            q = q.filter(
                teams::name_normalized
                    .lt(name.clone())
                    .or(teams::name_normalized
                        .eq(name.clone())
                        .and(teams::id.lt(id.clone()))),
            );
        }
        (None, _) => {}
    }
    q = match (f.by_created, f.descending) {
        (false, false) => q.order((teams::name_normalized.asc(), teams::id.asc())),
        (false, true) => q.order((teams::name_normalized.desc(), teams::id.desc())),
        (true, false) => q.order((teams::created_at.asc(), teams::id.asc())),
        (true, true) => q.order((teams::created_at.desc(), teams::id.desc())),
    };
    let rows: Vec<(Team, Option<i64>, Option<i64>)> = q
        .offset(f.offset)
        .limit(f.limit)
        .select((Team::as_select(), members, accesses))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(team, m, w)| Listed {
            team,
            members: m.unwrap_or(0),
            workspaces: w.unwrap_or(0),
        })
        .collect())
}

/// How many teams the account has.
pub fn count_in_account(c: &mut DbConn, account_id: &str) -> QueryResult<i64> {
    teams::table
        .filter(teams::account_id.eq(account_id))
        .count()
        .get_result(c)
}

/// A member of a team.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: String,
    pub handle: String,
    pub name: String,
    pub email: String,
    pub added_at: chrono::NaiveDateTime,
}

/// Members of the team by handle, after `after` (keyset paging), at most `limit`.
pub fn members(
    c: &mut DbConn,
    team_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Member>> {
    let mut q = team_members::table
        .inner_join(users::table)
        .filter(team_members::team_id.eq(team_id.to_string()))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(team_members::handle.gt(a.to_string()));
    }
    let rows: Vec<(
        String,
        String,
        String,
        String,
        String,
        chrono::NaiveDateTime,
    )> = q
        .order(team_members::handle.asc())
        .limit(limit)
        .select((
            users::id,
            users::handle,
            users::first_name,
            users::last_name,
            users::email,
            team_members::created_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, handle, first, last, email, added_at)| Member {
            user_id,
            name: {
                let n = format!("{first} {last}").trim().to_string();
                if n.is_empty() { handle.clone() } else { n }
            },
            handle,
            email,
            added_at,
        })
        .collect())
}

pub fn count_members(c: &mut DbConn, team_id: &str) -> QueryResult<i64> {
    team_members::table
        .filter(team_members::team_id.eq(team_id))
        .count()
        .get_result(c)
}

pub fn is_member(c: &mut DbConn, team_id: &str, user_id: &str) -> QueryResult<bool> {
    Ok(team_members::table
        .filter(team_members::team_id.eq(team_id))
        .filter(team_members::user_id.eq(user_id))
        .count()
        .get_result::<i64>(c)?
        > 0)
}

/// Adds the user to the team; `false` when they already are in it.
pub fn add_member(c: &mut DbConn, team_id: &str, user_id: &str) -> QueryResult<bool> {
    if is_member(c, team_id, user_id)? {
        return Ok(false);
    }
    let handle: String = users::table.find(user_id).select(users::handle).first(c)?;
    diesel::insert_into(team_members::table)
        .values((
            team_members::id.eq(new_id()),
            team_members::team_id.eq(team_id),
            team_members::user_id.eq(user_id),
            team_members::handle.eq(handle),
            team_members::created_at.eq(now()),
        ))
        .execute(c)?;
    Ok(true)
}

pub fn remove_member(c: &mut DbConn, team_id: &str, user_id: &str) -> QueryResult<usize> {
    diesel::delete(
        team_members::table
            .filter(team_members::team_id.eq(team_id))
            .filter(team_members::user_id.eq(user_id)),
    )
    .execute(c)
}

/// The user leaves every team of the account (they left it or were removed from it).
pub fn remove_user_from_account_teams(
    c: &mut DbConn,
    account_id: &str,
    user_id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        team_members::table
            .filter(team_members::user_id.eq(user_id))
            .filter(
                team_members::team_id.eq_any(
                    teams::table
                        .filter(teams::account_id.eq(account_id))
                        .select(teams::id),
                ),
            ),
    )
    .execute(c)
}

/// A team's role on a workspace.
#[derive(Clone, Debug)]
pub struct TeamAccess {
    pub id: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub workspace_handle: String,
    pub team_id: String,
    pub team_name: String,
    pub role_id: String,
    pub role_name: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

type AccessRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
);

fn to_access(
    (
        id,
        workspace_id,
        workspace_name,
        workspace_handle,
        team_id,
        team_name,
        role_id,
        role_name,
        created_at,
        updated_at,
    ): AccessRow,
) -> TeamAccess {
    TeamAccess {
        id,
        workspace_id,
        workspace_name,
        workspace_handle,
        team_id,
        team_name,
        role_id,
        role_name,
        created_at,
        updated_at,
    }
}

macro_rules! access_select {
    () => {
        (
            workspace_team_access::id,
            workspaces::id,
            workspaces::name,
            workspaces::handle,
            teams::id,
            teams::name,
            workspace_roles::id,
            workspace_roles::name,
            workspace_team_access::created_at,
            workspace_team_access::updated_at,
        )
    };
}

/// The teams with a role on the workspace, by team name.
pub fn accesses_of_workspace(
    c: &mut DbConn,
    workspace_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<TeamAccess>> {
    let rows: Vec<AccessRow> = workspace_team_access::table
        .inner_join(workspaces::table)
        .inner_join(teams::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .order((teams::name_normalized.asc(), teams::id.asc()))
        .offset(offset)
        .limit(limit)
        .select(access_select!())
        .load(c)?;
    Ok(rows.into_iter().map(to_access).collect())
}

/// The workspaces the team has a role on, by workspace name.
pub fn accesses_of_team(c: &mut DbConn, team_id: &str) -> QueryResult<Vec<TeamAccess>> {
    let rows: Vec<AccessRow> = workspace_team_access::table
        .inner_join(workspaces::table)
        .inner_join(teams::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_team_access::team_id.eq(team_id))
        .order((workspaces::name.asc(), workspaces::id.asc()))
        .select(access_select!())
        .load(c)?;
    Ok(rows.into_iter().map(to_access).collect())
}

/// The team's role on the workspace, if it has one.
pub fn access(
    c: &mut DbConn,
    workspace_id: &str,
    team_id: &str,
) -> QueryResult<Option<TeamAccess>> {
    let row: Option<AccessRow> = workspace_team_access::table
        .inner_join(workspaces::table)
        .inner_join(teams::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .filter(workspace_team_access::team_id.eq(team_id))
        .select(access_select!())
        .first(c)
        .optional()?;
    Ok(row.map(to_access))
}

/// Gives the team `role_id` on the workspace (insert or change).
pub fn set_access(
    c: &mut DbConn,
    workspace_id: &str,
    team_id: &str,
    role_id: &str,
) -> QueryResult<()> {
    let at = now();
    let n = diesel::update(
        workspace_team_access::table
            .filter(workspace_team_access::workspace_id.eq(workspace_id))
            .filter(workspace_team_access::team_id.eq(team_id)),
    )
    .set((
        workspace_team_access::role_id.eq(role_id),
        workspace_team_access::updated_at.eq(at),
    ))
    .execute(c)?;
    if n == 0 {
        diesel::insert_into(workspace_team_access::table)
            .values((
                workspace_team_access::id.eq(new_id()),
                workspace_team_access::workspace_id.eq(workspace_id),
                workspace_team_access::team_id.eq(team_id),
                workspace_team_access::role_id.eq(role_id),
                workspace_team_access::created_at.eq(at),
                workspace_team_access::updated_at.eq(at),
            ))
            .execute(c)?;
    }
    Ok(())
}

pub fn remove_access(c: &mut DbConn, workspace_id: &str, team_id: &str) -> QueryResult<usize> {
    diesel::delete(
        workspace_team_access::table
            .filter(workspace_team_access::workspace_id.eq(workspace_id))
            .filter(workspace_team_access::team_id.eq(team_id)),
    )
    .execute(c)
}

/// How many teams have a role on the workspace.
pub fn count_accesses_of_workspace(c: &mut DbConn, workspace_id: &str) -> QueryResult<i64> {
    workspace_team_access::table
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .count()
        .get_result(c)
}

/// Removes every team access of the workspace (it moves to another account); how many.
pub fn remove_accesses_of_workspace(c: &mut DbConn, workspace_id: &str) -> QueryResult<usize> {
    diesel::delete(
        workspace_team_access::table.filter(workspace_team_access::workspace_id.eq(workspace_id)),
    )
    .execute(c)
}

/// The roles the user holds on the workspace through their teams.
pub fn team_roles_of_user(
    c: &mut DbConn,
    workspace_id: &str,
    user_id: &str,
) -> QueryResult<Vec<WorkspaceRole>> {
    workspace_team_access::table
        .inner_join(
            team_members::table.on(team_members::team_id.eq(workspace_team_access::team_id)),
        )
        .inner_join(workspace_roles::table)
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .filter(team_members::user_id.eq(user_id))
        .select(WorkspaceRole::as_select())
        .load(c)
}

/// Where a person's access to a workspace comes from through teams: `(user_id, team
/// name, role name)` for each of `user_ids` in a team with a role on the workspace.
pub fn via_teams(
    c: &mut DbConn,
    workspace_id: &str,
    user_ids: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    workspace_team_access::table
        .inner_join(
            team_members::table.on(team_members::team_id.eq(workspace_team_access::team_id)),
        )
        .inner_join(teams::table.on(teams::id.eq(workspace_team_access::team_id)))
        .inner_join(workspace_roles::table)
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .filter(team_members::user_id.eq_any(user_ids))
        .order((team_members::handle.asc(), teams::name_normalized.asc()))
        .select((team_members::user_id, teams::name, workspace_roles::name))
        .load(c)
}

/// One team through which a person reaches a workspace (the workspace Members panel).
#[derive(Clone, Debug)]
pub struct ViaTeam {
    pub user_id: String,
    pub handle: String,
    pub name: String,
    pub team_id: String,
    pub team_name: String,
    pub role_name: String,
    /// They hold an own role on the workspace too.
    pub own: bool,
}

/// The Members panel's team data in one statement: for each of `user_ids` (the people with
/// an own role shown on the page), the teams through which they also reach the workspace,
/// and everyone who reaches it only through a team — the former first, then by handle and
/// team name, at most `limit` rows. ([`via_teams`] and the people who reach it through teams only, together, for
/// one trip.)
pub fn panel_via_teams(
    c: &mut DbConn,
    workspace_id: &str,
    user_ids: &[String],
    limit: i64,
) -> QueryResult<Vec<ViaTeam>> {
    use crate::db::schema::workspace_access;
    let own = workspace_access::id.nullable();
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = workspace_team_access::table
        .inner_join(
            team_members::table.on(team_members::team_id.eq(workspace_team_access::team_id)),
        )
        .inner_join(teams::table.on(teams::id.eq(workspace_team_access::team_id)))
        .inner_join(users::table.on(users::id.eq(team_members::user_id)))
        .inner_join(workspace_roles::table)
        .left_join(
            workspace_access::table.on(workspace_access::workspace_id
                .eq(workspace_team_access::workspace_id)
                .and(workspace_access::user_id.eq(team_members::user_id))),
        )
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .filter(own.is_null().or(team_members::user_id.eq_any(user_ids)))
        .order((
            own.is_null().asc(),
            team_members::handle.asc(),
            teams::name_normalized.asc(),
        ))
        .limit(limit)
        .select((
            users::id,
            users::handle,
            users::first_name,
            users::last_name,
            teams::id,
            teams::name,
            workspace_roles::name,
            own,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(user_id, handle, first, last, team_id, team_name, role_name, own)| {
                let n = format!("{first} {last}").trim().to_string();
                ViaTeam {
                    user_id,
                    name: if n.is_empty() { handle.clone() } else { n },
                    handle,
                    team_id,
                    team_name,
                    role_name,
                    own: own.is_some(),
                }
            },
        )
        .collect())
}

/// Teams of the account the workspace has no role for yet, by name (the sharing panel's
/// choices), at most `limit`.
pub fn without_access(
    c: &mut DbConn,
    account_id: &str,
    workspace_id: &str,
    limit: i64,
) -> QueryResult<Vec<Team>> {
    let with = workspace_team_access::table
        .filter(workspace_team_access::workspace_id.eq(workspace_id.to_string()))
        .select(workspace_team_access::team_id);
    teams::table
        .filter(teams::account_id.eq(account_id))
        .filter(teams::id.ne_all(with))
        .order((teams::name_normalized.asc(), teams::id.asc()))
        .limit(limit)
        .select(Team::as_select())
        .load(c)
}

/// The users who would lose access to the workspace if every team access went, and had it
/// through a team only: `(user_id, handle, team names)`. Used by the transfer preview;
/// `own` are the users with an own role, who keep theirs or are listed apart.
pub fn team_only_people(
    c: &mut DbConn,
    workspace_id: &str,
) -> QueryResult<Vec<(String, String, String)>> {
    workspace_team_access::table
        .inner_join(
            team_members::table.on(team_members::team_id.eq(workspace_team_access::team_id)),
        )
        .inner_join(teams::table.on(teams::id.eq(workspace_team_access::team_id)))
        .filter(workspace_team_access::workspace_id.eq(workspace_id))
        .order((team_members::handle.asc(), teams::name_normalized.asc()))
        .select((team_members::user_id, team_members::handle, teams::name))
        .load(c)
}
