//! The real `atrium` binary: settings checked at start, migrations, and a restart that
//! keeps users and their ability to log in.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Client, TestDb, backend};

/// The real binary with no `ATRIUM_*` setting inherited from the test's environment.
pub(crate) fn atrium() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atrium"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ATRIUM_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn bad_settings_stop_the_process_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &str); 4] = [
        (
            "ATRIUM_DATABASE_URL",
            "mysql://localhost/atrium",
            "must start with sqlite:// or postgres://",
        ),
        ("ATRIUM_BIND", "not-an-address", "ATRIUM_BIND"),
        ("ATRIUM_SIGNUP", "sometimes", "ATRIUM_SIGNUP"),
        (
            "ATRIUM_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/nothing",
            "could not connect to the database",
        ),
    ];
    for (key, value, expected) in cases {
        let out = atrium()
            .env("ATRIUM_DATA_DIR", dir.path())
            .env("ATRIUM_BIND", format!("127.0.0.1:{}", free_port()))
            .env(key, value)
            .output()
            .expect("run atrium");
        assert!(!out.status.success(), "{key}={value} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line for {key}={value}: {stderr}");
        assert!(lines[0].contains(expected), "{key}={value}: {stderr}");
    }
}

/// A running `atrium` process, killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(dir: &std::path::Path, db_url: &str, port: u16) -> Running {
    let child = atrium()
        .arg("serve")
        .env("ATRIUM_DATA_DIR", dir)
        .env("ATRIUM_DATABASE_URL", db_url)
        .env("ATRIUM_BIND", format!("127.0.0.1:{port}"))
        .env("ATRIUM_WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn atrium");
    let running = Running(child);
    let health = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(&health).await
            && r.status().is_success()
        {
            return running;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("atrium did not start on port {port}");
}

#[tokio::test]
async fn migrate_then_serve_and_after_a_restart_the_user_still_logs_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::create(dir.path());
    let out = atrium()
        .arg("migrate")
        .env("ATRIUM_DATA_DIR", dir.path())
        .env("ATRIUM_DATABASE_URL", &db.url)
        .output()
        .expect("migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    {
        let _server = start(dir.path(), &db.url, port).await;
        let c = Client::new(&base);
        let root = c.get("/").await;
        assert_eq!(root.location().as_deref(), Some("/auth/login"));
        let r = c
            .post_form(
                "/auth/signup",
                &[
                    ("email", "ana@example.com"),
                    ("handle", "ana"),
                    ("first_name", "Ana"),
                    ("last_name", ""),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(r.location().as_deref(), Some("/onboarding"));
    }
    if backend() == atrium::settings::Backend::Sqlite {
        assert!(dir.path().join("atrium.db").exists());
    }
    assert!(
        dir.path().join("secret.key").exists(),
        "the generated key is kept for the next start"
    );

    let _server = start(dir.path(), &db.url, port).await;
    let c = Client::new(&base);
    let r = c
        .post_form(
            "/auth/login",
            &[("login", "ana"), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/onboarding").await.status, StatusCode::OK);
}
