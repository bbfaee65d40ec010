//! Who asks through the gateway, remembered (issue #21, point 5).
//!
//! A worker and its flow runs make many calls a second with the same key. Each Atrium
//! instance keeps, per (key digest, workspace), what the database said: the key's holder,
//! their scopes on the workspace and the workspace's server — a [`Pass`]. It learns of
//! changes from the database: every committed transaction that changes a user, account,
//! membership, role, workspace, grant, service account, key or workspace server moves the
//! `access_version` row on (triggers, migration 000019, once per transaction), and a
//! background task reads that row every [`POLL`]. A pass read under an older version is
//! never used, and while the version has not been read for [`STALE_AFTER`] (the database
//! is slow or unreachable) no pass is used at all: every call reads the database, as
//! without the memo.
//!
//! The bound: a change committed at time t stops a remembered key by t + [`POLL`] + the time
//! one poll takes, and never later than t + [`STALE_AFTER`] + [`POLL`] < 1 s. Sockets open
//! with a key are re-checked when the version moves and closed when the key no longer
//! passes (`gateway::socket`).
//!
//! A remembered pass costs no statement. Passes are also forgotten [`MAX_AGE`] after they
//! were read (so a key's "last used" time is written about once a minute, as for the API).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apikeys::{Authenticated, KeyHolder};
use crate::authz::workspace::ScopeSet;
use crate::db::Pool;
use crate::servers::ops::Server;

/// How often each instance reads the access version.
pub const POLL: Duration = Duration::from_millis(200);
/// No pass is used when the version was last read longer ago than this.
pub const STALE_AFTER: Duration = Duration::from_millis(600);
/// A pass is read again after this long whatever the version says.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// While one call reads a pass again (after [`MAX_AGE`]), the others go on with the one
/// they have, for at most this long: a worker's eight connections do not all read it at
/// once (the version still decides: a change of access ends the old pass at once).
const REREAD_GRACE: Duration = Duration::from_secs(5);
/// Passes remembered at most; beyond it all are forgotten.
const CAPACITY: usize = 10_000;

/// Where a workspace's calls go: its server's address and the credentials it wants.
#[derive(Clone, Debug)]
pub struct Target {
    pub workspace_id: String,
    /// `http(s)://host:port[/path]`, no trailing slash.
    pub url: String,
    /// `PREFECT_SERVER_API_AUTH_STRING`, opened.
    pub auth: String,
    /// `Basic base64(auth)`.
    pub basic: String,
    /// A managed server Atrium started on loopback (not subject to the operator's list).
    pub managed: bool,
    /// A managed server's hold for the call (`servers::spawner::Lease`): while the call
    /// (or a subscription's socket) lives, its server is not stopped under it.
    pub lease: Option<std::sync::Arc<crate::servers::spawner::Lease>>,
}

/// A key that passed for a workspace.
#[derive(Clone, Debug)]
pub struct Pass {
    pub holder: KeyHolder,
    pub key_id: String,
    pub key_name: String,
    pub key_expires_at: Option<chrono::NaiveDateTime>,
    pub account_id: String,
    pub workspace_id: String,
    pub scopes: ScopeSet,
    /// `None`: no server is connected.
    pub target: Option<Target>,
}

impl Pass {
    pub fn from(
        found: Authenticated,
        account_id: String,
        workspace_id: String,
        scopes: ScopeSet,
        target: Option<Target>,
    ) -> Pass {
        Pass {
            holder: found.holder,
            key_id: found.key.id,
            key_name: found.key.name,
            key_expires_at: found.key.expires_at,
            account_id,
            workspace_id,
            scopes,
            target,
        }
    }

    pub fn expired(&self) -> bool {
        self.key_expires_at.is_some_and(|t| t <= crate::db::now())
    }
}

/// The server of a workspace as the gateway uses it (`None` when its auth string cannot be
/// opened: the secret key changed).
pub fn target_of(server: &Server, sealer: &crate::sealed::Sealer) -> Option<Target> {
    let auth = sealer.open(&server.auth_sealed)?;
    Some(Target {
        workspace_id: server.workspace_id.clone(),
        url: server.url.clone(),
        basic: crate::servers::probe::basic(&auth),
        auth,
        managed: false,
        lease: None,
    })
}

struct Entry {
    version: i64,
    read_at: Instant,
    pass: Arc<Pass>,
    /// One call is reading the pass again.
    rereading: bool,
}

/// See the module documentation. One per instance, shared by its workers.
pub struct Callers {
    version: AtomicI64,
    /// Milliseconds since `start` at the last successful read of the version.
    synced_ms: AtomicU64,
    start: Instant,
    map: Mutex<HashMap<(String, String), Entry>>,
    changes: tokio::sync::watch::Sender<i64>,
    /// Workspaces whose server this instance last found unreachable.
    unreachable: Mutex<std::collections::HashSet<String>>,
    /// Held by the one call reading the version when the poller lags ([`Callers::catch_up`]).
    catching_up: tokio::sync::Mutex<()>,
}

impl Default for Callers {
    fn default() -> Self {
        Callers::new()
    }
}

impl Callers {
    pub fn new() -> Callers {
        Callers {
            version: AtomicI64::new(-1),
            synced_ms: AtomicU64::new(0),
            start: Instant::now(),
            map: Mutex::new(HashMap::new()),
            changes: tokio::sync::watch::channel(-1).0,
            unreachable: Mutex::new(std::collections::HashSet::new()),
            catching_up: tokio::sync::Mutex::new(()),
        }
    }

    /// When the version was not read lately (the poller held up on a busy machine), one
    /// call reads it for all — one statement — and the remembered passes count again;
    /// without it every call in that window would read its pass (five statements). The
    /// bound on a revoked key holds: the version is read now.
    pub async fn catch_up(&self, pool: &Pool) {
        if self.current().is_some() {
            return;
        }
        let _one = self.catching_up.lock().await;
        if self.current().is_some() {
            return;
        }
        if let Ok(v) = read_version(pool).await {
            self.synced(v);
        }
    }

    /// The version, when it was read lately enough to trust remembered passes.
    pub fn current(&self) -> Option<i64> {
        let synced = self.synced_ms.load(Ordering::Acquire);
        let now = self.start.elapsed().as_millis() as u64;
        let v = self.version.load(Ordering::Acquire);
        (synced > 0 && v >= 0 && now.saturating_sub(synced) <= STALE_AFTER.as_millis() as u64)
            .then_some(v)
    }

    /// The pass remembered for `digest` on `workspace_id`, if it is current.
    pub fn get(&self, digest: &str, workspace_id: &str) -> Option<Arc<Pass>> {
        let v = self.current()?;
        let mut map = self.map.lock().ok()?;
        let e = map.get_mut(&(digest.to_string(), workspace_id.to_string()))?;
        if e.version != v || e.pass.expired() {
            return None;
        }
        let age = e.read_at.elapsed();
        if age < MAX_AGE || (e.rereading && age < MAX_AGE + REREAD_GRACE) {
            return Some(e.pass.clone());
        }
        // This call reads it again; the others keep the pass meanwhile.
        e.rereading = true;
        None
    }

    /// Remembers a pass read after the version was `version` (from [`Callers::current`]
    /// before the read).
    pub fn put(&self, digest: String, version: Option<i64>, pass: Arc<Pass>) {
        let Some(version) = version else { return };
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(
            (digest, pass.workspace_id.clone()),
            Entry {
                version,
                read_at: Instant::now(),
                pass,
                rereading: false,
            },
        );
    }

    /// Records a read of the version.
    pub fn synced(&self, version: i64) {
        let old = self.version.swap(version, Ordering::AcqRel);
        if old != version {
            if let Ok(mut map) = self.map.lock() {
                map.retain(|_, e| e.version == version);
            }
            self.changes.send_replace(version);
        }
        let now = (self.start.elapsed().as_millis() as u64).max(1);
        self.synced_ms.store(now, Ordering::Release);
    }

    /// Notes what a call found about a workspace's server; answers whether that differs
    /// from what this instance last found (then the state is written).
    pub fn note_reachability(&self, workspace_id: &str, reachable: bool) -> bool {
        let Ok(mut set) = self.unreachable.lock() else {
            return false;
        };
        if reachable {
            !set.is_empty() && set.remove(workspace_id)
        } else {
            set.insert(workspace_id.to_string())
        }
    }

    /// Moves on each time the version does (open sockets re-check their key).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// Reads the version every [`POLL`] on the background pool (its statements are not the
    /// requests').
    pub fn spawn_poller(self: &Arc<Self>, pool: Pool) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(callers) = me.upgrade() else { return };
                match read_version(&pool).await {
                    Ok(v) => callers.synced(v),
                    Err(e) => tracing::warn!("reading the access version failed: {e:#}"),
                }
            }
        });
    }
}

/// The access version, read on a blocking thread (the poller's and [`Callers::catch_up`]'s
/// one statement).
async fn read_version(pool: &Pool) -> anyhow::Result<i64> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
        let mut c = pool.get()?;
        Ok(crate::db::access_version(&mut c)?)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(ws: &str) -> Arc<Pass> {
        let t = crate::db::now();
        let user = crate::users::ops::User {
            id: "u1".into(),
            email: "u@example.com".into(),
            email_normalized: "u@example.com".into(),
            handle: "u".into(),
            first_name: String::new(),
            last_name: String::new(),
            password_hash: String::new(),
            created_at: t,
            updated_at: t,
            last_login_at: None,
            email_verified_at: None,
        };
        Arc::new(Pass {
            holder: KeyHolder::User(user),
            key_id: "k".into(),
            key_name: "k".into(),
            key_expires_at: None,
            account_id: "a".into(),
            workspace_id: ws.into(),
            scopes: ScopeSet::all(),
            target: None,
        })
    }

    #[test]
    fn a_pass_counts_only_in_its_version_and_while_the_version_is_read() {
        let c = Callers::new();
        assert_eq!(c.current(), None, "never read: nothing is trusted");
        c.put("d".into(), c.current(), pass("w"));
        assert!(c.get("d", "w").is_none());
        c.synced(5);
        c.put("d".into(), c.current(), pass("w"));
        assert!(c.get("d", "w").is_some());
        assert!(c.get("d", "other").is_none());
        c.synced(6);
        assert!(c.get("d", "w").is_none(), "a change since");
        c.put("d".into(), c.current(), pass("w"));
        assert!(c.get("d", "w").is_some());
        // Not read for longer than STALE_AFTER: nothing is trusted.
        c.synced_ms.store(1, Ordering::Release);
        std::thread::sleep(STALE_AFTER + Duration::from_millis(50));
        assert!(c.get("d", "w").is_none());
    }

    #[test]
    fn after_a_minute_one_call_reads_the_pass_again_and_the_others_go_on() {
        let c = Callers::new();
        c.synced(5);
        c.put("d".into(), c.current(), pass("w"));
        let old = Instant::now().checked_sub(MAX_AGE + Duration::from_secs(1));
        if let (Some(old), Ok(mut map)) = (old, c.map.lock()) {
            for e in map.values_mut() {
                e.read_at = old;
            }
        }
        assert!(c.get("d", "w").is_none(), "the first call reads it again");
        assert!(c.get("d", "w").is_some(), "the others keep it meanwhile");
        assert!(c.get("d", "w").is_some());
        c.put("d".into(), c.current(), pass("w"));
        assert!(c.get("d", "w").is_some(), "read again");
        c.synced(6);
        assert!(c.get("d", "w").is_none(), "a change ends it at once");
    }

    #[test]
    fn a_change_wakes_the_sockets() {
        let c = Callers::new();
        let mut rx = c.changes();
        c.synced(1);
        assert!(rx.has_changed().unwrap_or(false));
        rx.borrow_and_update();
        c.synced(1);
        assert!(!rx.has_changed().unwrap_or(true), "the same version");
    }
}
