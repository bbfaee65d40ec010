//! Real Prefect for the gateway's tests: `prefect server start` processes on loopback (the
//! `prefect` package pinned in `scripts/prefect-venv`, from `ATRIUM_PREFECT_BIN`), each with
//! its own SQLite database and a random `PREFECT_SERVER_API_AUTH_STRING`, started once per
//! test binary and shared by the tests that need no fresh one ([`server`]); and the CLI,
//! Python and worker processes that use them through Atrium ([`User`]).
//!
//! A server takes about ten seconds to start and some 230 MiB: the pool holds
//! [`POOL_SIZE`]. Each is started by a shell that ends it (its whole process group) when
//! the test binary is gone, so none outlives the run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::process::free_port;

pub const POOL_SIZE: usize = 2;
/// A CLI or Python run that has not finished by then fails the test.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The `prefect` executable, or `None` (test skipped) when it is not configured; under
/// `CI` a missing one fails.
pub fn prefect_bin() -> Option<PathBuf> {
    match std::env::var_os("ATRIUM_PREFECT_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "ATRIUM_PREFECT_BIN={} is not a file",
                p.display()
            );
            Some(p)
        }
        _ => {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("ATRIUM_PREFECT_BIN is not set (required under CI): run scripts/test");
            }
            eprintln!(
                "skipped: ATRIUM_PREFECT_BIN is not set (export ATRIUM_PREFECT_BIN=\"$(scripts/prefect-venv)\")"
            );
            None
        }
    }
}

/// One running Prefect server.
pub struct PrefectServer {
    pub url: String,
    pub auth: String,
    pub port: u16,
    pub home: PathBuf,
}

impl PrefectServer {
    /// `GET <path>` straight to the server, with or without its auth string: the status.
    pub fn status_of(&self, method: &str, path: &str, with_auth: bool) -> u16 {
        raw_status(
            self.port,
            method,
            path,
            with_auth.then_some(self.auth.as_str()),
        )
    }
}

/// A bare HTTP/1.0 request to 127.0.0.1:`port` (no client library: usable from any thread).
pub fn raw_status(port: u16, method: &str, path: &str, auth: Option<&str>) -> u16 {
    use base64::Engine;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let auth = auth
        .map(|a| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(a)
            )
        })
        .unwrap_or_default();
    let body = if method == "POST" { "{}" } else { "" };
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    if s.read_exact(&mut head).is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn start(bin: &Path, n: usize) -> PrefectServer {
    let home = std::env::temp_dir().join(format!(
        "atrium-prefect-{}-{n}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&home).expect("prefect home");
    let port = free_port();
    let auth = format!("atrium:{}", uuid::Uuid::new_v4().simple());
    let me = std::process::id();
    // The shell starts the server, then waits for the test binary to go and ends its
    // process group (the server and its children) with it.
    let script = format!(
        "trap 'kill 0' EXIT; \"$PREFECT\" server start --host 127.0.0.1 --port {port} --no-ui --analytics-off > \"$PREFECT_HOME/server.log\" 2>&1 & \
         while kill -0 {me} 2>/dev/null; do sleep 1; done"
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .env("PREFECT", bin)
        .env("PREFECT_HOME", &home)
        .env("PREFECT_SERVER_API_AUTH_STRING", &auth)
        .env(
            "PREFECT_API_DATABASE_CONNECTION_URL",
            format!("sqlite+aiosqlite:///{}", home.join("prefect.db").display()),
        )
        .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        .env("PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED", "true")
        .env("PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED", "true")
        .env("DO_NOT_TRACK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child: Child = cmd.spawn().expect("start prefect server");
    std::mem::forget(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while raw_status(port, "GET", "/api/health", Some(&auth)) != 200 {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(home.join("server.log")).unwrap_or_default();
            panic!("prefect server on port {port} did not start:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    PrefectServer {
        url: format!("http://127.0.0.1:{port}"),
        auth,
        port,
        home,
    }
}

static POOL: [OnceLock<PrefectServer>; POOL_SIZE] = [OnceLock::new(), OnceLock::new()];

/// Server `i` of the pool, started on first use (off the async threads).
pub async fn server(i: usize) -> Option<&'static PrefectServer> {
    let bin = prefect_bin()?;
    let s = tokio::task::spawn_blocking(move || POOL[i].get_or_init(|| start(&bin, i)))
        .await
        .expect("prefect server start");
    Some(s)
}

/// A fresh server of its own (for a test that must stop it).
pub async fn fresh_server() -> Option<PrefectServer> {
    let bin = prefect_bin()?;
    Some(
        tokio::task::spawn_blocking(move || start(&bin, 99))
            .await
            .expect("prefect server start"),
    )
}

/// What one run printed and how it ended.
pub struct Run {
    pub args: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn describe(&self) -> String {
        format!(
            "`{}` exited with {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        self
    }

    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a failure: {}",
            self.describe()
        );
        self
    }
}

/// Someone using Prefect through Atrium: their own `PREFECT_HOME`, configured as the
/// workspace's dashboard says (`PREFECT_CLOUD_API_URL`, then `prefect cloud login`).
pub struct User {
    pub bin: PathBuf,
    pub home: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl User {
    pub fn new(bin: &Path) -> User {
        User {
            bin: bin.to_path_buf(),
            home: tempfile::tempdir().expect("PREFECT_HOME"),
            env: Vec::new(),
        }
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("LANG", "C.UTF-8")
            .env("PREFECT_HOME", self.home.path())
            .env("PREFECT_CLI_PROMPT", "false")
            .env("PREFECT_CLI_WRAP_LINES", "false")
            .env("DO_NOT_TRACK", "1")
            .env("COLUMNS", "250")
            .current_dir(self.home.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    async fn run_cmd(&self, mut cmd: Command, what: String) -> Run {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let w = what.clone();
        let output = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("start");
            let deadline = Instant::now() + RUN_TIMEOUT;
            let mut out = child.stdout.take().expect("stdout");
            let mut err = child.stderr.take().expect("stderr");
            let o = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = out.read_to_string(&mut s);
                s
            });
            let e = std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                s
            });
            let status = loop {
                if let Some(s) = child.try_wait().expect("wait") {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`{w}` did not finish in {RUN_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            (
                status,
                o.join().unwrap_or_default(),
                e.join().unwrap_or_default(),
            )
        })
        .await
        .expect("run");
        Run {
            args: what,
            code: output.0.code(),
            stdout: output.1,
            stderr: output.2,
        }
    }

    /// `prefect <args>`.
    pub async fn prefect(&self, args: &[&str]) -> Run {
        let cmd = self.command(&self.bin, args);
        self.run_cmd(cmd, format!("prefect {}", args.join(" ")))
            .await
    }

    /// `python -c <code>` with the package's interpreter.
    pub async fn python(&self, code: &str) -> Run {
        let python = self.bin.with_file_name("python");
        let cmd = self.command(&python, &["-c", code]);
        self.run_cmd(cmd, "python -c …".into()).await
    }

    /// Follows the dashboard's instructions: `prefect config set PREFECT_CLOUD_API_URL=…`
    /// then `prefect cloud login -k <key> --workspace <handle>`.
    pub async fn login(&self, atrium: &str, key: &str, workspace: &str) {
        self.prefect(&[
            "config",
            "set",
            &format!("PREFECT_CLOUD_API_URL={atrium}/api"),
        ])
        .await
        .ok();
        self.prefect(&["cloud", "login", "-k", key, "--workspace", workspace])
            .await
            .ok();
    }

    /// Runs each `prefect …` command of `lines` (as a dashboard shows them), which must
    /// succeed.
    pub async fn follow(&self, lines: &[String]) {
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                words.first(),
                Some(&"prefect"),
                "not a prefect command: {line}"
            );
            self.prefect(&words[1..]).await.ok();
        }
    }

    /// A long-running `prefect <args>` (a worker): killed with its children when dropped.
    pub fn spawn(&self, args: &[&str]) -> Background {
        let mut cmd = self.command(&self.bin, args);
        let log = self
            .home
            .path()
            .join(format!("bg-{}.log", uuid::Uuid::new_v4().simple()));
        let f = std::fs::File::create(&log).expect("log");
        cmd.stdin(Stdio::null())
            .stdout(f.try_clone().expect("log"))
            .stderr(f);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        Background {
            child: cmd.spawn().expect("spawn"),
            log,
        }
    }
}

/// A background process (its process group is killed when dropped).
pub struct Background {
    child: Child,
    pub log: PathBuf,
}

impl Background {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        // Whatever `kill` did, the direct child goes, so the wait cannot hang.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
