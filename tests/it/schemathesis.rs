//! schemathesis (PyPI) against `/api/openapi.json` with a valid key (issue #9 item 6): it
//! generates requests from the document, valid and invalid, and checks every answer with
//! all its checks (no 5xx, status codes, content types and bodies as documented, bad input
//! refused, good input accepted, no answer without the key).
//!
//! The tool comes from `scripts/schemathesis-venv` (a cached virtualenv); `scripts/test`
//! passes its `st` executable in `ATRIUM_SCHEMATHESIS_BIN`. Without it the test says why it
//! is skipped, except under `CI=true`, where it fails.

use std::process::Command;

use crate::api_support::{api_ws, bot, org};
use crate::support::spawn_app;

/// Examples per operation and phase: enough to reach every handler with good and bad
/// input, few enough to finish in about a minute per backend.
const EXAMPLES: &str = "50";
/// A fixed seed, so that a failure can be repeated.
const SEED: &str = "9";

/// Operations whose bodies obey rules that JSON Schema cannot state, so that input valid by
/// the document may still be refused with 422 and field errors. For these (and only these)
/// the `positive_data_acceptance` check also accepts 422; every other check, and every
/// other operation, is as strict as `--checks all` makes it.
const DOMAIN_RULES: &[(&str, &str)] = &[
    (
        "GET /api/accounts/{account_id}/events/filter/next",
        "the page token is opaque and signed",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/",
        "names and handles: characters, unique handle",
    ),
    (
        "PATCH /api/accounts/{account_id}/workspaces/{workspace_id}",
        "names, handles; the default role must be a role of the account",
    ),
    (
        "POST /api/accounts/{account_id}/bots/",
        "the name's characters; the key's expiration in the future",
    ),
    (
        "PATCH /api/accounts/{account_id}/bots/{id}",
        "the name's characters",
    ),
    (
        "POST /api/accounts/{account_id}/bots/{id}/rotate_api_key",
        "the expiration in the future",
    ),
    (
        "POST /api/accounts/{account_id}/workspace_roles/",
        "scopes or an inherited role of the account; the name",
    ),
    (
        "PATCH /api/accounts/{account_id}/workspace_roles/{id}",
        "scopes or an inherited role of the account; the name",
    ),
    (
        "POST /api/accounts/{account_id}/invitations/",
        "an address Atrium can deliver to",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/",
        "a service account and a role of this account",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/user_access/",
        "a member and a role of this account",
    ),
    (
        "POST /api/accounts/{account_id}/teams/",
        "the name's characters, unique in the account ignoring case",
    ),
    (
        "PUT /api/accounts/{account_id}/teams/{id}",
        "the name's characters, unique in the account ignoring case",
    ),
    (
        "PUT /api/accounts/{account_id}/teams/{id}/members",
        "people who are members of the account (teams hold no service accounts)",
    ),
    (
        "PUT /api/accounts/{account_id}/workspaces/{workspace_id}/team_access/",
        "a team and a role of this account",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/validate_transfer",
        "a target account the caller may move workspaces to",
    ),
    (
        "POST /api/accounts/{account_id}/workspaces/{workspace_id}/transfer",
        "a target account the caller may move workspaces to",
    ),
];

/// The `[[operations]]` entries of the config file for [`DOMAIN_RULES`].
fn domain_rules() -> String {
    DOMAIN_RULES
        .iter()
        .map(|(op, why)| {
            format!(
                "# {why}\n[[operations]]\ninclude-name = \"{op}\"\n\
                 checks.positive_data_acceptance.expected-statuses = \
                 [\"2XX\", \"401\", \"403\", \"404\", \"409\", \"422\"]\n"
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn tool() -> Option<String> {
    match std::env::var("ATRIUM_SCHEMATHESIS_BIN") {
        Ok(bin) if !bin.trim().is_empty() => Some(bin),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "ATRIUM_SCHEMATHESIS_BIN is not set (scripts/test sets it from scripts/schemathesis-venv)"
            )
        }
        _ => {
            eprintln!(
                "schemathesis: skipped: ATRIUM_SCHEMATHESIS_BIN is not set \
                 (run `scripts/schemathesis-venv` and export its output, or use scripts/test)"
            );
            None
        }
    }
}

/// Runs `st [--config-file config] run args…` (blocking, on a thread of its own); panics
/// with the tool's output when it reports a failure.
async fn run(
    bin: &str,
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
    what: &str,
    args: Vec<String>,
) {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).env("NO_COLOR", "1");
    if let Some(config) = config {
        // A global option: before `run`.
        cmd.arg("--config-file").arg(config);
    }
    cmd.arg("run").args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("schemathesis task")
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis ({what}) reports failures (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    eprintln!("schemathesis ({what}):\n{stdout}");
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let Some(bin) = tool() else { return };
    let app = spawn_app().await;
    // An organization owned by ana, her key (an Owner's key may do everything the API
    // offers), a workspace and a service account in it.
    let o = org(&app).await;
    let ws = api_ws(&app, &o.ana_key, &o.account, "fuzzed").await;
    bot(&app, &o.account, "robot");
    let schema = app.url("/api/openapi.json");
    let auth = format!("Authorization: Bearer {}", o.ana_key);
    let args: Vec<String> = [
        schema.as_str(),
        "-H",
        auth.as_str(),
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--phases",
        "examples,coverage,fuzzing",
        "--no-shrink",
        // Atrium refuses a NUL in any string or key of a body with 422 (PostgreSQL cannot
        // store or compare it; `hostile_input` proves it), which the document cannot state
        // for the free-form filter objects and extra properties.
        "--generation-allow-x00",
        "false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    // 1. The real account and workspace in every path, so the handlers get past the 404:
    // bodies and queries are generated. Deleting or moving the workspace would end the
    // run's reach, so those two operations are left to run 2.
    let config = app.dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.account_id\" = \"{}\"\n\"path.workspace_id\" = \"{ws}\"\n\n{}",
            o.account,
            [
                "DELETE /api/accounts/{account_id}/workspaces/{workspace_id}",
                "POST /api/accounts/{account_id}/workspaces/{workspace_id}/transfer",
            ]
            .iter()
            .map(|op| format!("[[operations]]\ninclude-name = \"{op}\"\nenabled = false\n"))
            .collect::<Vec<_>>()
            .join("\n")
        ) + "\n"
            + &domain_rules(),
    )
    .expect("write schemathesis.toml");
    run(
        &bin,
        app.dir.path(),
        Some(&config),
        "the real account and workspace",
        args.clone(),
    )
    .await;

    // 2. Everything, with generated ids (the deletes, the transfer, unknown accounts).
    let config = app.dir.path().join("schemathesis-ids.toml");
    std::fs::write(&config, domain_rules()).expect("write schemathesis-ids.toml");
    run(&bin, app.dir.path(), Some(&config), "generated ids", args).await;
}
