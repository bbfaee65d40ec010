//! A real OpenID provider for the SSO tests: `tests/oidc/provider.mjs` (the npm package
//! `oidc-provider`, pinned in `tests/oidc/package.json`) on a loopback port, one per test,
//! from the folder `ATRIUM_OIDC_PROVIDER` names (`scripts/oidc-provider` prints it). When
//! the variable is not set the tests install it with that script; when that fails they are
//! skipped (under `CI` they fail), as the Prefect tests do without `ATRIUM_PREFECT_BIN`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub const CLIENT_ID: &str = "atrium";
pub const CLIENT_SECRET: &str = "atrium-secret";

fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The folder holding `provider.mjs` and its `node_modules`, or `None` (test skipped).
pub fn provider_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(p) = std::env::var_os("ATRIUM_OIDC_PROVIDER").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            assert!(
                p.join("provider.mjs").is_file(),
                "ATRIUM_OIDC_PROVIDER={} holds no provider.mjs",
                p.display()
            );
            return Some(p);
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/oidc-provider");
        let out = Command::new(&script).stderr(Stdio::inherit()).output();
        match out {
            Ok(o) if o.status.success() => {
                let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
                Some(p).filter(|p| p.join("provider.mjs").is_file())
            }
            _ => None,
        }
        .or_else(|| {
            if under_ci() {
                panic!("the OpenID provider could not be installed (scripts/oidc-provider)");
            }
            eprintln!(
                "skipped: no OpenID provider (export ATRIUM_OIDC_PROVIDER=\"$(scripts/oidc-provider)\")"
            );
            None
        })
    })
    .clone()
}

/// One running provider; ended when dropped (and when the test binary is gone: it stops
/// when its standard input closes).
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a provider whose test client has `redirect_uri`; `None` when there is none to
/// start (the test is skipped).
pub fn start(redirect_uri: &str) -> Option<Provider> {
    let dir = provider_dir()?;
    // One provider starts at a time: Node's start-up is CPU-bound, and a dozen at once on a
    // machine busy with the suite (Chromium, Prefect servers) once took over 30 s each.
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = STARTING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A start that has not said it is ready within a minute is killed and tried again (up
    // to three times): one start in a few hundred hung after loading the package, on a
    // machine busy with the suite, and waiting longer did not help.
    for attempt in 1..=3 {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("OIDC_PORT", "0")
            .env("OIDC_REDIRECT_URIS", redirect_uri)
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts the OpenID provider");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("OIDC_PROVIDER_READY ") {
                    let _ = tx.send(issuer.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(issuer) => return Some(Provider { child, issuer }),
            Err(e) => {
                eprintln!("the OpenID provider did not start (attempt {attempt} of 3): {e}");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    panic!("the OpenID provider did not start in three attempts of 60 s");
}

impl Provider {
    async fn control(&self, path: &str, body: serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("provider control");
        assert!(r.status().is_success(), "provider control {path}");
    }

    /// The next ID token is re-signed with the provider's key with these changes
    /// (`iss`, `aud`, `expired: true`).
    pub async fn tamper(&self, body: serde_json::Value) {
        self.control("/test/tamper", body).await;
    }

    /// The person is refused at the provider from now on.
    pub async fn remove(&self, email: &str) {
        self.control("/test/remove", serde_json::json!({ "email": email }))
            .await;
    }

    /// Signs `email` in at the provider, starting from the authorization URL Atrium sent
    /// the browser to; answers the URL the provider sends the browser back to (Atrium's
    /// callback with `code` and `state`, or with `error`).
    pub async fn sign_in(&self, authorize_url: &str, email: &str) -> String {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let loc = |r: &reqwest::Response| {
            r.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| panic!("no redirect from the provider: {}", r.status()))
        };
        let abs = |l: String| {
            if l.starts_with("http") {
                l
            } else {
                format!("{}{l}", self.issuer)
            }
        };
        let r = browser.get(authorize_url).send().await.expect("authorize");
        let interaction = abs(loc(&r));
        let page = browser.get(&interaction).send().await.expect("interaction");
        assert!(page.status().is_success(), "the provider's sign-in page");
        let r = browser
            .post(format!("{interaction}/login"))
            .form(&[("login", email)])
            .send()
            .await
            .expect("login");
        let mut next = abs(loc(&r));
        // The provider's own hops (resume the authorization) until it sends the browser
        // back to the relying party.
        for _ in 0..5 {
            if !next.starts_with(&self.issuer) {
                return next;
            }
            let r = browser.get(&next).send().await.expect("resume");
            next = abs(loc(&r));
        }
        panic!("the provider never sent the browser back: {next}");
    }
}
