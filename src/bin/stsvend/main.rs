#![forbid(unsafe_code)]
//! Command line: parse, load config, init telemetry, build the app, run.

mod orgs;
mod users;

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
    /// Create the role stsvend assumes, or bring an existing one in line (needs IAM rights).
    Bootstrap {
        #[arg(long, default_value = "config.toml", env = "STSVEND_CONFIG")]
        config: PathBuf,
        /// Print the policy documents and what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The service's own user or role, trusted by the role [default: the caller's identity,
        /// an assumed-role session taken as its role].
        #[arg(long)]
        principal_arn: Option<String>,
        /// Also create the usage queue for quotas (done anyway when [quota] is configured).
        #[arg(long)]
        quota: bool,
    },
    /// Check the configuration, issuer keys, AWS identity, role, templates and database.
    Doctor {
        #[arg(long, default_value = "config.toml", env = "STSVEND_CONFIG")]
        config: PathBuf,
    },
    /// Prove isolation and revocation on this deployment's own AWS account: two probe users
    /// (never real ones) vend, use and revoke keys through the service's own code; one line per
    /// check; everything made is removed at the end. Exit status 1 when a check fails.
    Selftest {
        #[arg(long, default_value = "config.toml", env = "STSVEND_CONFIG")]
        config: PathBuf,
        /// One JSON document at the end instead of a line per check (for CI pipelines).
        #[arg(long)]
        json: bool,
        /// Seconds to wait for a revocation to deny keys vended before it.
        #[arg(long, default_value_t = 60)]
        revoke_timeout: u64,
        /// Only remove the probe users (and their storage) an interrupted run left behind.
        #[arg(long)]
        cleanup: bool,
    },
    /// Print the shell completion script (e.g. `stsvend completions bash >
    /// /etc/bash_completion.d/stsvend`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `stsvend man > /usr/local/share/man/man1/stsvend.1`).
    Man,
    /// Print the name of every metric stsvend exports, one per line (histograms with their
    /// `_bucket`, `_sum` and `_count` series), for checking dashboards and alert rules.
    Metrics,
    /// Administer users through the running service's admin API (needs an admin token, from
    /// the environment or --token-file). Prints the JSON answer.
    Users {
        /// Base URL of the service: https, or plain http to this machine only (localhost,
        /// 127.0.0.0/8, the IPv6 loopback), since the admin token goes with every request.
        #[arg(long, env = "STSVEND_API", default_value = "http://127.0.0.1:8080")]
        api: String,
        /// File holding the admin token (`Bearer ` prefix optional).
        #[arg(long, global = true)]
        token_file: Option<PathBuf>,
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Administer organisations through the running service's admin API, as `users` does
    /// users (the same --api, token and rules). Prints the JSON answer.
    Orgs {
        /// Base URL of the service: https, or plain http to this machine only.
        #[arg(long, env = "STSVEND_API", default_value = "http://127.0.0.1:8080")]
        api: String,
        /// File holding the admin token (`Bearer ` prefix optional).
        #[arg(long, global = true)]
        token_file: Option<PathBuf>,
        #[command(subcommand)]
        command: orgs::OrgsCommand,
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
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "stsvend", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => {
            use clap::CommandFactory;
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("stsvend: man: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Metrics => {
            for name in stsvend::runtime::metrics::Metrics::new().names() {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
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
        Command::Bootstrap {
            config,
            dry_run,
            principal_arn,
            quota,
        } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let opts = stsvend::ops::bootstrap::Options {
                dry_run,
                principal_arn,
                quota,
            };
            match block_on(stsvend::ops::bootstrap::run(&config, &opts)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("stsvend: bootstrap: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Users {
            api,
            token_file,
            command,
        } => {
            // Checked before the token is read, and before anything is sent.
            let api = match users::api_url(&api) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("stsvend: users: {e}");
                    return ExitCode::from(2);
                }
            };
            let token = match users::admin_token(token_file.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("stsvend: users: {e}");
                    return ExitCode::from(2);
                }
            };
            match block_on(users::run(&api, &token, &command)) {
                Ok(body) => {
                    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("stsvend: users: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Orgs {
            api,
            token_file,
            command,
        } => {
            let (api, token) =
                match users::api_url(&api).and_then(|api| Ok((api, users::admin_token(token_file.as_deref())?))) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("stsvend: orgs: {e}");
                        return ExitCode::from(2);
                    }
                };
            match block_on(orgs::run(&api, &token, &command)) {
                Ok(body) => {
                    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("stsvend: orgs: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Selftest {
            config,
            json,
            revoke_timeout,
            cleanup,
        } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let options = stsvend::ops::selftest::Options {
                json,
                revoke_timeout: std::time::Duration::from_secs(revoke_timeout),
                cleanup_only: cleanup,
            };
            match block_on(stsvend::app::selftest::run(&config, &options)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("stsvend: selftest: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Doctor { config } => {
            if block_on(stsvend::ops::doctor::run(&config)) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Serve { config } => {
            let config = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            stsvend::runtime::telemetry::init(config.server.log_format, stsvend::aws::LOG_DIRECTIVES);
            let rt = match actix_web::rt::System::new().block_on(async { serve(config).await }) {
                Ok(()) => return ExitCode::SUCCESS,
                Err(e) => e,
            };
            eprintln!("stsvend: {rt}");
            ExitCode::from(2)
        }
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    actix_web::rt::System::new().block_on(f)
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let app = Application::build(config).await?;
    tracing::info!(port = app.port(), "stsvend listening");
    app.run_until_stopped().await?;
    Ok(())
}
