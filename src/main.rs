#![forbid(unsafe_code)]
//! Command line: parse, load config, init telemetry, build the app, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stsvend::app::{Application, load_policies};
use stsvend::config::Config;

#[derive(Parser)]
#[command(
    name = "stsvend",
    version,
    about = "Vends short-lived AWS keys scoped to each user's own bucket"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        #[arg(long, default_value = "config.toml", env = "STSVEND_CONFIG")]
        config: PathBuf,
    },
    /// Load and check the configuration and policy templates, then exit.
    CheckConfig {
        #[arg(long, default_value = "config.toml", env = "STSVEND_CONFIG")]
        config: PathBuf,
    },
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("stsvend: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match load_policies(&config) {
                Ok(set) => {
                    println!(
                        "configuration OK; templates: {}",
                        set.names().collect::<Vec<_>>().join(", ")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("stsvend: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            stsvend::telemetry::init(config.server.log_format);
            let rt = match actix_web::rt::System::new().block_on(async { serve(config).await }) {
                Ok(()) => return ExitCode::SUCCESS,
                Err(e) => e,
            };
            eprintln!("stsvend: {rt}");
            ExitCode::from(2)
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "stsvend listening");
    app.run_until_stopped().await?;
    Ok(())
}
