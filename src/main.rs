//! The `atrium` binary: `atrium serve` (default) or `atrium migrate`.

use std::process::ExitCode;

use atrium::{Application, Settings};

#[actix_web::main]
async fn main() -> ExitCode {
    atrium::app::init_tracing();
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
        "help" | "--help" | "-h" => {
            println!(
                "usage: atrium [serve|migrate]\nSettings come from ATRIUM_* environment variables; see README.md."
            );
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("atrium: unknown command {other:?} (expected serve or migrate)");
            ExitCode::from(2)
        }
    }
}

/// Error messages from libraries (libpq) can span lines; the operator gets one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
