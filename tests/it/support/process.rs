//! The real `atrium` binary as a child process: started on a free port with the given
//! environment, its standard error read line by line (fail point markers), killed with
//! SIGKILL on request or when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `atrium serve` with `env` (no other `ATRIUM_*` variable of the test's own
    /// environment), and waits until `/healthz` answers.
    pub async fn start(env: &[(&str, String)]) -> Server {
        Server::start_on(free_port(), env).await
    }

    /// Like [`Server::start`], on `port` (a restart keeps its address, so links and
    /// clients stay valid).
    pub async fn start_on(port: u16, env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_atrium"));
        for (k, _) in std::env::vars() {
            if k.starts_with("ATRIUM_") || k == "FAILPOINTS" {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .env("RUST_LOG", "warn")
            .env("ATRIUM_BIND", format!("127.0.0.1:{port}"))
            .env("ATRIUM_WORKERS", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn atrium");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            let lines = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    lines.lock().expect("stderr lines").push(line);
                }
            });
        }
        let server = Server {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            stderr,
        };
        let health = format!("{}/healthz", server.base);
        for _ in 0..400 {
            if let Ok(r) = reqwest::get(&health).await
                && r.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "atrium did not start on port {port}:\n{}",
            server.stderr_text()
        );
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("stderr lines").join("\n")
    }

    /// Waits until the process printed a line containing `needle`.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if self
                .stderr
                .lock()
                .expect("stderr lines")
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "atrium never printed {needle:?}; it printed:\n{}",
            self.stderr_text()
        );
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
