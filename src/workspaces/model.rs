//! Workspace and workspace-role queries.

use diesel::prelude::*;

use crate::authz::AccountRole;
use crate::authz::workspace::{BuiltinRole, RoleScopes, ScopeSet};
use crate::db::schema::{
    account_memberships, team_members, workspace_access, workspace_roles, workspace_team_access,
    workspace_visits, workspaces,
};
use crate::db::{DbConn, new_id, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = workspaces)]
pub struct Workspace {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub handle: String,
    pub description: String,
    pub default_role_id: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// Users with a role on the workspace, kept by the database (a trigger on
    /// `workspace_access`, migration `…000015_counts`) in the same transaction.
    pub user_access_count: i64,
    /// Service accounts with a role on the workspace (a trigger on `workspace_bot_access`).
    pub bot_access_count: i64,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = workspace_roles)]
pub struct WorkspaceRole {
    pub id: String,
    pub account_id: Option<String>,
    pub builtin: Option<String>,
    pub name: String,
    pub description: String,
    pub scopes: String,
    pub inherited_role: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl WorkspaceRole {
    /// The built-in role it inherits from, as people read it ("Viewer", not `viewer`).
    pub fn inherits_label(&self) -> Option<&'static str> {
        self.inherited_role
            .as_deref()
            .and_then(BuiltinRole::parse)
            .map(BuiltinRole::label)
    }

    /// What the role grants: a built-in role's scopes, or a custom role's listed scopes
    /// plus those of the built-in role it inherits from (as that role is now).
    pub fn scopes(&self) -> RoleScopes {
        match self.builtin.as_deref().and_then(BuiltinRole::parse) {
            Some(b) => RoleScopes {
                builtin: Some(b),
                listed: ScopeSet::empty(),
            },
            None => {
                let names: Vec<String> = match serde_json::from_str(&self.scopes) {
                    Ok(n) => n,
                    Err(e) => {
                        // Stored by Atrium itself; unreadable means damaged data: grant only
                        // the inherited role, and say so loudly.
                        tracing::error!(role = %self.id, "unreadable scope list of a custom role: {e}");
                        Vec::new()
                    }
                };
                RoleScopes {
                    builtin: self.inherited_role.as_deref().and_then(BuiltinRole::parse),
                    listed: ScopeSet::from_names(names.iter().map(String::as_str)),
                }
            }
        }
    }

    /// May someone holding `own` on a workspace give (or take away) this role there?
    /// ([`crate::authz::workspace::may_grant`]: only roles within one's own scopes.)
    pub fn grantable_by(&self, own: &ScopeSet) -> bool {
        crate::authz::workspace::may_grant(own, &self.scopes())
    }

    /// Is this a role of `account_id` (a built-in role, or one of the account's own)?
    pub fn usable_in(&self, account_id: &str) -> bool {
        self.account_id.as_deref().is_none_or(|a| a == account_id)
    }
}

/// The roles someone holding `own` on a workspace may give there.
pub fn grantable(own: &ScopeSet, roles: Vec<WorkspaceRole>) -> Vec<WorkspaceRole> {
    roles.into_iter().filter(|r| r.grantable_by(own)).collect()
}

/// The fixed id of a built-in role.
pub fn builtin_role_id(b: BuiltinRole) -> &'static str {
    match b {
        BuiltinRole::Owner => "00000000-0000-4000-8000-000000000001",
        BuiltinRole::Developer => "00000000-0000-4000-8000-000000000002",
        BuiltinRole::Runner => "00000000-0000-4000-8000-000000000003",
        BuiltinRole::Viewer => "00000000-0000-4000-8000-000000000004",
        BuiltinRole::Worker => "00000000-0000-4000-8000-000000000005",
    }
}

pub struct NewWorkspace<'a> {
    pub account_id: &'a str,
    pub name: &'a str,
    pub handle: &'a str,
    pub description: &'a str,
}

/// A user's handle: copied beside the foreign key of an access as the members panel's sort
/// key (user handles never change).
fn user_handle(conn: &mut DbConn, user_id: &str) -> QueryResult<String> {
    use crate::db::schema::users;
    users::table.find(user_id).select(users::handle).first(conn)
}

/// Creates a workspace; its creator gets the Owner role on it. Call inside a transaction.
pub fn create(
    conn: &mut DbConn,
    new: &NewWorkspace<'_>,
    creator_user_id: &str,
) -> QueryResult<Workspace> {
    let id = new_id();
    let t = now();
    diesel::insert_into(workspaces::table)
        .values((
            workspaces::id.eq(&id),
            workspaces::account_id.eq(new.account_id),
            workspaces::name.eq(new.name),
            workspaces::handle.eq(new.handle),
            workspaces::description.eq(new.description),
            workspaces::created_at.eq(t),
            workspaces::updated_at.eq(t),
        ))
        .execute(conn)?;
    diesel::insert_into(workspace_access::table)
        .values((
            workspace_access::id.eq(new_id()),
            workspace_access::workspace_id.eq(&id),
            workspace_access::user_id.eq(creator_user_id),
            workspace_access::role_id.eq(builtin_role_id(BuiltinRole::Owner)),
            workspace_access::created_at.eq(t),
            workspace_access::handle.eq(user_handle(conn, creator_user_id)?),
        ))
        .execute(conn)?;
    workspaces::table
        .find(&id)
        .select(Workspace::as_select())
        .first(conn)
}

pub fn handle_taken(conn: &mut DbConn, account_id: &str, handle: &str) -> QueryResult<bool> {
    let n: i64 = workspaces::table
        .filter(workspaces::account_id.eq(account_id))
        .filter(workspaces::handle.eq(handle))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn count_in_account(conn: &mut DbConn, account_id: &str) -> QueryResult<i64> {
    workspaces::table
        .filter(workspaces::account_id.eq(account_id))
        .count()
        .get_result(conn)
}

/// The workspace `id` of account `account_id`.
pub fn find(conn: &mut DbConn, account_id: &str, id: &str) -> QueryResult<Option<Workspace>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    workspaces::table
        .filter(workspaces::id.eq(id))
        .filter(workspaces::account_id.eq(account_id))
        .select(Workspace::as_select())
        .first(conn)
        .optional()
}

pub fn role(conn: &mut DbConn, id: &str) -> QueryResult<Option<WorkspaceRole>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    workspace_roles::table
        .find(id)
        .select(WorkspaceRole::as_select())
        .first(conn)
        .optional()
}

/// A workspace with a user's own role on it, its default role, and whether a team of the
/// user has a role on it.
pub type WithRoles = (
    Workspace,
    Option<WorkspaceRole>,
    Option<WorkspaceRole>,
    bool,
);

/// The workspace `id` of account `account_id` with what decides a user's scopes on it —
/// the user's own role, the workspace's default role, and whether one of their teams has a
/// role on it (then [`crate::teams::model::team_roles_of_user`] reads those) — in one
/// statement.
pub fn find_with_roles(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
    user_id: &str,
) -> QueryResult<Option<WithRoles>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    let (own, default) =
        diesel::alias!(workspace_roles as own_role, workspace_roles as default_role);
    let role_columns = (
        workspace_roles::id,
        workspace_roles::account_id,
        workspace_roles::builtin,
        workspace_roles::name,
        workspace_roles::description,
        workspace_roles::scopes,
        workspace_roles::inherited_role,
        workspace_roles::created_at,
        workspace_roles::updated_at,
    );
    workspaces::table
        .left_join(
            workspace_access::table.on(workspace_access::workspace_id
                .eq(workspaces::id)
                .and(workspace_access::user_id.eq(user_id.to_string()))),
        )
        .left_join(own.on(own.field(workspace_roles::id).eq(workspace_access::role_id)))
        .left_join(
            default
                .on(workspaces::default_role_id.eq(default.field(workspace_roles::id).nullable())),
        )
        .filter(workspaces::id.eq(id))
        .filter(workspaces::account_id.eq(account_id))
        .select((
            Workspace::as_select(),
            own.fields(role_columns).nullable(),
            default.fields(role_columns).nullable(),
            diesel::dsl::exists(
                workspace_team_access::table
                    .inner_join(
                        team_members::table
                            .on(team_members::team_id.eq(workspace_team_access::team_id)),
                    )
                    .filter(workspace_team_access::workspace_id.eq(workspaces::id))
                    .filter(team_members::user_id.eq(user_id.to_string())),
            ),
        ))
        .first(conn)
        .optional()
}

/// Users with an explicit access to the workspace: the total kept on the workspace row.
pub fn count_user_accesses(conn: &mut DbConn, workspace_id: &str) -> QueryResult<i64> {
    Ok(workspaces::table
        .find(workspace_id)
        .select(workspaces::user_access_count)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// The users holding an access to the workspace.
pub fn users_with_access(conn: &mut DbConn, workspace_id: &str) -> QueryResult<Vec<String>> {
    workspace_access::table
        .filter(workspace_access::workspace_id.eq(workspace_id))
        .select(workspace_access::user_id)
        .load(conn)
}

/// Removes the user's accesses to the workspaces of an account (they left or were removed).
pub fn remove_user_accesses_in_account(
    conn: &mut DbConn,
    account_id: &str,
    user_id: &str,
) -> QueryResult<usize> {
    let ids = workspaces::table
        .filter(workspaces::account_id.eq(account_id))
        .select(workspaces::id);
    diesel::delete(
        workspace_access::table
            .filter(workspace_access::user_id.eq(user_id))
            .filter(workspace_access::workspace_id.eq_any(ids)),
    )
    .execute(conn)
}

/// Remembers that the user opened the workspace (the switcher lists recent ones first).
/// How long a workspace that is already the user's most recent visit goes without its
/// visit being written again (the visit only orders the switcher).
pub const VISIT_REFRESH: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Records a visit unless the workspace already is the user's most recent visit, written
/// less than [`VISIT_REFRESH`] ago: opening the same dashboard again reads one index entry
/// instead of writing.
pub fn note_visit(conn: &mut DbConn, user_id: &str, workspace_id: &str) -> QueryResult<()> {
    let latest: Option<(String, chrono::NaiveDateTime)> = workspace_visits::table
        .filter(workspace_visits::user_id.eq(user_id))
        .order(workspace_visits::visited_at.desc())
        .select((workspace_visits::workspace_id, workspace_visits::visited_at))
        .first(conn)
        .optional()?;
    match latest {
        Some((w, at)) if w == workspace_id && at > now() - VISIT_REFRESH => Ok(()),
        _ => crate::db::write_tx(conn, |c| record_visit(c, user_id, workspace_id)),
    }
}

pub fn record_visit(conn: &mut DbConn, user_id: &str, workspace_id: &str) -> QueryResult<()> {
    let t = now();
    let updated = diesel::update(
        workspace_visits::table
            .filter(workspace_visits::user_id.eq(user_id))
            .filter(workspace_visits::workspace_id.eq(workspace_id)),
    )
    .set(workspace_visits::visited_at.eq(t))
    .execute(conn)?;
    if updated == 0 {
        let inserted = diesel::insert_into(workspace_visits::table)
            .values((
                workspace_visits::user_id.eq(user_id),
                workspace_visits::workspace_id.eq(workspace_id),
                workspace_visits::visited_at.eq(t),
            ))
            .execute(conn);
        // A concurrent first visit inserted the same row: nothing to do.
        if let Err(e) = inserted
            && !crate::db::is_unique_violation(&e)
        {
            return Err(e);
        }
    }
    Ok(())
}

/// A workspace the user can reach, for the switcher.
#[derive(Clone, Debug)]
pub struct Reachable {
    pub workspace: Workspace,
    pub account_name: String,
    pub account_handle: String,
    pub visited_at: Option<chrono::NaiveDateTime>,
}

/// Up to this many accounts, [`reachable`] reads each account's workspaces by name apart
/// (each an index range that stops at the limit) and merges them.
const PER_ACCOUNT_READS: usize = 8;

/// The filter of [`reachable`]'s two reads: the workspaces `user_id` can reach (DESIGN §2),
/// and `q` over workspace and account names and handles. A macro because the two reads
/// join different tables (Diesel's boxed queries are typed by their FROM clause).
macro_rules! reachable_filter {
    ($query:expr, $user_id:expr, $q:expr) => {{
        let user_id: &str = $user_id;
        // Two correlated lookups by unique index (the membership, the own access) on each
        // `workspaces` row. Written so that no index serves the condition itself: an `OR`
        // of `IN` lists is planned as the union of every reachable workspace, then sorted;
        // this way the planner walks the index that gives the order and stops at the limit.
        // Built with Diesel's expressions (not SQL text) so the statement is prepared once
        // per connection and reused.
        let (m, wa) = diesel::alias!(
            account_memberships as reach_membership,
            workspace_access as reach_access
        );
        let role = m.field(account_memberships::role);
        let by_membership = diesel::dsl::exists(
            m.filter(
                m.field(account_memberships::account_id)
                    .eq(workspaces::account_id),
            )
            .filter(
                m.field(account_memberships::user_id)
                    .eq(user_id.to_string()),
            )
            .filter(
                role.eq(AccountRole::Owner.as_str())
                    .or(role.eq(AccountRole::Admin.as_str()))
                    .or(role
                        .ne(AccountRole::Collaborator.as_str())
                        .and(workspaces::default_role_id.is_not_null())),
            ),
        );
        let by_own_role = diesel::dsl::exists(
            wa.filter(wa.field(workspace_access::workspace_id).eq(workspaces::id))
                .filter(wa.field(workspace_access::user_id).eq(user_id.to_string())),
        );
        // A team of the user's with a role on the workspace: the teams with access to this
        // workspace (index `workspace_team_access (workspace_id, team_id)`), each probed
        // for the user (`team_members (team_id, user_id)`).
        let (wta, tm) = diesel::alias!(
            workspace_team_access as reach_team_access,
            team_members as reach_team_member
        );
        let by_team = diesel::dsl::exists(
            wta.inner_join(
                tm.on(tm
                    .field(team_members::team_id)
                    .eq(wta.field(workspace_team_access::team_id))),
            )
            .filter(
                wta.field(workspace_team_access::workspace_id)
                    .eq(workspaces::id),
            )
            .filter(tm.field(team_members::user_id).eq(user_id.to_string())),
        );
        let reach = by_membership.or(by_own_role).or(by_team);
        let mut query = $query.filter(reach);
        let q = $q.trim().to_lowercase();
        if !q.is_empty() {
            let pattern = format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            query = query.filter(
                crate::members::model::lower(workspaces::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(workspaces::handle.like(pattern.clone()).escape('\\'))
                    .or(crate::members::model::lower(accounts::name)
                        .like(pattern.clone())
                        .escape('\\'))
                    .or(accounts::handle.like(pattern).escape('\\')),
            );
        }
        query
    }};
}

/// Workspaces the user can reach (DESIGN §2): every workspace of accounts where they are
/// Owner or Admin, those where they have an own role or a team of theirs has one, and
/// those whose default role is not No Access in accounts where they are a member. Most recently used first, then by name;
/// `q` filters by workspace or account name/handle. At most `limit`.
///
/// Bounded reads instead of computing and sorting every reachable workspace: the user's
/// visits newest first (the index `workspace_visits (user_id, visited_at)`), then the
/// workspaces not visited by name (the index `workspaces (account_id, name, id)`, one read
/// per account of the user up to [`PER_ACCOUNT_READS`]), each stopping at `limit`.
pub fn reachable(
    conn: &mut DbConn,
    user_id: &str,
    q: &str,
    limit: i64,
) -> QueryResult<Vec<Reachable>> {
    use crate::db::schema::accounts;
    type Row = (Workspace, String, String, Option<chrono::NaiveDateTime>);
    let recent = workspace_visits::table
        .inner_join(workspaces::table.inner_join(accounts::table))
        .filter(workspace_visits::user_id.eq(user_id.to_string()))
        .into_boxed();
    let mut rows: Vec<Row> = reachable_filter!(recent, user_id, q)
        .order((
            workspace_visits::visited_at.desc(),
            workspaces::name.asc(),
            workspaces::id.asc(),
        ))
        .limit(limit)
        .select((
            Workspace::as_select(),
            accounts::name,
            accounts::handle,
            workspace_visits::visited_at.nullable(),
        ))
        .load(conn)?;
    let left = limit - rows.len() as i64;
    if left > 0 {
        // Every reachable workspace lies in an account the user belongs to (an own access
        // needs a membership). With a few accounts, one read per account walks the index
        // `workspaces (account_id, name, id)` in name order and stops at `left`; the pages
        // are merged here. With many, one read over them all, sorted.
        let accounts_of_user: Vec<String> = account_memberships::table
            .filter(account_memberships::user_id.eq(user_id.to_string()))
            .select(account_memberships::account_id)
            .load(conn)?;
        let read = |conn: &mut DbConn, only: Option<&str>| {
            let visited = workspace_visits::table
                .filter(workspace_visits::user_id.eq(user_id.to_string()))
                .select(workspace_visits::workspace_id);
            let mut rest = workspaces::table
                .inner_join(accounts::table)
                .filter(workspaces::id.ne_all(visited))
                .into_boxed();
            rest = match only {
                Some(account_id) => rest.filter(workspaces::account_id.eq(account_id.to_string())),
                None => rest.filter(workspaces::account_id.eq_any(accounts_of_user.clone())),
            };
            reachable_filter!(rest, user_id, q)
                .order((workspaces::name.asc(), workspaces::id.asc()))
                .limit(left)
                .select((Workspace::as_select(), accounts::name, accounts::handle))
                .load::<(Workspace, String, String)>(conn)
        };
        let more = if accounts_of_user.len() <= PER_ACCOUNT_READS {
            // The same statement with another account each time: planned once
            // (PostgreSQL planned it again at every execution, see `with_generic_plans`).
            let mut pages = crate::db::with_generic_plans(conn, |conn| {
                let mut pages = Vec::new();
                for account_id in &accounts_of_user {
                    pages.extend(read(conn, Some(account_id))?);
                }
                Ok(pages)
            })?;
            pages.sort_by(|a, b| (&a.0.name, &a.0.id).cmp(&(&b.0.name, &b.0.id)));
            pages.truncate(left as usize);
            pages
        } else {
            read(conn, None)?
        };
        rows.extend(more.into_iter().map(|(w, n, h)| (w, n, h, None)));
    }
    Ok(rows
        .into_iter()
        .map(
            |(workspace, account_name, account_handle, visited_at)| Reachable {
                workspace,
                account_name,
                account_handle,
                visited_at,
            },
        )
        .collect())
}

/// Rows of a workspaces list page.
pub const LIST_PAGE: i64 = 50;

/// A page of the account's workspaces list, and what its links need.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub rows: Vec<Workspace>,
    /// Workspaces of the account the user reaches that match the filter.
    pub total: i64,
    pub has_prev: bool,
    pub has_next: bool,
}

/// One page of the account's workspaces that `user_id` reaches (DESIGN §2), by handle,
/// paged by keyset on the handle (unique in the account: the index `(account_id, handle)`
/// gives the order, so the first and the last page cost the same, no OFFSET). `q` matches
/// any part of the name or handle, case-insensitively. The total is counted over the same
/// filter.
pub fn list_page(
    conn: &mut DbConn,
    user_id: &str,
    account_id: &str,
    q: &str,
    cursor: &crate::members::model::Cursor,
) -> QueryResult<ListPage> {
    use crate::db::schema::accounts;
    if crate::db::holds_nul(q) {
        return Ok(ListPage {
            rows: Vec::new(),
            total: 0,
            has_prev: false,
            has_next: false,
        });
    }
    let q = q.trim().to_lowercase();
    let base = || {
        let query = workspaces::table
            .inner_join(accounts::table)
            .filter(workspaces::account_id.eq(account_id.to_string()))
            .into_boxed();
        let mut query = reachable_filter!(query, user_id, "");
        if !q.is_empty() {
            let pattern = crate::db::like_contains(&q);
            query = query.filter(
                crate::members::model::lower(workspaces::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(workspaces::handle.like(pattern).escape('\\')),
            );
        }
        query
    };
    let total: i64 = base().count().get_result(conn)?;
    let (rows, has_prev, has_next) = crate::members::model::keyset_page(
        conn,
        cursor,
        LIST_PAGE,
        |c, after| {
            let mut query = base();
            if let Some(h) = after {
                query = query.filter(workspaces::handle.gt(h.to_string()));
            }
            query
                .order(workspaces::handle.asc())
                .limit(LIST_PAGE + 1)
                .select(Workspace::as_select())
                .load(c)
        },
        |c, before| {
            base()
                .filter(workspaces::handle.lt(before.to_string()))
                .order(workspaces::handle.desc())
                .limit(LIST_PAGE + 1)
                .select(Workspace::as_select())
                .load(c)
        },
    )?;
    Ok(ListPage {
        rows,
        total,
        has_prev,
        has_next,
    })
}

/// The account's workspaces by name (at most `limit`).
pub fn in_account(conn: &mut DbConn, account_id: &str, limit: i64) -> QueryResult<Vec<Workspace>> {
    workspaces::table
        .filter(workspaces::account_id.eq(account_id))
        .order((workspaces::name.asc(), workspaces::id.asc()))
        .limit(limit)
        .select(Workspace::as_select())
        .load(conn)
}

/// Roles usable in the account's workspaces: the built-in ones, then the account's custom roles.
pub fn roles_for_account(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<WorkspaceRole>> {
    workspace_roles::table
        .filter(
            workspace_roles::account_id
                .is_null()
                .or(workspace_roles::account_id.eq(account_id)),
        )
        .order((
            workspace_roles::account_id.is_not_null(),
            workspace_roles::id.asc(),
        ))
        .select(WorkspaceRole::as_select())
        .load(conn)
}

/// Name, handle, description and default role (`None` = No Access).
pub fn update_settings(
    conn: &mut DbConn,
    id: &str,
    name: &str,
    handle: &str,
    description: &str,
    default_role_id: Option<&str>,
) -> QueryResult<()> {
    diesel::update(workspaces::table.find(id))
        .set((
            workspaces::name.eq(name),
            workspaces::handle.eq(handle),
            workspaces::description.eq(description),
            workspaces::default_role_id.eq(default_role_id),
            workspaces::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A user's access to a workspace, for the sharing panel.
#[derive(Clone, Debug)]
pub struct UserAccess {
    /// The access row's id (the API's `WorkspaceUserAccessResponse.id`).
    pub id: String,
    pub user_id: String,
    pub handle: String,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role_id: String,
    pub role_name: String,
    pub created_at: chrono::NaiveDateTime,
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
);

fn to_access(
    (id, user_id, handle, first, last, email, role_id, role_name, created_at): AccessRow,
) -> UserAccess {
    UserAccess {
        id,
        user_id,
        handle,
        name: format!("{first} {last}").trim().to_string(),
        first_name: first,
        last_name: last,
        email,
        role_id,
        role_name,
        created_at,
    }
}

/// The columns of an [`AccessRow`], for the queries that join an access with its user and role.
#[allow(clippy::type_complexity)]
fn access_columns() -> (
    workspace_access::id,
    crate::db::schema::users::id,
    crate::db::schema::users::handle,
    crate::db::schema::users::first_name,
    crate::db::schema::users::last_name,
    crate::db::schema::users::email,
    workspace_roles::id,
    workspace_roles::name,
    workspace_access::created_at,
) {
    use crate::db::schema::users;
    (
        workspace_access::id,
        users::id,
        users::handle,
        users::first_name,
        users::last_name,
        users::email,
        workspace_roles::id,
        workspace_roles::name,
        workspace_access::created_at,
    )
}

/// Users with an own role on the workspace, by handle.
pub fn user_accesses(conn: &mut DbConn, workspace_id: &str) -> QueryResult<Vec<UserAccess>> {
    use crate::db::schema::users;
    let rows: Vec<AccessRow> = workspace_access::table
        .inner_join(users::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_access::workspace_id.eq(workspace_id))
        .order(workspace_access::handle.asc())
        .select(access_columns())
        .load(conn)?;
    Ok(rows.into_iter().map(to_access).collect())
}

pub fn user_access(
    conn: &mut DbConn,
    workspace_id: &str,
    user_id: &str,
) -> QueryResult<Option<UserAccess>> {
    use crate::db::schema::users;
    let row: Option<AccessRow> = workspace_access::table
        .inner_join(users::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_access::workspace_id.eq(workspace_id))
        .filter(workspace_access::user_id.eq(user_id))
        .select(access_columns())
        .first(conn)
        .optional()?;
    Ok(row.map(to_access))
}

/// The workspace's access row `access_id`, with its user.
pub fn user_access_by_id(
    conn: &mut DbConn,
    workspace_id: &str,
    access_id: &str,
) -> QueryResult<Option<UserAccess>> {
    use crate::db::schema::users;
    let row: Option<AccessRow> = workspace_access::table
        .inner_join(users::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_access::workspace_id.eq(workspace_id))
        .filter(workspace_access::id.eq(access_id))
        .select(access_columns())
        .first(conn)
        .optional()?;
    Ok(row.map(to_access))
}

/// Up to `limit` users with an own role on the workspace whose handle sorts after `after`
/// (keyset paging: the cost does not grow with the page number), by handle.
pub fn user_accesses_page(
    conn: &mut DbConn,
    workspace_id: &str,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<UserAccess>> {
    use crate::db::schema::users;
    let rows: Vec<AccessRow> = workspace_access::table
        .inner_join(users::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_access::workspace_id.eq(workspace_id))
        .filter(workspace_access::handle.gt(after))
        .order(workspace_access::handle.asc())
        .limit(limit)
        .select(access_columns())
        .load(conn)?;
    Ok(rows.into_iter().map(to_access).collect())
}

/// Account members without an own role on the workspace (candidates to add), by handle.
pub fn members_without_access(
    conn: &mut DbConn,
    account_id: &str,
    workspace_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    use crate::db::schema::users;
    let with_access = workspace_access::table
        .filter(workspace_access::workspace_id.eq(workspace_id.to_string()))
        .select(workspace_access::user_id);
    account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(users::id.ne_all(with_access))
        .order(account_memberships::handle.asc())
        .limit(500)
        .select((users::id, users::handle))
        .load(conn)
}

/// The member of the account whose handle or e-mail is `who` (case-insensitively).
pub fn member_by_handle_or_email(
    conn: &mut DbConn,
    account_id: &str,
    who: &str,
) -> QueryResult<Option<String>> {
    if crate::db::holds_nul(who) {
        return Ok(None);
    }
    use crate::db::schema::users;
    let who = who.trim().to_lowercase();
    account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(users::handle.eq(&who).or(users::email_normalized.eq(&who)))
        .select(users::id)
        .first(conn)
        .optional()
}

/// Gives the user `role_id` on the workspace (insert or update).
pub fn set_user_access(
    conn: &mut DbConn,
    workspace_id: &str,
    user_id: &str,
    role_id: &str,
) -> QueryResult<()> {
    let n = diesel::update(
        workspace_access::table
            .filter(workspace_access::workspace_id.eq(workspace_id))
            .filter(workspace_access::user_id.eq(user_id)),
    )
    .set(workspace_access::role_id.eq(role_id))
    .execute(conn)?;
    if n == 0 {
        let handle = user_handle(conn, user_id)?;
        diesel::insert_into(workspace_access::table)
            .values((
                workspace_access::id.eq(new_id()),
                workspace_access::workspace_id.eq(workspace_id),
                workspace_access::user_id.eq(user_id),
                workspace_access::role_id.eq(role_id),
                workspace_access::created_at.eq(now()),
                workspace_access::handle.eq(handle),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn remove_user_access(
    conn: &mut DbConn,
    workspace_id: &str,
    user_id: &str,
) -> QueryResult<usize> {
    diesel::delete(
        workspace_access::table
            .filter(workspace_access::workspace_id.eq(workspace_id))
            .filter(workspace_access::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Custom roles of an account, by name.
pub fn custom_roles(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<WorkspaceRole>> {
    workspace_roles::table
        .filter(workspace_roles::account_id.eq(account_id))
        .order(workspace_roles::name.asc())
        .select(WorkspaceRole::as_select())
        .load(conn)
}

pub fn role_name_taken(
    conn: &mut DbConn,
    account_id: &str,
    name: &str,
    except: Option<&str>,
) -> QueryResult<bool> {
    let roles: Vec<(String, String)> = workspace_roles::table
        .filter(
            workspace_roles::account_id
                .is_null()
                .or(workspace_roles::account_id.eq(account_id)),
        )
        .select((workspace_roles::id, workspace_roles::name))
        .load(conn)?;
    Ok(roles
        .iter()
        .any(|(id, n)| n.eq_ignore_ascii_case(name) && Some(id.as_str()) != except))
}

pub fn save_custom_role(
    conn: &mut DbConn,
    id: Option<&str>,
    account_id: &str,
    name: &str,
    description: &str,
    scopes_json: &str,
    inherited: Option<&str>,
) -> QueryResult<String> {
    let t = now();
    match id {
        Some(id) => {
            diesel::update(
                workspace_roles::table
                    .filter(workspace_roles::id.eq(id))
                    .filter(workspace_roles::account_id.eq(account_id)),
            )
            .set((
                workspace_roles::name.eq(name),
                workspace_roles::description.eq(description),
                workspace_roles::scopes.eq(scopes_json),
                workspace_roles::inherited_role.eq(inherited),
                workspace_roles::updated_at.eq(t),
            ))
            .execute(conn)?;
            Ok(id.to_string())
        }
        None => {
            let id = new_id();
            diesel::insert_into(workspace_roles::table)
                .values((
                    workspace_roles::id.eq(&id),
                    workspace_roles::account_id.eq(account_id),
                    workspace_roles::name.eq(name),
                    workspace_roles::description.eq(description),
                    workspace_roles::scopes.eq(scopes_json),
                    workspace_roles::inherited_role.eq(inherited),
                    workspace_roles::created_at.eq(t),
                    workspace_roles::updated_at.eq(t),
                ))
                .execute(conn)?;
            Ok(id)
        }
    }
}

/// Where a role is used, by workspace name.
#[derive(Debug, Default)]
pub struct RoleUsage {
    /// Workspaces where a user, a service account or a team holds it.
    pub held: Vec<String>,
    /// Workspaces whose default role it is.
    pub default_of: Vec<String>,
    /// Workspaces with a pending, unexpired invitation offering it.
    pub invited: Vec<String>,
}

impl RoleUsage {
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.default_of.is_empty() && self.invited.is_empty()
    }
}

pub fn role_usage(conn: &mut DbConn, role_id: &str) -> QueryResult<RoleUsage> {
    use crate::db::schema::{invitations, workspace_bot_access};
    let mut held: Vec<String> = workspace_access::table
        .inner_join(workspaces::table)
        .filter(workspace_access::role_id.eq(role_id))
        .select(workspaces::name)
        .distinct()
        .load(conn)?;
    let bots: Vec<String> = workspace_bot_access::table
        .inner_join(workspaces::table)
        .filter(workspace_bot_access::role_id.eq(role_id))
        .select(workspaces::name)
        .distinct()
        .load(conn)?;
    let by_teams: Vec<String> = workspace_team_access::table
        .inner_join(workspaces::table)
        .filter(workspace_team_access::role_id.eq(role_id))
        .select(workspaces::name)
        .distinct()
        .load(conn)?;
    for name in bots.into_iter().chain(by_teams) {
        if !held.contains(&name) {
            held.push(name);
        }
    }
    let default_of: Vec<String> = workspaces::table
        .filter(workspaces::default_role_id.eq(role_id))
        .select(workspaces::name)
        .load(conn)?;
    let invited: Vec<String> = invitations::table
        .inner_join(workspaces::table.on(invitations::workspace_id.eq(workspaces::id.nullable())))
        .filter(invitations::workspace_role_id.eq(role_id))
        .filter(invitations::status.eq("pending"))
        .filter(invitations::expires_at.gt(now()))
        .select(workspaces::name)
        .distinct()
        .load(conn)?;
    Ok(RoleUsage {
        held,
        default_of,
        invited,
    })
}

/// Deletes the account's custom role. Invitations that can no longer be accepted (used,
/// revoked, expired) forget it first, so their history does not keep the role alive.
pub fn delete_role(conn: &mut DbConn, account_id: &str, role_id: &str) -> QueryResult<usize> {
    use crate::db::schema::invitations;
    diesel::update(
        invitations::table
            .filter(invitations::account_id.eq(account_id))
            .filter(invitations::workspace_role_id.eq(role_id)),
    )
    .set(invitations::workspace_role_id.eq(None::<String>))
    .execute(conn)?;
    diesel::delete(
        workspace_roles::table
            .filter(workspace_roles::id.eq(role_id))
            .filter(workspace_roles::account_id.eq(account_id)),
    )
    .execute(conn)
}

/// A Collaborator exists only while they have access to a workspace of the account: when
/// their last access there goes, so does their membership.
pub fn drop_collaborator_without_access(
    conn: &mut DbConn,
    account_id: &str,
    user_id: &str,
) -> QueryResult<bool> {
    let role = crate::members::model::role_of(conn, account_id, user_id)?;
    if role != Some(AccountRole::Collaborator) {
        return Ok(false);
    }
    let ids = workspaces::table
        .filter(workspaces::account_id.eq(account_id.to_string()))
        .select(workspaces::id);
    let left: i64 = workspace_access::table
        .filter(workspace_access::user_id.eq(user_id))
        .filter(workspace_access::workspace_id.eq_any(ids))
        .count()
        .get_result(conn)?;
    if left > 0 {
        return Ok(false);
    }
    crate::members::model::remove_member(conn, account_id, user_id)?;
    Ok(true)
}

/// What deleting the workspace takes with it: member accesses, service-account accesses
/// and pending invitations.
pub fn delete_counts(conn: &mut DbConn, workspace_id: &str) -> QueryResult<(i64, i64, i64)> {
    use crate::db::schema::invitations;
    let accesses = count_user_accesses(conn, workspace_id)?;
    let bot_accesses = count_bot_accesses(conn, workspace_id)?;
    let invites: i64 = invitations::table
        .filter(invitations::workspace_id.eq(workspace_id))
        .filter(invitations::status.eq("pending"))
        .count()
        .get_result(conn)?;
    Ok((accesses, bot_accesses, invites))
}

/// Deletes the workspace if it is (still) in `account_id`; accesses (users' and service
/// accounts'), visits and invitations go with it (foreign keys). Returns the rows deleted:
/// 0 when a concurrent transfer or delete got there first.
pub fn delete(conn: &mut DbConn, account_id: &str, workspace_id: &str) -> QueryResult<usize> {
    diesel::delete(
        workspaces::table
            .filter(workspaces::id.eq(workspace_id))
            .filter(workspaces::account_id.eq(account_id)),
    )
    .execute(conn)
}

/// The account a workspace belongs to, if it exists.
pub fn account_of(conn: &mut DbConn, workspace_id: &str) -> QueryResult<Option<String>> {
    workspaces::table
        .find(workspace_id)
        .select(workspaces::account_id)
        .first::<String>(conn)
        .optional()
}

/// Service accounts with a role on the workspace: the total kept on the workspace row.
pub fn count_bot_accesses(conn: &mut DbConn, workspace_id: &str) -> QueryResult<i64> {
    Ok(workspaces::table
        .find(workspace_id)
        .select(workspaces::bot_access_count)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
