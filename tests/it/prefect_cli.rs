//! The real `prefect` CLI (PyPI `prefect`, the version pinned in `scripts/prefect-venv`)
//! logs in to Atrium with API keys: `prefect cloud login -k … --workspace acct/ws`,
//! `prefect cloud workspace ls`, `prefect cloud workspace set`, `prefect cloud logout`.
//!
//! All four only ever call `GET /api/me/workspaces` with `Authorization: Bearer <key>`;
//! the CLI builds `PREFECT_API_URL` itself from `account_id` and `workspace_id`.
//!
//! The binary comes from `ATRIUM_PREFECT_BIN` (set by `scripts/test`). Without it the tests
//! are skipped, except under `CI`, where they fail. Each CLI run takes a few seconds
//! (Python start-up), so the runs of one test go in parallel where they are independent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use atrium::authz::workspace::BuiltinRole;
use atrium::workspaces::model::builtin_role_id;

use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{TestApp, spawn_app};
use crate::workspaces::{create_ws, grant};

/// A `prefect` run that has not finished by then is killed and fails the test.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The `prefect` executable, or `None` (test skipped) when it is not configured.
fn prefect_bin() -> Option<PathBuf> {
    match std::env::var_os("ATRIUM_PREFECT_BIN") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "ATRIUM_PREFECT_BIN={} is not a file; run scripts/prefect-venv",
                p.display()
            );
            Some(p)
        }
        _ => {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!(
                    "ATRIUM_PREFECT_BIN is not set (required under CI): \
                     export ATRIUM_PREFECT_BIN=\"$(scripts/prefect-venv)\" or run scripts/test"
                );
            }
            eprintln!(
                "prefect_cli: skipped, ATRIUM_PREFECT_BIN is not set \
                 (export ATRIUM_PREFECT_BIN=\"$(scripts/prefect-venv)\")"
            );
            None
        }
    }
}

/// What one `prefect` run printed and how it ended.
struct Run {
    args: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// stdout and stderr, with runs of whitespace made one space (robust to line wrapping).
    fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn describe(&self) -> String {
        format!(
            "`prefect {}` exited with {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    fn assert_ok(&self, expected: &str) {
        assert_eq!(self.code, Some(0), "{}", self.describe());
        assert!(
            self.text().contains(expected),
            "expected {expected:?} in the output of {}",
            self.describe()
        );
    }

    #[track_caller]
    fn assert_fails(&self, expected: &str) {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "expected a failure: {}",
            self.describe()
        );
        assert!(
            self.text().contains(expected),
            "expected {expected:?} in the output of {}",
            self.describe()
        );
        assert!(
            !self.text().contains("Traceback"),
            "a clean error, not a crash: {}",
            self.describe()
        );
    }
}

/// One CLI user: the `prefect` binary with its own fresh `PREFECT_HOME`, pointed at the app.
struct Prefect {
    bin: PathBuf,
    home: tempfile::TempDir,
    cloud_api_url: String,
    ui_url: String,
}

impl Prefect {
    fn new(bin: &Path, app: &TestApp) -> Prefect {
        Prefect {
            bin: bin.to_path_buf(),
            home: tempfile::tempdir().expect("PREFECT_HOME"),
            cloud_api_url: format!("{}/api", app.base),
            ui_url: app.base.clone(),
        }
    }

    /// Runs `prefect <args>` off the runtime (the server runs on it) and waits for it.
    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("LANG", "C.UTF-8")
            .env("PREFECT_HOME", self.home.path())
            .env("PREFECT_CLOUD_API_URL", &self.cloud_api_url)
            .env("PREFECT_CLOUD_UI_URL", &self.ui_url)
            // Non-interactive: no prompts; messages on one line instead of wrapped at 80.
            .env("PREFECT_CLI_PROMPT", "false")
            .env("PREFECT_CLI_WRAP_LINES", "false")
            .env("DO_NOT_TRACK", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let args = args.join(" ");
        let what = args.clone();
        let output = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("start prefect");
            let deadline = Instant::now() + RUN_TIMEOUT;
            loop {
                if child.try_wait().expect("wait for prefect").is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`prefect {what}` did not finish in {RUN_TIMEOUT:?}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            child.wait_with_output().expect("prefect output")
        })
        .await
        .expect("prefect run");
        Run {
            args,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn profiles(&self) -> Option<String> {
        std::fs::read_to_string(self.home.path().join("profiles.toml")).ok()
    }

    /// A setting of the active profile as saved in `$PREFECT_HOME/profiles.toml`.
    fn setting(&self, name: &str) -> Option<String> {
        let profiles = self.profiles()?;
        let active = profiles.lines().find_map(|l| {
            l.strip_prefix("active = ")
                .map(|v| v.trim().trim_matches('"').to_string())
        })?;
        let header = format!("[profiles.{active}]");
        profiles
            .lines()
            .skip_while(|l| l.trim() != header)
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == name).then(|| v.trim().trim_matches('"').to_string())
            })
    }

    async fn login(&self, key: &str, workspace: &str) -> Run {
        self.run(&["cloud", "login", "-k", key, "--workspace", workspace])
            .await
    }
}

/// Account `acme` owned by `ana`, with workspaces `acme/prod` and `acme/staging`.
struct Acme {
    account_id: String,
    prod: String,
    staging: String,
}

fn workspace_id(dashboard: &str) -> String {
    dashboard
        .split('/')
        .nth(4)
        .expect("workspace id in the dashboard path")
        .to_string()
}

async fn acme(app: &TestApp) -> Acme {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let account_id = create_org(&ana, "Acme", "acme").await;
    let prod = workspace_id(&create_ws(&ana, &account_id, "Production", "prod").await);
    let staging = workspace_id(&create_ws(&ana, &account_id, "Staging", "staging").await);
    Acme {
        account_id,
        prod,
        staging,
    }
}

fn workspace_url(app: &TestApp, account_id: &str, workspace_id: &str) -> String {
    format!(
        "{}/api/accounts/{account_id}/workspaces/{workspace_id}",
        app.base
    )
}

fn user_key(app: &TestApp, handle: &str, expires_at: Option<chrono::NaiveDateTime>) -> String {
    let uid = user_id(app, handle);
    let mut conn = app.conn();
    let (_, plain) =
        atrium::apikeys::model::create_user_key(&mut conn, &uid, "prefect cli", expires_at)
            .expect("create user key");
    plain
}

/// A service account of the account with its key, and `role` on each of `workspaces`.
fn bot_key(
    app: &TestApp,
    account_id: &str,
    name: &str,
    expires_at: Option<chrono::NaiveDateTime>,
    workspaces: &[&str],
) -> String {
    let mut conn = app.conn();
    let (sa, _, plain) =
        atrium::service_accounts::model::create(&mut conn, account_id, name, None, expires_at)
            .expect("create service account");
    for ws in workspaces {
        atrium::service_accounts::model::set_bot_access(
            &mut conn,
            ws,
            &sa.id,
            builtin_role_id(BuiltinRole::Developer),
        )
        .expect("bot access");
    }
    plain
}

fn an_hour_ago() -> chrono::NaiveDateTime {
    atrium::db::now() - chrono::TimeDelta::hours(1)
}

const UNABLE: &str = "Unable to authenticate with Prefect Cloud. \
                      Please ensure your credentials are correct and unexpired.";

#[tokio::test]
async fn a_user_key_logs_in_lists_and_sets_workspaces_and_logs_out() {
    let Some(bin) = prefect_bin() else { return };
    let app = spawn_app().await;
    let acme = acme(&app).await;
    let key = user_key(&app, "ana", None);
    assert!(key.starts_with("pnu_"), "a user key: {key}");
    let cli = Prefect::new(&bin, &app);

    cli.login(&key, "acme/prod")
        .await
        .assert_ok("Authenticated with Prefect Cloud! Using workspace 'acme/prod'.");
    assert_eq!(
        cli.setting("PREFECT_API_KEY").as_deref(),
        Some(key.as_str())
    );
    assert_eq!(
        cli.setting("PREFECT_API_URL"),
        Some(workspace_url(&app, &acme.account_id, &acme.prod)),
        "{:?}",
        cli.profiles()
    );

    let ls = cli.run(&["cloud", "workspace", "ls"]).await;
    ls.assert_ok("* acme/prod");
    assert!(ls.text().contains("acme/staging"), "{}", ls.describe());

    cli.run(&["cloud", "workspace", "set", "--workspace", "acme/staging"])
        .await
        .assert_ok("Successfully set workspace to 'acme/staging'");
    assert_eq!(
        cli.setting("PREFECT_API_URL"),
        Some(workspace_url(&app, &acme.account_id, &acme.staging))
    );
    assert_eq!(
        cli.setting("PREFECT_API_KEY").as_deref(),
        Some(key.as_str())
    );
    cli.run(&["cloud", "workspace", "ls"])
        .await
        .assert_ok("* acme/staging");

    cli.run(&["cloud", "logout"])
        .await
        .assert_ok("Logged out from Prefect Cloud.");
    assert_eq!(cli.setting("PREFECT_API_KEY"), None);
    assert_eq!(cli.setting("PREFECT_API_URL"), None);
    cli.run(&["cloud", "workspace", "ls"])
        .await
        .assert_fails("Currently not authenticated in profile");
}

#[tokio::test]
async fn the_cli_sees_only_the_workspaces_the_key_reaches() {
    let Some(bin) = prefect_bin() else { return };
    let app = spawn_app().await;
    let acme = acme(&app).await;
    // Bo is a Member of Acme with a role on prod only (the default role is No Access).
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acme.account_id, "bo", "member");
    grant(&app, &acme.prod, "bo", builtin_role_id(BuiltinRole::Viewer));
    let bo_key = user_key(&app, "bo", None);
    // A service account with a role on staging only.
    let bot = bot_key(&app, &acme.account_id, "deployer", None, &[&acme.staging]);
    assert!(bot.starts_with("pnb_"), "a service-account key: {bot}");

    let bo = Prefect::new(&bin, &app);
    let bot_cli = Prefect::new(&bin, &app);
    let bo_denied = Prefect::new(&bin, &app);
    let (bo_login, bot_login, bo_staging) = tokio::join!(
        bo.login(&bo_key, "acme/prod"),
        bot_cli.login(&bot, "acme/staging"),
        bo_denied.login(&bo_key, "acme/staging"),
    );
    bo_login.assert_ok("Using workspace 'acme/prod'.");
    bot_login.assert_ok("Authenticated with Prefect Cloud! Using workspace 'acme/staging'.");
    bo_staging
        .assert_fails("Workspace 'acme/staging' not found. Available workspaces: 'acme/prod'");
    assert_eq!(
        bo_denied.profiles(),
        None,
        "nothing saved on a failed login"
    );

    assert_eq!(
        bot_cli.setting("PREFECT_API_URL"),
        Some(workspace_url(&app, &acme.account_id, &acme.staging))
    );
    assert_eq!(
        bot_cli.setting("PREFECT_API_KEY").as_deref(),
        Some(bot.as_str())
    );

    let (bo_ls, bot_ls, bot_set) = tokio::join!(
        bo.run(&["cloud", "workspace", "ls"]),
        bot_cli.run(&["cloud", "workspace", "ls"]),
        bot_cli.run(&["cloud", "workspace", "set", "--workspace", "acme/prod"]),
    );
    bo_ls.assert_ok("* acme/prod");
    assert!(
        !bo_ls.text().contains("acme/staging"),
        "{}",
        bo_ls.describe()
    );
    bot_ls.assert_ok("acme/staging");
    assert!(
        !bot_ls.text().contains("acme/prod"),
        "{}",
        bot_ls.describe()
    );
    bot_set.assert_fails("Workspace 'acme/prod' not found.");
    assert_eq!(
        bot_cli.setting("PREFECT_API_URL"),
        Some(workspace_url(&app, &acme.account_id, &acme.staging)),
        "unchanged after a refused set"
    );

    bot_cli
        .run(&["cloud", "logout"])
        .await
        .assert_ok("Logged out from Prefect Cloud.");
    assert_eq!(bot_cli.setting("PREFECT_API_KEY"), None);
}

#[tokio::test]
async fn wrong_expired_and_deleted_keys_are_refused_with_the_clients_message() {
    let Some(bin) = prefect_bin() else { return };
    let app = spawn_app().await;
    let acme = acme(&app).await;
    // Well-formed, never issued.
    let wrong_user = format!("pnu_{}", "A1b2C3d4E5".repeat(4).split_at(36).0);
    let wrong_bot = format!("pnb_{}", "z9Y8x7W6v5".repeat(4).split_at(36).0);
    let expired_user = user_key(&app, "ana", Some(an_hour_ago()));
    let expired_bot = bot_key(
        &app,
        &acme.account_id,
        "old-bot",
        Some(an_hour_ago()),
        &[&acme.prod],
    );
    let good = user_key(&app, "ana", None);

    let clis: Vec<Prefect> = (0..5).map(|_| Prefect::new(&bin, &app)).collect();
    let (r_wrong_user, r_wrong_bot, r_expired_user, r_expired_bot, r_good) = tokio::join!(
        clis[0].login(&wrong_user, "acme/prod"),
        clis[1].login(&wrong_bot, "acme/prod"),
        clis[2].login(&expired_user, "acme/prod"),
        clis[3].login(&expired_bot, "acme/prod"),
        clis[4].login(&good, "acme/prod"),
    );
    for (run, cli) in [
        (&r_wrong_user, &clis[0]),
        (&r_wrong_bot, &clis[1]),
        (&r_expired_user, &clis[2]),
        (&r_expired_bot, &clis[3]),
    ] {
        run.assert_fails(UNABLE);
        assert_eq!(cli.setting("PREFECT_API_KEY"), None, "no key saved");
    }
    r_good.assert_ok("Using workspace 'acme/prod'.");

    // The saved key is deleted: the next command is refused.
    {
        use atrium::db::schema::api_keys;
        use diesel::prelude::*;
        let uid = user_id(&app, "ana");
        let mut conn = app.conn();
        let ids: Vec<String> = api_keys::table
            .filter(api_keys::user_id.eq(&uid))
            .filter(api_keys::expires_at.is_null())
            .select(api_keys::id)
            .load(&mut conn)
            .expect("keys");
        assert_eq!(ids.len(), 1);
        assert_eq!(
            atrium::apikeys::model::delete_user_key(&mut conn, &uid, &ids[0]).expect("delete key"),
            1
        );
    }
    let (ls, set) = tokio::join!(
        clis[4].run(&["cloud", "workspace", "ls"]),
        clis[4].run(&["cloud", "workspace", "set", "--workspace", "acme/staging"]),
    );
    ls.assert_fails("Unable to authenticate. Please ensure your credentials are correct.");
    set.assert_fails("Unable to authenticate. Please ensure your credentials are correct.");
}
