//! `workspace_servers`: one row per workspace that has a Prefect server.

use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::workspace_servers;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = workspace_servers)]
pub struct Server {
    pub workspace_id: String,
    /// Normalized (`servers::ops::normalize_url`): scheme, host, port, path without a
    /// trailing slash or `/api`.
    pub url: String,
    /// The auth string, sealed (`crate::sealed`).
    pub auth_sealed: String,
    /// The auth string as shown: its first and last characters.
    pub auth_mask: String,
    pub prefect_version: String,
    /// `connected` or `unreachable` (since `unreachable_since`).
    pub state: String,
    pub unreachable_since: Option<chrono::NaiveDateTime>,
    pub checked_at: chrono::NaiveDateTime,
    pub connected_by: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

pub const CONNECTED: &str = "connected";
pub const UNREACHABLE: &str = "unreachable";

pub fn find(c: &mut DbConn, workspace_id: &str) -> QueryResult<Option<Server>> {
    workspace_servers::table
        .find(workspace_id)
        .select(Server::as_select())
        .first(c)
        .optional()
}

/// The workspace whose server is at `url`, if one is.
pub fn workspace_at(c: &mut DbConn, url: &str) -> QueryResult<Option<String>> {
    workspace_servers::table
        .filter(workspace_servers::url.eq(url))
        .select(workspace_servers::workspace_id)
        .first(c)
        .optional()
}

/// Inserts or replaces the workspace's server.
pub fn put(c: &mut DbConn, s: &Server) -> QueryResult<()> {
    diesel::delete(workspace_servers::table.find(&s.workspace_id)).execute(c)?;
    diesel::insert_into(workspace_servers::table)
        .values((
            workspace_servers::workspace_id.eq(&s.workspace_id),
            workspace_servers::url.eq(&s.url),
            workspace_servers::auth_sealed.eq(&s.auth_sealed),
            workspace_servers::auth_mask.eq(&s.auth_mask),
            workspace_servers::prefect_version.eq(&s.prefect_version),
            workspace_servers::state.eq(&s.state),
            workspace_servers::unreachable_since.eq(s.unreachable_since),
            workspace_servers::checked_at.eq(s.checked_at),
            workspace_servers::connected_by.eq(&s.connected_by),
            workspace_servers::created_at.eq(s.created_at),
        ))
        .execute(c)?;
    Ok(())
}

pub fn delete(c: &mut DbConn, workspace_id: &str) -> QueryResult<usize> {
    diesel::delete(workspace_servers::table.find(workspace_id)).execute(c)
}

/// Records what a connection found, when it differs from what is recorded: the first
/// failure sets `unreachable_since`, a success clears it. Answers whether it wrote.
pub fn mark(
    c: &mut DbConn,
    workspace_id: &str,
    reachable: bool,
    at: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    let (from, to) = if reachable {
        (UNREACHABLE, CONNECTED)
    } else {
        (CONNECTED, UNREACHABLE)
    };
    let since = (!reachable).then_some(at);
    let n = diesel::update(
        workspace_servers::table
            .find(workspace_id)
            .filter(workspace_servers::state.eq(from)),
    )
    .set((
        workspace_servers::state.eq(to),
        workspace_servers::unreachable_since.eq(since),
        workspace_servers::checked_at.eq(at),
    ))
    .execute(c)?;
    Ok(n > 0)
}

// ---------- managed servers (issue #22) ----------

use crate::db::schema::managed_servers;

/// A managed Prefect server's row (`servers::spawner`).
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = managed_servers)]
pub struct Managed {
    pub workspace_id: String,
    /// `starting`, `running`, `stopped` or `failed`.
    pub state: String,
    /// The Atrium instance that runs (or starts) it.
    pub instance_id: Option<String>,
    pub port: Option<i32>,
    pub pid: Option<i32>,
    pub auth_sealed: String,
    /// The SQLite file or the PostgreSQL database that holds its data.
    pub database: String,
    pub prefect_version: String,
    pub started_at: Option<chrono::NaiveDateTime>,
    pub heartbeat_at: Option<chrono::NaiveDateTime>,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub stopped_at: Option<chrono::NaiveDateTime>,
    pub failures: i32,
    pub last_log: String,
    pub created_at: chrono::NaiveDateTime,
    /// The flow run retention (days) the running server was started with.
    pub retention_days: Option<i32>,
}

pub const STARTING: &str = "starting";
pub const RUNNING: &str = "running";
pub const STOPPED: &str = "stopped";
pub const FAILED: &str = "failed";

pub fn find_managed(c: &mut DbConn, workspace_id: &str) -> QueryResult<Option<Managed>> {
    managed_servers::table
        .find(workspace_id)
        .select(Managed::as_select())
        .first(c)
        .optional()
}

/// The managed rows of several workspaces (the workspace list).
pub fn managed_of(c: &mut DbConn, workspace_ids: &[String]) -> QueryResult<Vec<Managed>> {
    managed_servers::table
        .filter(managed_servers::workspace_id.eq_any(workspace_ids))
        .select(Managed::as_select())
        .load(c)
}

/// Creates the workspace's row (stopped) unless it has one.
pub fn ensure_managed(
    c: &mut DbConn,
    workspace_id: &str,
    auth_sealed: &str,
    database: &str,
) -> QueryResult<()> {
    if find_managed(c, workspace_id)?.is_some() {
        return Ok(());
    }
    let inserted = diesel::insert_into(managed_servers::table)
        .values((
            managed_servers::workspace_id.eq(workspace_id),
            managed_servers::state.eq(STOPPED),
            managed_servers::auth_sealed.eq(auth_sealed),
            managed_servers::database.eq(database),
            managed_servers::prefect_version.eq(""),
            managed_servers::failures.eq(0),
            managed_servers::last_log.eq(""),
            managed_servers::created_at.eq(crate::db::now()),
        ))
        .execute(c);
    match inserted {
        Ok(_) => Ok(()),
        // Another instance inserted it first.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        // The workspace is gone.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => Err(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

/// Takes the row for `instance` when nobody runs the server (stopped, failed, ours, or
/// abandoned: its owner's heartbeat is older than `abandoned`): one statement, so two
/// instances cannot both take it.
pub fn claim_managed(
    c: &mut DbConn,
    workspace_id: &str,
    instance: &str,
    abandoned: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        managed_servers::table
            .filter(managed_servers::workspace_id.eq(workspace_id))
            .filter(
                managed_servers::state
                    .eq_any([STOPPED, FAILED])
                    .or(managed_servers::instance_id.eq(instance))
                    .or(managed_servers::heartbeat_at.lt(abandoned))
                    .or(managed_servers::heartbeat_at.is_null()),
            ),
    )
    .set((
        managed_servers::state.eq(STARTING),
        managed_servers::instance_id.eq(instance),
        managed_servers::heartbeat_at.eq(crate::db::now()),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// The flow run retention (days) of each workspace's account; workspaces that are gone
/// are left out.
pub fn retention_of(c: &mut DbConn, workspace_ids: &[String]) -> QueryResult<Vec<(String, i32)>> {
    use crate::db::schema::{accounts, workspaces};
    workspaces::table
        .inner_join(accounts::table)
        .filter(workspaces::id.eq_any(workspace_ids))
        .select((workspaces::id, accounts::flow_run_retention_days))
        .load(c)
}

/// What a started server is: where it answers and what it was started with.
pub struct Started<'a> {
    pub port: i32,
    pub pid: i32,
    pub version: &'a str,
    pub retention_days: i32,
}

pub fn mark_running(
    c: &mut DbConn,
    workspace_id: &str,
    instance: &str,
    s: Started<'_>,
) -> QueryResult<usize> {
    let Started {
        port,
        pid,
        version,
        retention_days,
    } = s;
    let t = crate::db::now();
    diesel::update(managed_servers::table.find(workspace_id))
        .set((
            managed_servers::state.eq(RUNNING),
            managed_servers::instance_id.eq(instance),
            managed_servers::port.eq(Some(port)),
            managed_servers::pid.eq(Some(pid)),
            managed_servers::prefect_version.eq(version),
            managed_servers::started_at.eq(Some(t)),
            managed_servers::heartbeat_at.eq(Some(t)),
            managed_servers::last_used_at.eq(Some(t)),
            managed_servers::failures.eq(0),
            managed_servers::last_log.eq(""),
            managed_servers::retention_days.eq(Some(retention_days)),
        ))
        .execute(c)
}

pub fn mark_failed(
    c: &mut DbConn,
    workspace_id: &str,
    log: &str,
    failures: i32,
) -> QueryResult<usize> {
    diesel::update(managed_servers::table.find(workspace_id))
        .set((
            managed_servers::state.eq(FAILED),
            managed_servers::port.eq(None::<i32>),
            managed_servers::pid.eq(None::<i32>),
            managed_servers::stopped_at.eq(Some(crate::db::now())),
            managed_servers::failures.eq(failures),
            managed_servers::last_log.eq(log),
        ))
        .execute(c)
}

/// Stopped, when `instance` ran it.
pub fn mark_stopped(c: &mut DbConn, workspace_id: &str, instance: &str) -> QueryResult<usize> {
    diesel::update(
        managed_servers::table
            .find(workspace_id)
            .filter(managed_servers::instance_id.eq(instance)),
    )
    .set((
        managed_servers::state.eq(STOPPED),
        managed_servers::port.eq(None::<i32>),
        managed_servers::pid.eq(None::<i32>),
        managed_servers::stopped_at.eq(Some(crate::db::now())),
    ))
    .execute(c)
}

/// The owner's heartbeat and each server's last use.
pub fn heartbeat(
    c: &mut DbConn,
    instance: &str,
    uses: &[(String, chrono::NaiveDateTime)],
) -> QueryResult<()> {
    let t = crate::db::now();
    for (w, used) in uses {
        diesel::update(
            managed_servers::table
                .find(w)
                .filter(managed_servers::instance_id.eq(instance)),
        )
        .set((
            managed_servers::heartbeat_at.eq(Some(t)),
            managed_servers::last_used_at.eq(Some(*used)),
        ))
        .execute(c)?;
    }
    Ok(())
}
