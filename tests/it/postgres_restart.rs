//! PostgreSQL restarted under load (issue #9, faults): Atrium runs on a PostgreSQL
//! cluster of the test's own (initdb in a temporary folder, its own port), four clients
//! keep loading a signed-in page, and the cluster is stopped and started again. While it
//! is down every request answers quickly with 503 and `Retry-After` (never a 500, never a
//! dropped or hanging connection); once it is back, requests succeed again without
//! restarting Atrium (the pool drops the dead connections and opens new ones).
//!
//! PostgreSQL only; the server programs come from Debian's `postgresql` package
//! (`/usr/lib/postgresql/*/bin`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{backend, spawn_app_with};

struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

impl Cluster {
    /// A new cluster, started; `None` when the server programs are not installed.
    fn create() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())?;
        let dir = tempfile::tempdir().expect("tempdir");
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if as_root {
            // initdb and postgres refuse to run as root: the cluster belongs to `postgres`.
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the cluster folder to postgres");
        }
        let c = Cluster {
            dir,
            bin,
            port: crate::support::process::free_port(),
            as_root,
        };
        let data = c.data();
        c.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        c.start();
        Some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server the way an administrator's restart does: open connections are
    /// terminated.
    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let data = self.data();
        let mut cmd = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const BACK: u8 = 2;
const RECOVERED: u8 = 3;
const CHANGING: u8 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load_fails_fast_then_recovers_without_restarting_atrium() {
    if backend() != atrium::settings::Backend::Postgres {
        eprintln!("postgres_restart: PostgreSQL only (ATRIUM_TEST_DATABASE=postgres)");
        return;
    }
    let Some(cluster) = Cluster::create() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the PostgreSQL server programs (/usr/lib/postgresql/*/bin) are required under CI"
        );
        eprintln!("postgres_restart: no PostgreSQL server programs here; skipped");
        return;
    };
    let url = cluster.url();
    let app = spawn_app_with(move |s| {
        s.database_url = url;
        // More connections than clients, and a timeout long enough for a loaded machine
        // (the whole suite runs beside this test): before the restart nothing waits for a
        // connection; while PostgreSQL is down each request fails after this timeout.
        s.db_pool_timeout = Duration::from_secs(2);
        s.db_pool_size = 8;
        s.mail_poll = Duration::from_secs(3600);
    })
    .await;
    let ana = app
        .signup("ana@example.com", "ana", "correct horse battery")
        .await;
    let acct = crate::members::create_org(&ana, "Acme", "acme").await;
    let page = format!("/account/{acct}/members");
    assert_eq!(ana.get(&page).await.status, StatusCode::OK);
    // Half the clients read a page with the session, half the API with a key (reads
    // outside any transaction: a dead connection must still be noticed and dropped).
    let bearer = format!("Bearer {}", crate::api_me::user_key(&app, "ana"));

    let phase = Arc::new(AtomicU8::new(UP));
    let stop = Arc::new(AtomicU8::new(0));
    let mut clients = Vec::new();
    for i in 0..4 {
        let (c, phase, stop) = (ana.clone(), phase.clone(), stop.clone());
        let (page, headers) = if i % 2 == 0 {
            (page.clone(), Vec::new())
        } else {
            ("/api/me/".to_string(), vec![bearer.clone()])
        };
        clients.push(tokio::spawn(async move {
            // (phase, status or None for a failed connection)
            let mut seen: Vec<(u8, Option<StatusCode>)> = Vec::new();
            while stop.load(Ordering::Relaxed) == 0 {
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|b| ("authorization", b.as_str()))
                    .collect();
                let before = phase.load(Ordering::Relaxed);
                let status = c.try_get(&page, &h).await;
                // A request still in flight when the phase changed belongs to neither.
                let p = if phase.load(Ordering::Relaxed) == before {
                    before
                } else {
                    CHANGING
                };
                seen.push((p, status));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    phase.store(DOWN, Ordering::Relaxed);
    tokio::task::block_in_place(|| cluster.stop());
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.start());
    phase.store(BACK, Ordering::Relaxed);
    // Back within a few seconds: the first success after the restart.
    let mut recovered = false;
    for _ in 0..200 {
        if ana.get(&page).await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        recovered,
        "Atrium did not recover after PostgreSQL came back"
    );
    phase.store(RECOVERED, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(1, Ordering::Relaxed);
    let mut seen = Vec::new();
    let mut last_of_each = Vec::new();
    for c in clients {
        let mine = c.await.expect("client task");
        last_of_each.extend(mine.iter().rev().take(3).cloned());
        seen.extend(mine);
    }
    let count = |p: u8, s: Option<StatusCode>| seen.iter().filter(|x| **x == (p, s)).count();
    let unexpected: Vec<_> = seen
        .iter()
        .filter(|(_, s)| {
            !matches!(
                *s,
                Some(StatusCode::OK) | Some(StatusCode::SERVICE_UNAVAILABLE)
            )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 200 and 503, never a 500 or a dropped connection: {unexpected:?}"
    );
    assert!(
        seen.iter()
            .filter(|(p, _)| *p == UP)
            .all(|(_, s)| *s == Some(StatusCode::OK)),
        "before the restart every request succeeds"
    );
    assert!(
        count(DOWN, Some(StatusCode::SERVICE_UNAVAILABLE)) > 0,
        "while PostgreSQL is down requests answer 503"
    );
    // Once one request succeeded again, every later one does — pages through the session,
    // API reads with a key: no dead connection is left in the pool to be handed out.
    let after: Vec<_> = seen.iter().filter(|(p, _)| *p == RECOVERED).collect();
    assert!(
        !after.is_empty() && after.iter().all(|(_, s)| *s == Some(StatusCode::OK)),
        "after the recovery every request succeeds: {after:?}"
    );
    assert!(
        last_of_each.iter().all(|(_, s)| *s == Some(StatusCode::OK)),
        "every client's last requests succeed: {last_of_each:?}"
    );
    eprintln!(
        "postgres_restart: up {} ok; down {} × 503, {} ok; back {} × 503, {} ok",
        count(UP, Some(StatusCode::OK)),
        count(DOWN, Some(StatusCode::SERVICE_UNAVAILABLE)),
        count(DOWN, Some(StatusCode::OK)),
        count(BACK, Some(StatusCode::SERVICE_UNAVAILABLE)),
        count(BACK, Some(StatusCode::OK)),
    );
    eprintln!(
        "postgres_restart: after the first success {} ok, {} × 503",
        count(RECOVERED, Some(StatusCode::OK)),
        count(RECOVERED, Some(StatusCode::SERVICE_UNAVAILABLE)),
    );
}
