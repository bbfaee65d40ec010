//! Managed Prefect servers (issue #22): the spawner. A workspace without a server connected
//! by hand gets one that Atrium starts itself — `prefect server start` on a free loopback
//! port, with its own database (a SQLite file under the data directory, or a PostgreSQL
//! database of its own when Atrium runs on PostgreSQL), a random auth string only Atrium
//! knows, logs streamed, nothing fetched from the internet — on the first call that needs
//! it. The model is JupyterHub's: Atrium is the hub, the gateway the proxy, this the
//! spawner and its culler.
//!
//! The state of every managed server is a `managed_servers` row, so several instances
//! agree on who runs what: an instance claims a stopped (or failed, or abandoned: its
//! owner's heartbeat is older than [`ABANDONED_AFTER`]) server in one statement before it
//! starts it, and another instance that needs it meanwhile waits for the row to say
//! `running` and reaches it on loopback (instances on one machine; across hosts a server
//! is reached only from its own host — docs/PREFECT.md).
//!
//! Life cycle, from the background task ([`Spawner::spawn_supervisor`], every [`TICK`]):
//! a server unused for the idle time is stopped; one that died is started again after a
//! back-off (1 s, 2 s, 4 s … at most a minute); at most `max_running` run per instance (the
//! least recently used is stopped first); every server is stopped with Atrium
//! ([`Spawner::stop_all`]). Each process is started by a small shell that ends it when the
//! Atrium process is gone, so none outlives it even after `kill -9`.
//!
//! The hot path: a call to a workspace whose server this instance runs reads the address
//! from memory; no statement.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::{DbConn, Pool};
use crate::settings::Backend;

use super::model::{self, Managed};

/// How often the supervisor looks at the servers.
pub const TICK: Duration = Duration::from_secs(1);
/// A row whose owner has not written its heartbeat for this long is abandoned.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(20);
/// The heartbeat (and the last-use time) is written this often.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a stop waits for the calls in flight to its server to finish.
const DRAIN: Duration = Duration::from_secs(10);
/// The longest back-off between two starts of a server that keeps dying.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Log lines kept with a failed server.
const LOG_LINES: usize = 20;

/// What the spawner needs from the settings.
#[derive(Clone, Debug)]
pub struct SpawnSettings {
    /// The `prefect` executable; `None`: managed servers are off.
    pub prefect_bin: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub backend: Backend,
    /// Atrium's own database URL (PostgreSQL: where the servers' databases are created).
    pub database_url: String,
    /// A server unused this long is stopped.
    pub idle: Duration,
    /// At most this many servers run on one instance.
    pub max_running: usize,
    /// How long a first call waits for a server to answer `/api/health`.
    pub start_timeout: Duration,
    /// How often a server's vacuum service runs (`servers::retention`).
    pub vacuum_every: Duration,
    /// A server whose flow run retention changed is restarted once it has had no call
    /// for this long and runs no flow run.
    pub quiet: Duration,
}

/// Where a running managed server answers, and the credentials it wants.
#[derive(Clone, Debug)]
pub struct Address {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// Its `PREFECT_SERVER_API_AUTH_STRING`.
    pub auth: String,
}

/// Why no managed server could be reached.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("managed Prefect servers are not enabled on this instance")]
    Disabled,
    #[error("the workspace's Prefect server did not start in time")]
    Timeout,
    #[error("the workspace's Prefect server failed to start: {0}")]
    Failed(String),
    #[error("the database: {0}")]
    Database(String),
}

/// A server this instance runs.
struct Local {
    address: Address,
    child: Child,
    started: Instant,
    last_used: Instant,
    /// The calls in flight to it.
    uses: Arc<Uses>,
    /// The flow run retention (days) it was started with.
    retention_days: i32,
}

/// The calls in flight to a server this instance runs, and when the last one ended. A
/// server with a call in flight is neither idle nor quiet: a retention restart or an idle
/// stop would cut the call (a slow filter, an events subscription) off.
#[derive(Debug, Default)]
pub struct Uses {
    busy: AtomicUsize,
    last_end: Mutex<Option<Instant>>,
}

/// One call's hold on a managed server (`Spawner::hold`); the server counts it in flight
/// until it is dropped.
#[derive(Debug)]
pub struct Lease(Arc<Uses>);

impl Lease {
    fn take(uses: &Arc<Uses>) -> Lease {
        uses.busy.fetch_add(1, Ordering::AcqRel);
        Lease(uses.clone())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *lock(&self.0.last_end) = Some(Instant::now());
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Local {
    /// How long nothing has used it: zero while a call is in flight.
    fn unused_for(&self) -> Duration {
        if self.uses.busy.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = lock(&self.uses.last_end).map_or(self.last_used, |e| e.max(self.last_used));
        last.elapsed()
    }
}

/// A server that died: when it may start again.
struct Retry {
    at: Instant,
    failures: u32,
}

/// See the module documentation. One per instance.
pub struct Spawner {
    settings: SpawnSettings,
    instance_id: String,
    pool: Pool,
    sealer: crate::sealed::Sealer,
    local: Mutex<HashMap<String, Local>>,
    retry: Mutex<HashMap<String, Retry>>,
    /// One start at a time per workspace in this instance.
    starting: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Spawner {
    pub fn new(settings: SpawnSettings, pool: Pool, sealer: crate::sealed::Sealer) -> Spawner {
        Spawner {
            settings,
            instance_id: uuid::Uuid::new_v4().to_string(),
            pool,
            sealer,
            local: Mutex::new(HashMap::new()),
            retry: Mutex::new(HashMap::new()),
            starting: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.settings.prefect_bin.is_some()
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The workspace's server, started (and waited for, bounded) when it is not running.
    pub async fn address(self: &Arc<Self>, workspace_id: &str) -> Result<Address, SpawnError> {
        self.hold(workspace_id).await.map(|(a, _)| a)
    }

    /// The workspace's server as `address` answers it, held for one call: while the lease
    /// lives the server is not stopped as idle nor restarted for its retention (`None`:
    /// another instance runs it).
    pub async fn hold(
        self: &Arc<Self>,
        workspace_id: &str,
    ) -> Result<(Address, Option<Lease>), SpawnError> {
        if !self.enabled() {
            return Err(SpawnError::Disabled);
        }
        if let Some(held) = self.local_address(workspace_id) {
            return Ok(held);
        }
        let gate = self.gate(workspace_id);
        let _one = gate.lock().await;
        if let Some(held) = self.local_address(workspace_id) {
            return Ok(held);
        }
        let deadline = Instant::now() + self.settings.start_timeout;
        let mut exits = 0;
        loop {
            let me = self.clone();
            let ws = workspace_id.to_string();
            let claim = self.db(move |c| me.claim(c, &ws)).await?;
            match claim {
                Claim::Elsewhere(Some(address)) => return Ok((address, None)),
                Claim::Mine(row) => match self.start(*row, deadline).await {
                    // A process that exited at once (e.g. another process took the free
                    // port it was given before it bound it) is started again while the
                    // call may still wait: the call does not fail for it.
                    Err(SpawnError::Failed(why)) if exits < 2 && Instant::now() < deadline => {
                        exits += 1;
                        tracing::info!(
                            "starting the Prefect server of workspace {workspace_id} again: {why}"
                        );
                        lock(&self.retry).remove(workspace_id);
                    }
                    Ok(address) => {
                        return Ok(self
                            .local_address(workspace_id)
                            .map_or((address, None), |(a, lease)| (a, lease)));
                    }
                    Err(e) => return Err(e),
                },
                Claim::Elsewhere(None) => {
                    if Instant::now() > deadline {
                        return Err(SpawnError::Timeout);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// The workspace's server when it runs (here, or on another instance of this
    /// machine), without starting it: a dashboard view does not start a server.
    pub async fn running_address(&self, workspace_id: &str) -> Option<Address> {
        if !self.enabled() {
            return None;
        }
        if let Some(l) = lock(&self.local).get(workspace_id) {
            return Some(l.address.clone());
        }
        let ws = workspace_id.to_string();
        let row = self
            .db(move |c| {
                model::find_managed(c, &ws).map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await
            .ok()??;
        let fresh =
            crate::db::now() - chrono::TimeDelta::from_std(ABANDONED_AFTER).unwrap_or_default();
        (row.state == model::RUNNING && row.heartbeat_at.is_some_and(|h| h > fresh))
            .then_some(row.port)
            .flatten()
            .and_then(|port| {
                Some(Address {
                    url: format!("http://127.0.0.1:{port}"),
                    auth: self.sealer.open(&row.auth_sealed)?,
                })
            })
    }

    fn local_address(&self, workspace_id: &str) -> Option<(Address, Option<Lease>)> {
        let mut local = lock(&self.local);
        let l = local.get_mut(workspace_id)?;
        l.last_used = Instant::now();
        Some((l.address.clone(), Some(Lease::take(&l.uses))))
    }

    /// The workspace's gate: one start or stop at a time per workspace in this instance.
    /// A call that arrives while its server is being stopped (idle, restart) waits here and
    /// then starts it again, instead of starting a second one beside the dying one.
    fn gate(&self, workspace_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.starting)
            .entry(workspace_id.to_string())
            .or_default()
            .clone()
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, SpawnError> + Send + 'static,
    ) -> Result<T, SpawnError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = pool
                .get()
                .map_err(|e| SpawnError::Database(e.to_string()))?;
            f(&mut c)
        })
        .await
        .map_err(|e| SpawnError::Database(e.to_string()))?
    }

    /// Takes the workspace's server for this instance when nobody runs it, or answers
    /// where another instance runs it (`None`: it is starting there).
    fn claim(&self, c: &mut DbConn, workspace_id: &str) -> Result<Claim, SpawnError> {
        let dbe = |e: diesel::result::Error| SpawnError::Database(e.to_string());
        let auth = format!("atrium:{}", crate::authn::random_token(24));
        let database = self.database_of(workspace_id);
        model::ensure_managed(c, workspace_id, &self.sealer.seal(&auth), &database).map_err(dbe)?;
        let abandoned =
            crate::db::now() - chrono::TimeDelta::from_std(ABANDONED_AFTER).unwrap_or_default();
        if model::claim_managed(c, workspace_id, &self.instance_id, abandoned).map_err(dbe)? {
            let row = model::find_managed(c, workspace_id)
                .map_err(dbe)?
                .ok_or_else(|| SpawnError::Database("the managed server row is gone".into()))?;
            return Ok(Claim::Mine(Box::new(row)));
        }
        let row = model::find_managed(c, workspace_id).map_err(dbe)?;
        Ok(Claim::Elsewhere(row.and_then(|r| {
            (r.state == model::RUNNING)
                .then_some(r.port)
                .flatten()
                .and_then(|port| {
                    Some(Address {
                        url: format!("http://127.0.0.1:{port}"),
                        auth: self.sealer.open(&r.auth_sealed)?,
                    })
                })
        })))
    }

    /// Where the workspace's managed server keeps its data: a SQLite file under the data
    /// directory, or (Atrium on PostgreSQL) a database of its own.
    fn database_of(&self, workspace_id: &str) -> String {
        match self.settings.backend {
            Backend::Sqlite => self
                .home_of(workspace_id)
                .join("prefect.db")
                .display()
                .to_string(),
            Backend::Postgres => {
                let base = database_name(&self.settings.database_url)
                    .unwrap_or("atrium")
                    .to_ascii_lowercase();
                let hex: String = workspace_id
                    .chars()
                    .filter(char::is_ascii_hexdigit)
                    .collect();
                format!(
                    "{}_ws_{}",
                    base.get(..base.len().min(30)).unwrap_or("atrium"),
                    hex.to_ascii_lowercase().get(..24).unwrap_or(&hex)
                )
            }
        }
    }

    /// The workspace was deleted: its managed server stops and its data goes (the folder
    /// under the data directory; on PostgreSQL its database).
    pub async fn discard(&self, workspace_id: &str) {
        let gate = self.gate(workspace_id);
        let _one = gate.lock().await;
        let taken = lock(&self.local).remove(workspace_id);
        lock(&self.retry).remove(workspace_id);
        if let Some(mut l) = taken {
            tokio::task::spawn_blocking(move || stop_child(&mut l.child))
                .await
                .ok();
        }
        let home = self.home_of(workspace_id);
        if home.starts_with(&self.settings.data_dir) {
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(home)).await;
        }
        if self.settings.backend == Backend::Postgres {
            let name = self.database_of(workspace_id);
            let dropped = self
                .db(move |c| {
                    crate::db::drop_database(c, &name)
                        .map_err(|e| SpawnError::Database(e.to_string()))
                })
                .await;
            if let Err(e) = dropped {
                tracing::warn!("dropping the database of workspace {workspace_id}: {e}");
            }
        }
    }

    fn home_of(&self, workspace_id: &str) -> PathBuf {
        self.settings.data_dir.join("prefect").join(workspace_id)
    }

    /// Starts the claimed server and waits for it.
    async fn start(&self, row: Managed, deadline: Instant) -> Result<Address, SpawnError> {
        self.make_room().await;
        let ws = row.workspace_id.clone();
        let auth = self
            .sealer
            .open(&row.auth_sealed)
            .ok_or_else(|| SpawnError::Failed("its auth string cannot be opened".into()))?;
        if self.settings.backend == Backend::Postgres {
            let name = row.database.clone();
            self.db(move |c| {
                crate::db::create_database_if_missing(c, &name)
                    .map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await?;
        }
        let w = ws.clone();
        let retention_days = self
            .db(move |c| {
                model::retention_of(c, &[w]).map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await?
            .first()
            .map_or(super::retention::DEFAULT_DAYS, |(_, d)| *d);
        let home = self.home_of(&ws);
        let spawned = self.spawn_process(&home, &row, &auth, retention_days);
        let (child, port) = match spawned {
            Ok(x) => x,
            Err(e) => return Err(self.failed(&ws, e).await),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut child = child;
        let basic = super::probe::basic(&auth);
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| SpawnError::Failed(e.to_string()))?;
        let mut beat = Instant::now();
        loop {
            // The claim stays ours while the server starts (a slow start is not abandoned).
            if beat.elapsed() >= HEARTBEAT {
                beat = Instant::now();
                let (me, w) = (self.instance_id.clone(), ws.clone());
                let _ = self
                    .db(move |c| {
                        model::heartbeat(c, &me, &[(w, crate::db::now())])
                            .map_err(|e| SpawnError::Database(e.to_string()))
                    })
                    .await;
            }
            if let Ok(Some(_)) = child.try_wait() {
                let log = tail(&home.join("server.log"));
                return Err(self.failed(&ws, format!("it exited:\n{log}")).await);
            }
            let ok = http
                .get(format!("{url}/api/health"))
                .header("authorization", &basic)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                stop_child(&mut child);
                let log = tail(&home.join("server.log"));
                let _ = self.failed(&ws, format!("no answer in time:\n{log}")).await;
                return Err(SpawnError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let version = match http
            .get(format!("{url}/api/admin/version"))
            .header("authorization", &basic)
            .send()
            .await
        {
            Ok(r) => r.json::<String>().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let pid = child.id() as i32;
        let (me, w) = (self.instance_id.clone(), ws.clone());
        self.db(move |c| {
            let started = model::Started {
                port: i32::from(port),
                pid,
                version: &version,
                retention_days,
            };
            model::mark_running(c, &w, &me, started)
                .map_err(|e| SpawnError::Database(e.to_string()))
        })
        .await?;
        let address = Address { url, auth };
        lock(&self.retry).remove(&ws);
        lock(&self.local).insert(
            ws,
            Local {
                address: address.clone(),
                child,
                started: Instant::now(),
                last_used: Instant::now(),
                uses: Arc::default(),
                retention_days,
            },
        );
        Ok(address)
    }

    /// Records a failed start (its last log lines) and answers the error.
    async fn failed(&self, ws: &str, why: String) -> SpawnError {
        tracing::warn!("managed Prefect server of workspace {ws}: {why}");
        let failures = {
            let mut retry = lock(&self.retry);
            let r = retry.entry(ws.to_string()).or_insert(Retry {
                at: Instant::now(),
                failures: 0,
            });
            r.failures += 1;
            r.at = Instant::now() + backoff(r.failures);
            r.failures
        };
        let (w, log) = (ws.to_string(), why.clone());
        let _ = self
            .db(move |c| {
                model::mark_failed(c, &w, &log, failures as i32)
                    .map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await;
        SpawnError::Failed(why)
    }

    /// Starts the process: a shell that runs `prefect server start` and ends it (its whole
    /// process group) when Atrium's process is gone.
    fn spawn_process(
        &self,
        home: &Path,
        row: &Managed,
        auth: &str,
        retention_days: i32,
    ) -> Result<(Child, u16), String> {
        let bin = self
            .settings
            .prefect_bin
            .clone()
            .ok_or("managed servers are off")?;
        std::fs::create_dir_all(home).map_err(|e| format!("{}: {e}", home.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?;
        let db_url = match self.settings.backend {
            Backend::Sqlite => format!("sqlite+aiosqlite:///{}", row.database),
            Backend::Postgres => postgres_url(&self.settings.database_url, &row.database)
                .ok_or("Atrium's database URL has no host")?,
        };
        let me = std::process::id();
        let script = format!(
            "trap 'kill 0' EXIT; \"$PREFECT\" server start --host 127.0.0.1 --port {port} --no-ui --analytics-off >> \"$PREFECT_HOME/server.log\" 2>&1 & \
             child=$!; while kill -0 {me} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done"
        );
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("LANG", "C.UTF-8")
            .env("PREFECT", &bin)
            .env("PREFECT_HOME", home)
            .env("PREFECT_SERVER_API_AUTH_STRING", auth)
            .env("PREFECT_API_DATABASE_CONNECTION_URL", db_url)
            .env("PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED", "true")
            .env("PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED", "true")
            .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            .env("PREFECT_UI_ENABLED", "false")
            .env("DO_NOT_TRACK", "1")
            .envs(super::retention::environment(
                retention_days,
                self.settings.vacuum_every,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?;
        Ok((child, port))
    }

    /// Stops the least recently used servers until one more may start.
    async fn make_room(&self) {
        let max = self.settings.max_running.max(1);
        loop {
            let victim = {
                let local = lock(&self.local);
                if local.len() < max {
                    return;
                }
                local
                    .iter()
                    .max_by_key(|(_, l)| l.unused_for())
                    .map(|(w, _)| w.clone())
            };
            match victim {
                Some(w) => self.stop(&w, "the most running servers were reached").await,
                None => return,
            }
        }
    }

    /// Stops a server this instance runs: under the workspace's gate (a call that arrives
    /// meanwhile waits, then starts it again), after the calls in flight to it have
    /// finished (at most `DRAIN`).
    pub async fn stop(&self, workspace_id: &str, why: &str) {
        let gate = self.gate(workspace_id);
        let _one = gate.lock().await;
        let taken = lock(&self.local).remove(workspace_id);
        if let Some(mut l) = taken {
            tracing::info!(
                "stopping the managed Prefect server of workspace {workspace_id}: {why}"
            );
            // New calls wait at the gate; the ones in flight finish first (bounded).
            let drained = Instant::now() + DRAIN;
            while l.uses.busy.load(Ordering::Acquire) > 0 && Instant::now() < drained {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::task::spawn_blocking(move || stop_child(&mut l.child))
                .await
                .ok();
        }
        let w = workspace_id.to_string();
        let me = self.instance_id.clone();
        let _ = self
            .db(move |c| {
                model::mark_stopped(c, &w, &me).map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await;
    }

    /// Stops every server this instance runs (Atrium is stopping), all at once: stopping
    /// them one after the other took about two seconds each, past a container's grace
    /// period with a few running.
    pub async fn stop_all(&self) {
        let all: Vec<String> = lock(&self.local).keys().cloned().collect();
        futures_util::future::join_all(all.iter().map(|w| self.stop(w, "Atrium is stopping")))
            .await;
    }

    /// What this instance runs: (workspace id, since when, last use).
    pub fn running(&self) -> Vec<(String, Instant, Instant)> {
        lock(&self.local)
            .iter()
            .map(|(w, l)| (w.clone(), l.started, l.last_used))
            .collect()
    }

    /// Restarts the workspace's server (Workspace settings → Restart).
    pub async fn restart(self: &Arc<Self>, workspace_id: &str) -> Result<Address, SpawnError> {
        self.stop(workspace_id, "restart asked").await;
        self.address(workspace_id).await
    }

    /// The supervisor: deaths, idle servers, heartbeats. Runs until the spawner is gone.
    pub fn spawn_supervisor(self: &Arc<Self>) {
        if !self.enabled() {
            return;
        }
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_beat = Instant::now() - HEARTBEAT;
            loop {
                tick.tick().await;
                let Some(s) = me.upgrade() else { return };
                s.supervise(&mut last_beat).await;
            }
        });
    }

    async fn supervise(self: &Arc<Self>, last_beat: &mut Instant) {
        // Deaths: start again after the back-off.
        let dead: Vec<String> = {
            let mut local = lock(&self.local);
            let gone: Vec<String> = local
                .iter_mut()
                .filter_map(|(w, l)| matches!(l.child.try_wait(), Ok(Some(_))).then(|| w.clone()))
                .collect();
            for w in &gone {
                local.remove(w);
            }
            gone
        };
        for w in dead {
            let log = tail(&self.home_of(&w).join("server.log"));
            let _ = self.failed(&w, format!("it died:\n{log}")).await;
        }
        let due: Vec<String> = lock(&self.retry)
            .iter()
            .filter(|(_, r)| r.at <= Instant::now())
            .map(|(w, _)| w.clone())
            .collect();
        for w in due {
            lock(&self.retry).remove(&w);
            let s = self.clone();
            tokio::spawn(async move {
                let _ = s.address(&w).await;
            });
        }
        // Idle servers.
        let idle: Vec<String> = lock(&self.local)
            .iter()
            .filter(|(_, l)| l.unused_for() > self.settings.idle)
            .map(|(w, _)| w.clone())
            .collect();
        for w in idle {
            self.stop(&w, "idle").await;
        }
        // Heartbeat and last use; servers whose flow run retention changed.
        if last_beat.elapsed() >= HEARTBEAT {
            *last_beat = Instant::now();
            self.apply_retention().await;
            let now = crate::db::now();
            let uses: Vec<(String, chrono::NaiveDateTime)> = lock(&self.local)
                .iter()
                .map(|(w, l)| {
                    let ago =
                        chrono::TimeDelta::from_std(l.last_used.elapsed()).unwrap_or_default();
                    (w.clone(), now - ago)
                })
                .collect();
            let me = self.instance_id.clone();
            let _ = self
                .db(move |c| {
                    model::heartbeat(c, &me, &uses).map_err(|e| SpawnError::Database(e.to_string()))
                })
                .await;
        }
    }
}

impl Spawner {
    /// Restarts, at a quiet moment, the servers this instance runs whose account keeps
    /// flow runs for another period than they were started with (the setting changed, or
    /// a transfer moved the workspace): quiet = no call for `quiet` and no flow run
    /// pending, running or cancelling on it. The others wait for the next tick.
    async fn apply_retention(self: &Arc<Self>) {
        let ours: Vec<(String, i32, Duration, Address)> = lock(&self.local)
            .iter()
            .map(|(w, l)| {
                (
                    w.clone(),
                    l.retention_days,
                    l.unused_for(),
                    l.address.clone(),
                )
            })
            .collect();
        if ours.is_empty() {
            return;
        }
        let ids: Vec<String> = ours.iter().map(|(w, ..)| w.clone()).collect();
        let Ok(now) = self
            .db(move |c| {
                model::retention_of(c, &ids).map_err(|e| SpawnError::Database(e.to_string()))
            })
            .await
        else {
            return;
        };
        for (w, days, unused_for, address) in ours {
            let Some((_, wanted)) = now.iter().find(|(id, _)| *id == w) else {
                continue;
            };
            if *wanted == days || unused_for < self.settings.quiet {
                continue;
            }
            if !matches!(active_runs(&address).await, Some(0)) {
                continue;
            }
            tracing::info!(
                "workspace {w}: flow runs are now kept {wanted} days (were {days}); restarting its Prefect server"
            );
            let s = self.clone();
            tokio::spawn(async move {
                if let Err(e) = s.restart(&w).await {
                    tracing::warn!("restarting the Prefect server of workspace {w}: {e}");
                }
            });
        }
    }
}

/// How many flow runs are pending, running or cancelling on the server (`None`: it did
/// not say).
async fn active_runs(address: &Address) -> Option<i64> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    http.post(format!("{}/api/flow_runs/count", address.url))
        .header("authorization", super::probe::basic(&address.auth))
        .json(&serde_json::json!({
            "flow_runs": { "state": { "type": { "any_": super::retention::ACTIVE_STATES } } }
        }))
        .send()
        .await
        .ok()?
        .json::<i64>()
        .await
        .ok()
}

enum Claim {
    Mine(Box<Managed>),
    Elsewhere(Option<Address>),
}

fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF)
}

/// Ends a server: TERM to its process group (the shell, the CLI and uvicorn), then KILL
/// to whatever of the group is left after ten seconds. Returns once the group is gone.
fn stop_child(child: &mut Child) {
    let group = format!("-{}", child.id());
    let signal = |sig: &str| {
        Command::new("kill")
            .args([sig, "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = child.try_wait();
        // `kill -0` to the group fails once no process of it is left.
        if !signal("-0") {
            break;
        }
        if Instant::now() > deadline {
            signal("-KILL");
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_LINES)..].join("\n")
}

/// The database name of a PostgreSQL URL.
fn database_name(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let name = path.split('?').next()?;
    (!name.is_empty()).then_some(name)
}

/// Atrium's PostgreSQL URL with another database, for SQLAlchemy's asyncpg driver.
fn postgres_url(url: &str, database: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    if authority.is_empty() {
        return None;
    }
    Some(format!("postgresql+asyncpg://{authority}/{database}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_backoff() {
        assert_eq!(
            database_name("postgres://postgres@127.0.0.1:5432/test"),
            Some("test")
        );
        assert_eq!(
            postgres_url("postgres://postgres@127.0.0.1:5432/test?x=1", "test_ws_1").as_deref(),
            Some("postgresql+asyncpg://postgres@127.0.0.1:5432/test_ws_1")
        );
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
