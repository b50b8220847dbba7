#![forbid(unsafe_code)]
//! stsvend-cli: log in once with the device flow, then hand short-lived, bucket-scoped AWS keys
//! from stsvend to the AWS CLI and SDKs (`credential_process`) or to containers (a token file).

mod api;
mod awsconfig;
mod commands;
mod error;
mod files;
mod keychain;
mod oauth;
mod secret;
mod secure_url;
mod session;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use commands::{configure, credential_process, login, logout, token_file};
use error::CliError;
use keychain::{Keychain, OsKeychain};
use store::Store;

#[derive(Parser)]
#[command(
    name = "stsvend-cli",
    version,
    about = "Short-lived AWS keys for your own bucket, from stsvend"
)]
struct Cli {
    /// Session file [default: stsvend/cli-session.json in your config directory].
    #[arg(long, global = true, env = "STSVEND_CLI_STORE")]
    token_store: Option<PathBuf>,
    /// Where the refresh token goes: `auto` puts it in the OS keychain when one is reachable
    /// (and in the session file otherwise); `off` always uses the session file.
    #[arg(long, global = true, env = "STSVEND_CLI_KEYRING", value_enum, default_value_t = KeyringMode::Auto)]
    keyring: KeyringMode,
    /// Say more on stderr (where the refresh token went and why).
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum KeyringMode {
    Auto,
    Off,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in with the device flow (open a URL, enter a code) and store the session.
    Login(login::LoginArgs),
    /// Print credentials in the AWS `credential_process` format (for the AWS CLI and SDKs).
    CredentialProcess {
        /// Access level to ask stsvend for (for example `read-only`) [default: stsvend's].
        #[arg(long)]
        access: Option<String>,
    },
    /// Keep `Bearer <token>` in a file, for `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    TokenFile {
        /// File to write (replaced atomically, mode 0600).
        #[arg(long)]
        path: PathBuf,
        /// Write once and exit instead of refreshing the file before the token expires.
        #[arg(long)]
        once: bool,
    },
    /// Add or update a profile in the AWS config file that runs `credential-process`.
    Configure(configure::ConfigureArgs),
    /// Forget the session: remove the session file and the refresh token from the OS keychain.
    Logout,
    /// Print the shell completion script (e.g. `stsvend-cli completions bash >
    /// ~/.local/share/bash-completion/completions/stsvend-cli`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff; e.g. `stsvend-cli man > stsvend-cli.1`).
    Man,
}

fn http_client() -> Result<reqwest::blocking::Client, CliError> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("stsvend-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_mins(1))
        // No redirect is followed: a 307 or 308 from a token endpoint would re-send the refresh
        // token or device code to wherever it points, and reqwest keeps the bearer token on a
        // redirect to the same host and port, https to http included. A 3xx is an error that
        // names where it pointed (CliError::Redirected), so the user can configure that address.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(CliError::http("the HTTP client"))
}

fn run(cli: Cli) -> Result<(), CliError> {
    let http = http_client()?;
    let explicit = cli.token_store.is_some();
    let path = store::resolve_path(cli.token_store.as_deref())?;
    let os_keychain = OsKeychain;
    let keychain: Option<&dyn Keychain> = match cli.keyring {
        KeyringMode::Auto => Some(&os_keychain),
        KeyringMode::Off => None,
    };
    let store = Store::new(path, keychain, cli.verbose);
    match cli.command {
        Command::Login(args) => login::run(&http, &store, args),
        Command::CredentialProcess { access } => credential_process::run(&http, &store, access.as_deref()),
        Command::TokenFile { path, once } => token_file::run(&http, &store, &path, once),
        Command::Configure(args) => configure::run(&http, &store, explicit, args),
        Command::Logout => logout::run(&store),
        // Answered in `main`, before any session is touched.
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

/// The completion script or the man page, generated from the clap definition.
fn print_docs(command: &Command) -> Option<ExitCode> {
    use clap::CommandFactory;
    let mut out = std::io::stdout();
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "stsvend-cli", &mut out);
            Some(ExitCode::SUCCESS)
        }
        Command::Man => Some(match clap_mangen::Man::new(Cli::command()).render(&mut out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("stsvend-cli: man: {e}");
                ExitCode::FAILURE
            }
        }),
        _ => None,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = print_docs(&cli.command) {
        return code;
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stsvend-cli: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
