//! Logging setup. Log lines carry ids, never tokens or secret keys.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level. `quieter`
/// holds `target=level` directives for chatty libraries (the AWS boundary names its own:
/// `aws::LOG_DIRECTIVES`).
pub fn init(format: LogFormat, quieter: &[&str]) {
    let mut default = String::from("info,actix_server=warn");
    for directive in quieter {
        default.push(',');
        default.push_str(directive);
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
