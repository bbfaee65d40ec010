//! The `atrium` binary: `atrium serve` (default), `atrium migrate` or `atrium seed`.

use std::process::ExitCode;

use atrium::{Application, Settings};

#[actix_web::main]
async fn main() -> ExitCode {
    atrium::memory::tune_allocator();
    atrium::app::init_tracing();
    // Fail points for the fault tests; nothing unless built with `--features failpoints`.
    let _failpoints = atrium::faults::setup();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("atrium: {}", one_line(&format!("{e:#}")));
            return ExitCode::from(2);
        }
    };
    match command.as_str() {
        "serve" => match Application::build(settings).await {
            Ok(app) => {
                tracing::info!("Atrium listening on {}", app.public_url());
                match app.run_until_stopped().await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("atrium: {}", one_line(&format!("{e:#}")));
                        ExitCode::FAILURE
                    }
                }
            }
            Err(e) => {
                eprintln!("atrium: {}", one_line(&format!("{e:#}")));
                ExitCode::FAILURE
            }
        },
        "migrate" => match atrium::db::connect(settings.backend, &settings.database_url, 1) {
            Ok(_) => {
                println!("atrium: migrations applied");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("atrium: {}", one_line(&format!("{e:#}")));
                ExitCode::FAILURE
            }
        },
        "seed" => seed(&settings),
        "help" | "--help" | "-h" => {
            println!(
                "usage: atrium [serve|migrate|seed [--members N] [--workspaces N] [--audit-events N] …]\nSettings come from ATRIUM_* environment variables; see docs/SETTINGS.md."
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("atrium: unknown command {other:?} (expected serve, migrate or seed)");
            ExitCode::from(2)
        }
    }
}

/// `atrium seed`: fills the (fresh) database with a large and a small tenant for the
/// benchmarks, and writes `seed.env` and the service-account keys into the data directory.
fn seed(settings: &Settings) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let plan = match atrium::seed::Plan::from_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("atrium seed: {e}");
            return ExitCode::from(2);
        }
    };
    let result = atrium::db::connect(settings.backend, &settings.database_url, 1)
        .map_err(anyhow::Error::from)
        .and_then(|pool| Ok(pool.get()?))
        .and_then(|mut conn| atrium::seed::run(&mut conn, &plan))
        .and_then(|seeded| {
            atrium::seed::write_files(&settings.data_dir, &seeded)?;
            Ok(seeded)
        });
    match result {
        Ok(s) => {
            for (label, t) in [("large", &s.big), ("small", &s.small)] {
                println!(
                    "{label} account {} ({}): log in as {} (Owner) or {} (Member), password {}; workspace {} has the most accesses",
                    t.account_handle,
                    t.account_id,
                    t.owner_handle,
                    t.member_handle,
                    atrium::seed::PASSWORD,
                    t.workspace_id
                );
            }
            println!(
                "ids in {0}/seed.env; service-account keys in {0}/bench-big.key and {0}/bench-small.key",
                settings.data_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("atrium seed: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Error messages from libraries (libpq) can span lines; the operator gets one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
