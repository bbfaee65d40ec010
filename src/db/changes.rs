//! Which committed writes can change who may do what: what the cache of who asks
//! (`authn::who`) must forget.
//!
//! Every connection's [`super::Probe`] reads the statements it runs. A statement that writes
//! a table holding users, sessions, memberships, roles, workspaces, grants, service accounts
//! or keys (every table but the few in [`IRRELEVANT`]) marks its transaction; when that
//! transaction commits (or at once, for a statement outside a transaction), the database's
//! epoch ([`SharedSignal::epoch`], one per database file in a process) moves on, and every
//! remembered answer from an earlier epoch is thrown away.
//!
//! The epoch also reaches other Atrium processes on the same SQLite file (they must run on
//! the same host): a commit writes a fresh random value into a small file beside the
//! database (`<database>-changes`), and every process reads that value at each request
//! ([`SharedSignal::sync`]); a value it has not seen moves its own epoch on. So a change
//! made through any process counts in every other one at its next request, like a change
//! made through the process itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Tables whose writes change nothing a request learns about who asks: audit events, the
/// mail outbox, log-in failures, workspace visits (the "recent" order) and SQLite's write
/// lock row, which every write transaction updates first.
///
/// `email_tokens` (e-mailed verification, reset and change-of-address codes) is not here on
/// purpose: using one changes a user's address, password or sessions, and a code is itself
/// a way in, so its writes count as changes.
pub const IRRELEVANT: &[&str] = &[
    "audit_events",
    "outbox",
    "login_failures",
    "workspace_visits",
    "atrium_write_lock",
];

/// Updates that set only this column of this table change nothing either: a key's "last
/// used" time, written at most once a minute per key by the API, and a session's "last
/// seen" time, written at most once a minute per session (the idle timeout is checked when
/// the session is read from the database, which a remembered answer's 2 s lifetime bounds).
pub const IRRELEVANT_UPDATES: &[(&str, &str)] =
    &[("api_keys", "last_used_at"), ("sessions", "last_seen_at")];

/// True when `sql` may write a table that decides who may do what. Errs on the side of
/// yes: anything it does not recognise as a read or as a write of an [`IRRELEVANT`] table
/// counts as a change. Several statements separated by `;` count if any one does.
pub fn may_change_access(sql: &str) -> bool {
    sql.split(';').any(statement_may_change_access)
}

fn statement_may_change_access(stmt: &str) -> bool {
    let mut words = stmt
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty());
    let Some(first) = words.next() else {
        return false;
    };
    let first = first.to_ascii_uppercase();
    match first.as_str() {
        "SELECT" | "VALUES" | "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
        | "EXPLAIN" | "SHOW" | "SET" | "LISTEN" | "UNLISTEN" | "NOTIFY" | "VACUUM" | "ANALYZE"
        | "PRAGMA" => false,
        "WITH" => {
            // A common table expression: a read unless it writes somewhere.
            let upper = stmt.to_ascii_uppercase();
            ["INSERT", "UPDATE", "DELETE", "REPLACE"].iter().any(|w| {
                upper
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .any(|x| x == *w)
            })
        }
        "INSERT" | "REPLACE" => target_after(words, "INTO"),
        "DELETE" => target_after(words, "FROM"),
        "UPDATE" => {
            // `UPDATE [OR …] table`
            let mut words = words.peekable();
            if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("OR")) {
                words.next();
                words.next();
            }
            match words.next() {
                Some(t) => !irrelevant(t) && !irrelevant_update(t, stmt),
                None => true,
            }
        }
        _ => true,
    }
}

/// The table after `keyword` (skipping `OR <conflict>` and the like) is not irrelevant.
fn target_after<'a>(mut words: impl Iterator<Item = &'a str>, keyword: &str) -> bool {
    for w in words.by_ref() {
        if w.eq_ignore_ascii_case(keyword) {
            return match words.next() {
                Some(t) => !irrelevant(t),
                None => true,
            };
        }
    }
    true
}

/// `UPDATE <table> SET <column> = … [WHERE …]` with one assignment, listed in
/// [`IRRELEVANT_UPDATES`].
fn irrelevant_update(table: &str, stmt: &str) -> bool {
    let table = unquoted(table);
    let upper = stmt.to_ascii_uppercase();
    let Some(set) = upper.find(" SET ") else {
        return false;
    };
    let end = upper[set..].find(" WHERE ").map_or(stmt.len(), |w| set + w);
    let assignments = &stmt[set + 5..end];
    if assignments.contains(',') {
        return false;
    }
    let Some((column, _)) = assignments.split_once('=') else {
        return false;
    };
    let column = unquoted(column.trim());
    IRRELEVANT_UPDATES
        .iter()
        .any(|(t, c)| table.eq_ignore_ascii_case(t) && column.eq_ignore_ascii_case(c))
}

fn unquoted(name: &str) -> &str {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches(['"', '`', '[', ']'])
}

fn irrelevant(table: &str) -> bool {
    // `"outbox"`, `main."outbox"`, `public.outbox`: the last part, unquoted.
    let name = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .trim_matches(['"', '`', '[', ']']);
    IRRELEVANT.iter().any(|t| name.eq_ignore_ascii_case(t))
}

/// The first bytes of a statement's text, for [`may_change_access`]: Diesel's statements
/// print their SQL first and their bound values after, which are not needed.
pub(super) fn head_of(query: &dyn std::fmt::Display) -> String {
    struct Head(String);
    const CAP: usize = 4096;
    impl std::fmt::Write for Head {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if let Some(cut) = s.find(" -- binds: ") {
                self.0.push_str(&s[..cut.min(CAP)]);
                return Err(std::fmt::Error);
            }
            let room = CAP.saturating_sub(self.0.len());
            if s.len() >= room {
                let mut end = room;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                self.0.push_str(&s[..end]);
                return Err(std::fmt::Error);
            }
            self.0.push_str(s);
            Ok(())
        }
    }
    let mut head = Head(String::new());
    // An error only means the writer stopped early.
    let _ = std::fmt::write(&mut head, format_args!("{query}"));
    head.0
}

/// A small file beside a SQLite database through which the Atrium processes using it tell
/// each other that who may do what changed (see the module documentation).
pub struct SharedSignal {
    file: std::fs::File,
    /// The last value read or written by this process.
    seen: AtomicU64,
    /// Changes to who may do what seen by this process so far, on this database.
    epoch: AtomicU64,
}

impl std::fmt::Debug for SharedSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSignal").finish_non_exhaustive()
    }
}

impl SharedSignal {
    /// The signal of the database at `db_path`, shared by every pool of this process on it.
    /// `None` when the file cannot be opened (the cache of who asks then stays off).
    pub fn for_database(db_path: &Path) -> Option<Arc<SharedSignal>> {
        static OPEN: OnceLock<Mutex<HashMap<PathBuf, Weak<SharedSignal>>>> = OnceLock::new();
        let path = signal_path(db_path)?;
        let mut open = OPEN.get_or_init(Default::default).lock().ok()?;
        if let Some(s) = open.get(&path).and_then(Weak::upgrade) {
            return Some(s);
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| tracing::warn!("cannot open {}: {e}", path.display()))
            .ok()?;
        let s = Arc::new(SharedSignal {
            file,
            seen: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        });
        let _ = s.sync();
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(path, Arc::downgrade(&s));
        Some(s)
    }

    /// The number of changes to who may do what this process has seen on this database.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Called after a write that can change who may do what was committed through this
    /// process: moves the epoch on, and tells the other processes.
    pub fn committed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.publish();
    }

    /// Reads the value other processes last wrote: a new one moves this process's epoch on
    /// (and answers true).
    pub fn sync(&self) -> bool {
        let mut buf = [0u8; 8];
        let value = match read_at(&self.file, &mut buf) {
            Ok(8) => u64::from_le_bytes(buf),
            Ok(_) => 0,
            Err(e) => {
                // Cannot tell: assume a change.
                tracing::warn!("reading the change signal: {e}");
                self.epoch.fetch_add(1, Ordering::AcqRel);
                return true;
            }
        };
        let new = self.seen.swap(value, Ordering::AcqRel) != value;
        if new {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        new
    }

    /// Tells the other processes that a change was committed: a fresh random value (two
    /// processes writing at once cannot write the same one, as counting up could).
    fn publish(&self) {
        let value = loop {
            let v = rand::random::<u64>();
            if v != 0 {
                break v;
            }
        };
        self.seen.store(value, Ordering::Release);
        if let Err(e) = write_at(&self.file, &value.to_le_bytes()) {
            tracing::warn!("writing the change signal: {e}");
        }
    }
}

/// `<database file>-changes`, beside the database (like SQLite's own `-wal` and `-shm`).
fn signal_path(db_path: &Path) -> Option<PathBuf> {
    let name = db_path.file_name()?;
    if name == ":memory:" {
        return None;
    }
    let dir = match db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.canonicalize().ok()?,
        None => std::env::current_dir().ok()?,
    };
    let mut file = name.to_os_string();
    file.push("-changes");
    Some(dir.join(file))
}

#[cfg(unix)]
fn read_at(f: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, 0)
}

#[cfg(unix)]
fn write_at(f: &std::fs::File, buf: &[u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, 0)
}

#[cfg(not(unix))]
fn read_at(_: &std::fs::File, _: &mut [u8]) -> std::io::Result<usize> {
    Err(std::io::Error::other(
        "no positioned reads on this platform",
    ))
}

#[cfg(not(unix))]
fn write_at(_: &std::fs::File, _: &[u8]) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "no positioned writes on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_of_unrelated_tables_are_not_changes_everything_else_is() {
        for sql in [
            r#"SELECT "users"."id" FROM "users" WHERE "users"."id" = ?"#,
            "BEGIN",
            "COMMIT",
            "ROLLBACK TO SAVEPOINT diesel_savepoint_1",
            "SAVEPOINT diesel_savepoint_1",
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
            r#"INSERT INTO "audit_events" ("id") VALUES (?)"#,
            r#"UPDATE "outbox" SET "attempts" = ?"#,
            "UPDATE atrium_write_lock SET n = n + 1 WHERE id = 1",
            r#"DELETE FROM "login_failures" WHERE "at" < ?"#,
            r#"INSERT OR REPLACE INTO "workspace_visits" ("user_id") VALUES (?)"#,
            "WITH x AS (SELECT 1) SELECT * FROM x",
            r#"UPDATE "api_keys" SET "last_used_at" = $1 WHERE (("api_keys"."id" = $2))"#,
            "",
        ] {
            assert!(!may_change_access(sql), "{sql}");
        }
        for sql in [
            r#"INSERT INTO "sessions" ("id") VALUES (?)"#,
            r#"UPDATE "account_memberships" SET "role" = ?"#,
            r#"DELETE FROM "workspace_access" WHERE "id" = ?"#,
            "delete from users where id = 'x'",
            r#"UPDATE OR IGNORE "workspaces" SET "name" = ?"#,
            r#"INSERT INTO public."roles" ("id") VALUES (?)"#,
            "UPDATE atrium_write_lock SET n = n + 1 WHERE id = 1; DELETE FROM sessions",
            "WITH gone AS (DELETE FROM api_keys RETURNING id) SELECT count(*) FROM gone",
            "TRUNCATE sessions",
            r#"UPDATE "api_keys" SET "last_used_at" = ?, "expires_at" = ? WHERE "id" = ?"#,
            r#"UPDATE "api_keys" SET "expires_at" = ? WHERE "id" = ?"#,
            r#"UPDATE "users" SET "last_used_at" = ?"#,
            "DROP TABLE users",
            "SOMETHING NEW",
        ] {
            assert!(may_change_access(sql), "{sql}");
        }
    }

    #[test]
    fn the_head_of_a_statement_is_its_sql_without_the_bound_values() {
        struct Q;
        impl std::fmt::Display for Q {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("DELETE FROM sessions")?;
                write!(f, " -- binds: [{:?}]", "secret")
            }
        }
        assert_eq!(head_of(&Q), "DELETE FROM sessions");
        assert_eq!(head_of(&"x".repeat(5000)).len(), 4096);
    }

    #[test]
    fn a_commit_through_one_process_is_seen_by_another_on_the_same_database() {
        let dir = tempfile_dir();
        let db = dir.join("atrium.db");
        let ours = SharedSignal::for_database(&db).expect("signal");
        // Another process: its own handle on the same file.
        let theirs = SharedSignal {
            file: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(dir.join("atrium.db-changes"))
                .expect("open"),
            seen: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
        };
        theirs.sync();
        ours.sync();
        assert!(!ours.sync(), "nothing new");
        let before = ours.epoch();
        theirs.committed();
        assert!(ours.sync(), "their commit is news to us");
        assert_eq!(ours.epoch(), before + 1, "and moves our epoch on");
        assert!(!ours.sync(), "once");
        assert_eq!(ours.epoch(), before + 1);
        ours.committed();
        assert_eq!(ours.epoch(), before + 2, "our own commit moves it on");
        assert!(theirs.sync(), "and is news to them");
        // The same file opened again in this process: the same signal and epoch.
        let again = SharedSignal::for_database(&db).expect("signal");
        assert!(Arc::ptr_eq(&ours, &again));
        std::fs::remove_dir_all(&dir).ok();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("atrium-changes-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).expect("dir");
        d
    }
}
