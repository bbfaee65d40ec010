//! Storage: one code path for SQLite and PostgreSQL through `diesel::MultiConnection`.
//!
//! The backend is picked from the database URL scheme. SQLite connections get
//! `foreign_keys = ON` and a busy timeout on every checkout; WAL is set once before
//! the pool is built. Migrations for both backends are embedded and applied at start.

pub mod changes;
pub mod schema;
pub mod search;
pub mod stamp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::settings::Backend;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Builds connections of the backend chosen by the URL scheme.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
    target: String,
    queries: QueryCounter,
    /// SQLite: how this process tells others on the same file that who may do what changed.
    signal: Option<std::sync::Arc<changes::SharedSignal>>,
}

/// Counts the statements run through a pool (used by tests to bound queries per page).
#[derive(Debug, Clone, Default)]
pub struct QueryCounter(pub std::sync::Arc<std::sync::atomic::AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not connect to the database: {0}")]
    Connection(#[from] diesel::ConnectionError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("could not create the data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("could not build the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("migrations failed: {0}")]
    Migration(String),
}

impl Manager {
    pub fn new(backend: Backend, url: &str, queries: QueryCounter) -> Self {
        Manager {
            backend,
            target: target_of(backend, url),
            queries,
            signal: None,
        }
    }

    fn establish(&self) -> Result<DbConn, DbError> {
        let mut conn = self.establish_raw()?;
        conn.set_instrumentation(Probe {
            queries: self.queries.0.clone(),
            lost: false,
            depth: 0,
            changed: false,
            ending: None,
            signal: self.signal.clone(),
        });
        Ok(conn)
    }

    fn establish_raw(&self) -> Result<DbConn, DbError> {
        match self.backend {
            Backend::Sqlite => {
                sqlite_process_config();
                let mut conn = diesel::SqliteConnection::establish(&self.target)?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                )?;
                Ok(DbConn::Sqlite(conn))
            }
            Backend::Postgres => {
                let conn = diesel::PgConnection::establish(&self.target)?;
                Ok(DbConn::Postgres(conn))
            }
        }
    }
}

/// Once per process, before SQLite initializes:
///
/// - no memory-usage statistics. With them on (the bundled library's default) every
///   allocation inside SQLite takes one global mutex, which all pooled connections contend
///   for under load (seen in `perf` as futex waits around `sqlite3MemSize`). Atrium never
///   reads those statistics.
/// - no mutex per connection (SQLite's "multi-thread" mode instead of the bundled
///   library's "serialized" default). In serialized mode every call into a connection
///   (each `sqlite3_step`, each `sqlite3_column_value`: seven a row of a members page)
///   locks and unlocks that connection's mutex, some 3% of the page's CPU in `perf`. A
///   Diesel connection is never used by two threads at once (it is not `Sync`, and the
///   pool hands it to one request at a time), which is all multi-thread mode asks.
/// - every connection opened afterwards gets the query planner stability guarantee
///   ([`plan_once`]).
fn sqlite_process_config() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` is called before any connection is opened by this
        // process (the first `establish` comes here first); afterwards SQLite would answer
        // SQLITE_MISUSE and change nothing, which is harmless.
        let rc =
            unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!("sqlite3_config(MEMSTATUS, 0) answered {rc}");
        }
        // SAFETY: as above, before any connection is opened.
        let rc =
            unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MULTITHREAD) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!("sqlite3_config(MULTITHREAD) answered {rc}");
        }
        // SAFETY: `plan_once` has the signature SQLite calls an automatic extension with.
        let rc = unsafe { libsqlite3_sys::sqlite3_auto_extension(Some(plan_once)) };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::warn!("sqlite3_auto_extension answered {rc}: statements may be re-planned");
        }
    });
}

/// Run by SQLite for every connection it opens (an automatic extension): turns on the
/// query planner stability guarantee, so that a prepared statement is planned once and
/// never from the values bound to it.
///
/// Without it SQLite reads the value bound to `LIMIT ?` while planning, and marks the
/// statement to be prepared again whenever that parameter is bound — which Diesel does on
/// every execution, so every `.first()` (a `LIMIT ?`) was parsed and planned on every call
/// despite Diesel's statement cache (seen in `perf` as `sqlite3Reprepare` under
/// `sqlite3_step`). Atrium's plans never depend on bound values: no `sqlite_stat4`, and no
/// `LIKE` that could use an index.
unsafe extern "C" fn plan_once(
    db: *mut libsqlite3_sys::sqlite3,
    _err: *mut *mut std::os::raw::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::os::raw::c_int {
    // SAFETY: SQLite passes the connection being opened; ENABLE_QPSG takes an int and an
    // optional int* for the resulting setting.
    unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::os::raw::c_int,
            std::ptr::null_mut::<std::os::raw::c_int>(),
        )
    }
}

/// Watches a connection's statements: counts them (for [`QueryCounter`]); notes when one
/// failed because the connection is gone (PostgreSQL restarted), so that the pool drops the
/// connection instead of handing the dead one out again (Diesel itself reports a connection
/// broken only when a transaction was left open, not after a failed plain read); and tells
/// [`changes`] when a write that can change who may do what was committed.
struct Probe {
    queries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    lost: bool,
    /// Transaction depth (0: none open).
    depth: u32,
    /// The open transaction wrote something that can change who may do what.
    changed: bool,
    /// The next statement to finish ends a transaction level: (commit?, depth).
    ending: Option<(bool, u32)>,
    /// Where committed changes are told. `None` (PostgreSQL): nothing is watched, since
    /// only SQLite remembers who asks (`authn::who`) and reading statements costs a little.
    signal: Option<std::sync::Arc<changes::SharedSignal>>,
}

impl diesel::connection::Instrumentation for Probe {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        match event {
            E::StartQuery { .. } => {
                self.queries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            E::BeginTransaction { depth, .. } => self.depth = depth.get(),
            E::CommitTransaction { depth, .. } => self.ending = Some((true, depth.get())),
            E::RollbackTransaction { depth, .. } => self.ending = Some((false, depth.get())),
            E::FinishQuery { query, error, .. } => {
                if let Some(e) = error
                    && is_connection_lost(e)
                {
                    self.lost = true;
                }
                let Some(signal) = &self.signal else {
                    return;
                };
                if let Some((commit, depth)) = self.ending.take() {
                    // The COMMIT, ROLLBACK or savepoint statement itself.
                    self.depth = depth.saturating_sub(1);
                    if self.depth == 0 {
                        // A failed COMMIT is told as well: erring towards forgetting.
                        if commit && self.changed {
                            signal.committed();
                        }
                        self.changed = false;
                    }
                } else if error.is_none() && changes::may_change_access(&changes::head_of(query)) {
                    if self.depth == 0 {
                        signal.committed();
                    } else {
                        self.changed = true;
                    }
                }
            }
            _ => {}
        }
    }
}

/// True when the error says the connection itself is gone (not merely a busy database).
fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    match e {
        E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _) => true,
        E::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("terminating connection")
                || m.contains("server closed the connection")
                || m.contains("no connection to the server")
        }
        _ => false,
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        let lost = diesel::Connection::instrumentation(conn)
            .downcast_ref::<Probe>()
            .is_some_and(|p| p.lost);
        if lost {
            return true;
        }
        match conn {
            DbConn::Sqlite(c) => r2d2::R2D2Connection::is_broken(c),
            DbConn::Postgres(c) => r2d2::R2D2Connection::is_broken(c),
        }
    }
}

/// What a connection opens: the SQLite file's path, or the PostgreSQL URL.
fn target_of(backend: Backend, url: &str) -> String {
    match backend {
        Backend::Sqlite => url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url)
            .to_string(),
        Backend::Postgres => url.to_string(),
    }
}

/// The change signal ([`changes::SharedSignal`]) of a SQLite database (after [`connect`]
/// created its folder); `None` for PostgreSQL.
pub fn change_signal(backend: Backend, url: &str) -> Option<std::sync::Arc<changes::SharedSignal>> {
    match backend {
        Backend::Sqlite => changes::SharedSignal::for_database(Path::new(&target_of(backend, url))),
        Backend::Postgres => None,
    }
}

/// Opens the database (creating the SQLite file's folder), applies migrations and builds the pool.
pub fn connect(backend: Backend, url: &str, size: u32) -> Result<Pool, DbError> {
    connect_counted(backend, url, size, POOL_TIMEOUT, QueryCounter::default())
}

/// How long a checkout waits for a connection by default (`ATRIUM_DB_POOL_TIMEOUT_MS`).
pub const POOL_TIMEOUT: Duration = Duration::from_secs(3);

/// Like [`connect`], waiting at most `timeout` for a connection (then the request answers
/// 503) and counting statements into `queries`.
pub fn connect_counted(
    backend: Backend,
    url: &str,
    size: u32,
    timeout: Duration,
    queries: QueryCounter,
) -> Result<Pool, DbError> {
    let mut manager = Manager::new(backend, url, queries);
    if backend == Backend::Sqlite {
        let path = PathBuf::from(&manager.target);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| DbError::DataDir(parent.into(), e))?;
        }
        manager.signal = changes::SharedSignal::for_database(&path);
    }
    // One connection first: fail fast with the real cause (unreachable server, bad path),
    // set WAL once, and migrate before anybody else connects.
    let mut first = manager.establish()?;
    if let DbConn::Sqlite(c) = &mut first {
        c.batch_execute("PRAGMA journal_mode = WAL;")?;
    }
    migrate(&mut first)?;
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(timeout)
        // Validation would cost a query per checkout; broken connections are found by
        // `has_broken` and by the failing query itself.
        .test_on_check_out(false)
        .build(manager)?;
    Ok(pool)
}

/// Applies every pending migration of the connection's backend.
pub fn migrate(conn: &mut DbConn) -> Result<(), DbError> {
    let result = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConn::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| DbError::Migration(e.to_string()))?;
    // The people's search keys the SQL of `2026-12-07-000026_search` could not compute.
    search::backfill_users(conn).map_err(|e| DbError::Migration(e.to_string()))?;
    // The search index as merged as the housekeeping keeps it (a no-op when it is).
    while search::merge_index(conn, 16).map_err(|e| DbError::Migration(e.to_string()))? {}
    Ok(())
}

/// Runs `f` with PostgreSQL planning its statements once per connection (a generic plan)
/// instead of at every execution. PostgreSQL plans a prepared statement again at each
/// execution with the values bound (a custom plan) while its estimate for a plan without
/// them is much higher; for a statement like the switcher's read of an account's workspaces
/// by name (two correlated `EXISTS`), whose best plan is the same index walk whatever the
/// values, that planning was most of its cost: 0.3-1.0 ms a time against 0.02-0.05 ms to
/// run it (`log_min_duration_statement`, bind against execute). `f` runs in a transaction
/// with `SET LOCAL plan_cache_mode = force_generic_plan`; inside a caller's transaction the
/// setting lasts until that one ends. On SQLite, which plans once per prepared statement
/// anyway, it just runs `f`.
pub fn with_generic_plans<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    if let DbConn::Sqlite(_) = conn {
        return f(conn);
    }
    conn.transaction(|c| {
        c.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")?;
        f(c)
    })
}

/// Runs `f` in one write transaction. On SQLite the transaction takes the write lock
/// with its first statement (a one-row lock table), so a read-then-write never fails
/// half-way with SQLITE_BUSY (it waits on the busy timeout instead), like `BEGIN
/// IMMEDIATE`. On PostgreSQL it is an ordinary transaction; callers lock the rows they
/// guard with `FOR UPDATE` where it matters. A panic inside leaves diesel's transaction
/// state open, which the pool sees as broken and discards.
pub fn write_tx<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let sqlite = matches!(conn, DbConn::Sqlite(_));
    conn.transaction(|c| {
        if sqlite {
            c.batch_execute("UPDATE atrium_write_lock SET n = n + 1 WHERE id = 1")?;
        }
        f(c)
    })
}

/// Current time in UTC, truncated to microseconds (what both backends store).
pub fn now() -> chrono::NaiveDateTime {
    let t = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(t, chrono::TimeDelta::microseconds(1)).unwrap_or(t)
}

/// True for text no stored value can equal because it holds a NUL, which PostgreSQL can
/// neither store nor compare: lookups answer "nothing" for it without asking the
/// database, so a NUL in an id or a login is "not found" on both backends alike.
pub fn holds_nul(s: &str) -> bool {
    s.contains('\0')
}

/// `%part%` for `LIKE … ESCAPE '\'`, every character of `part` literal (`%`, `_` and `\`
/// escaped with `\`, PostgreSQL's default escape character).
pub fn like_contains(part: &str) -> String {
    let mut pattern = String::with_capacity(part.len() + 2);
    pattern.push('%');
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A new random identifier, as text (both backends store UUIDs as text).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new identifier for a row of an append-only table, as text: a UUIDv7, whose leading
/// bits are the time `at` (then random bits), so that rows written in time order land at
/// the end of the id's index instead of on a random page of it (a million audit events
/// with random ids rewrote most of that index's pages at every commit).
pub fn time_ordered_id(at: chrono::NaiveDateTime) -> String {
    let t = at.and_utc();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp().max(0) as u64,
        t.timestamp_subsec_nanos(),
    );
    uuid::Uuid::new_v7(ts).to_string()
}

/// True when a database error means the database cannot answer now rather than that the
/// statement is wrong: the connection was lost (a restarted PostgreSQL), or SQLite stayed
/// busy past its timeout. Requests answer 503 with `Retry-After` for these, not 500.
pub fn is_unavailable(e: &diesel::result::Error) -> bool {
    if is_connection_lost(e) {
        return true;
    }
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked")
                || m.contains("database is busy")
                || m.contains("the database system is shutting down")
                || m.contains("the database system is starting up")
        }
        diesel::result::Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// True when a database error is a unique-constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// The version of who may do what (`access_version`, migration 000019): moved on once by
/// every committed transaction that changes a user, account, membership, role, workspace,
/// grant, service account, key or workspace server.
pub fn access_version(c: &mut DbConn) -> diesel::QueryResult<i64> {
    use diesel::prelude::*;
    schema::access_version::table
        .select(schema::access_version::version)
        .filter(schema::access_version::id.eq(1))
        .first(c)
}

/// True for a name Atrium gives a database of its own: lower-case letters, digits and
/// underscores, starting with a letter, at most 63 characters (PostgreSQL's limit).
pub fn is_database_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// PostgreSQL: creates the database `name` (a managed Prefect server's) unless it exists.
/// Nothing on SQLite.
pub fn create_database_if_missing(c: &mut DbConn, name: &str) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let DbConn::Postgres(pg) = c else {
        return Ok(());
    };
    if !is_database_name(name) {
        return Err(diesel::result::Error::QueryBuilderError(
            format!("{name:?} is not a database name Atrium gives").into(),
        ));
    }
    let found = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<N>(pg)?;
    if found.n == 0 {
        match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(pg) {
            Ok(_) => {}
            // Created meanwhile by another instance.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// PostgreSQL: drops the database `name` (a managed Prefect server's, once it stopped).
pub fn drop_database(c: &mut DbConn, name: &str) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    let DbConn::Postgres(pg) = c else {
        return Ok(());
    };
    if !is_database_name(name) {
        return Ok(());
    }
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(pg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use libsqlite3_sys as ffi;

    /// Ids of rows written later sort after earlier ones, as text too (the index order on
    /// both backends), down to the millisecond; each is a UUID of version 7.
    #[test]
    fn time_ordered_ids_sort_by_their_time() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_milli_opt(18, 0, 0, 0))
            .expect("a time");
        let times = [
            t - chrono::TimeDelta::days(400),
            t,
            t + chrono::TimeDelta::milliseconds(1),
            t + chrono::TimeDelta::seconds(1),
            t + chrono::TimeDelta::days(1),
        ];
        let ids: Vec<String> = times.iter().map(|&at| super::time_ordered_id(at)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        for id in &ids {
            let u = uuid::Uuid::parse_str(id).expect("a UUID");
            assert_eq!(u.get_version_num(), 7, "{id}");
        }
        // Two ids of the same millisecond differ (random bits).
        assert_ne!(super::time_ordered_id(t), super::time_ordered_id(t));
    }

    /// A statement with `LIMIT ?`, as Diesel's `.first()` writes it, run twice with the
    /// parameter bound each time: how often SQLite prepared it again, and whether the
    /// connection has the planner stability guarantee.
    fn reprepares_of_a_limit_statement() -> (i32, i32) {
        super::sqlite_process_config();
        let mut db = std::ptr::null_mut();
        let mut stmt = std::ptr::null_mut();
        // SAFETY: plain use of the C API on a private in-memory database; every pointer
        // comes from SQLite and is released before returning.
        unsafe {
            assert_eq!(
                ffi::sqlite3_open(c":memory:".as_ptr(), &mut db),
                ffi::SQLITE_OK
            );
            let sql = c"SELECT 1 LIMIT ?";
            let rc = ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            assert_eq!(rc, ffi::SQLITE_OK);
            for _ in 0..2 {
                assert_eq!(ffi::sqlite3_bind_int64(stmt, 1, 1), ffi::SQLITE_OK);
                assert_eq!(ffi::sqlite3_step(stmt), ffi::SQLITE_ROW);
                ffi::sqlite3_reset(stmt);
            }
            let n = ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
            let mut qpsg = -1;
            ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, -1, &mut qpsg);
            ffi::sqlite3_finalize(stmt);
            ffi::sqlite3_close(db);
            (n, qpsg)
        }
    }

    #[test]
    fn sqlite_plans_a_statement_once_whatever_is_bound_to_it() {
        let (reprepared, qpsg) = reprepares_of_a_limit_statement();
        assert_eq!(
            reprepared, 0,
            "prepared again after binding LIMIT's parameter"
        );
        assert_eq!(qpsg, 1, "the planner stability guarantee is on");
    }
}
