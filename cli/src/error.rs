//! Every failure the CLI reports. Messages are written for the person at the terminal (or the
//! AWS CLI's stderr) and never contain a token, a refresh token or a key.

use std::path::PathBuf;

use crate::awsconfig::shell_quote;
use crate::secure_url::UrlProblem;

const LOGIN_HINT: &str = "run `stsvend-cli login`";

/// Exit codes: 0 done; 1 the operation failed (not logged in, refused, unreachable); 2 the
/// command line or the setup has to change before a retry can work (clap uses 2 for its
/// usage errors too).
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_SETUP: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("not logged in (no session in {}); {LOGIN_HINT}", .0.display())]
    NotLoggedIn(PathBuf),
    #[error("the session in {} cannot be read ({reason}); {LOGIN_HINT}", .path.display())]
    CorruptSession { path: PathBuf, reason: String },
    #[error("your session has expired or was revoked ({0}); {LOGIN_HINT}")]
    SessionExpired(String),
    #[error("{flag} (or {env}) is required the first time you log in")]
    MissingSetting { flag: &'static str, env: &'static str },
    #[error("sign-in was denied at the identity provider")]
    LoginDenied,
    #[error("the sign-in code expired before it was approved; {LOGIN_HINT} again")]
    LoginExpired,
    #[error("the identity provider refused the request: {code}{}", describe(.description.as_deref()))]
    OAuth { code: String, description: Option<String> },
    #[error("stsvend refused the request (HTTP {status}, {code}): {message}")]
    Api { status: u16, code: String, message: String },
    #[error("stsvend rejected your token (HTTP 401, {code}): {message}; {LOGIN_HINT}")]
    ApiUnauthorized { code: String, message: String },
    #[error("could not reach {what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what} sent an unexpected response: {reason}")]
    BadResponse { what: String, reason: String },
    #[error(
        "{what} answered HTTP {status}, a redirect to {location}; stsvend-cli follows no redirect (your token would go along): use the address it names, if you trust it"
    )]
    Redirected {
        what: String,
        status: u16,
        location: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {problem}")]
    BadUrl { what: String, problem: UrlProblem },
    #[error(
        "the identity provider at {configured} says its issuer is {discovered}; issuers are compared exactly (OpenID Connect Discovery 1.0 §4.3){}",
        issuer_hint(.configured, .discovered)
    )]
    IssuerMismatch { configured: String, discovered: String },
    #[error("{}", shared_dir_message(.dir, *.mode))]
    SharedDirectory { dir: PathBuf, mode: u32 },
    #[error("{0}")]
    Keychain(String),
    #[error("{0}")]
    Usage(String),
}

fn describe(description: Option<&str>) -> String {
    description.map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Auth0 issuers end in `/` and the two spellings fetch the same discovery document, so the
/// likely mistake is the slash: say exactly what to pass.
fn issuer_hint(configured: &str, discovered: &str) -> String {
    if configured.trim_end_matches('/') == discovered.trim_end_matches('/') {
        format!("; pass --issuer {discovered}")
    } else {
        "; check --issuer, or the identity provider is not the one you meant".to_owned()
    }
}

fn shared_dir_message(dir: &std::path::Path, mode: u32) -> String {
    let shown = dir.display();
    // A sticky, world-writable directory (/tmp) is shared by design: chmod is the wrong advice.
    if mode & 0o1000 != 0 {
        format!(
            "{shown} (mode {mode:04o}) is shared with other users and cannot hold your stsvend session; \
             keep it in a directory of your own (--token-store or STSVEND_CLI_STORE)"
        )
    } else {
        format!(
            "{shown} (mode {mode:04o}) lets other users see or change your stsvend session; run `chmod 700 {}`",
            shell_quote(&dir.to_string_lossy())
        )
    }
}

impl CliError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub fn http(what: impl Into<String>) -> impl FnOnce(reqwest::Error) -> Self {
        let what = what.into();
        // The URL may be shown (it never carries a token); the body never is.
        move |source| Self::Http { what, source }
    }

    /// `resp`, unless it is a redirect (none is followed: see `http_client`). The target is
    /// shown without its query or fragment, which could carry a code.
    pub fn unless_redirect(
        what: impl Into<String>,
        resp: reqwest::blocking::Response,
    ) -> Result<reqwest::blocking::Response, Self> {
        if !resp.status().is_redirection() {
            return Ok(resp);
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map_or("(no Location header)", |l| {
                l.split(['?', '#']).next().unwrap_or_default()
            })
            .to_owned();
        Err(Self::Redirected {
            what: what.into(),
            status: resp.status().as_u16(),
            location,
        })
    }

    pub fn bad_url(what: impl Into<String>) -> impl FnOnce(UrlProblem) -> Self {
        let what = what.into();
        move |problem| Self::BadUrl { what, problem }
    }

    /// Every variant decides: retrying may help (1), or something must change first (2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NotLoggedIn(_)
            | Self::CorruptSession { .. }
            | Self::SessionExpired(_)
            | Self::LoginDenied
            | Self::LoginExpired
            | Self::OAuth { .. }
            | Self::Api { .. }
            | Self::ApiUnauthorized { .. }
            | Self::Http { .. }
            | Self::BadResponse { .. }
            | Self::Io { .. }
            | Self::Keychain(_) => EXIT_FAILED,
            Self::MissingSetting { .. }
            | Self::BadUrl { .. }
            | Self::Redirected { .. }
            | Self::IssuerMismatch { .. }
            | Self::SharedDirectory { .. }
            | Self::Usage(_) => EXIT_SETUP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_need_a_new_login_say_how() {
        for e in [
            CliError::NotLoggedIn("/tmp/x.json".into()),
            CliError::SessionExpired("invalid_grant".into()),
            CliError::ApiUnauthorized {
                code: "token_expired".into(),
                message: "token has expired".into(),
            },
        ] {
            assert!(e.to_string().contains("run `stsvend-cli login`"), "{e}");
        }
    }

    #[test]
    fn oauth_errors_show_the_description_when_there_is_one() {
        let e = CliError::OAuth {
            code: "invalid_target".into(),
            description: Some("unknown audience".into()),
        };
        assert_eq!(
            e.to_string(),
            "the identity provider refused the request: invalid_target (unknown audience)"
        );
        let e = CliError::OAuth {
            code: "server_error".into(),
            description: None,
        };
        assert_eq!(e.to_string(), "the identity provider refused the request: server_error");
    }

    #[test]
    fn an_issuer_differing_only_in_the_trailing_slash_gets_the_value_to_pass() {
        let e = CliError::IssuerMismatch {
            configured: "https://t.auth0.com".into(),
            discovered: "https://t.auth0.com/".into(),
        };
        assert!(e.to_string().ends_with("; pass --issuer https://t.auth0.com/"), "{e}");
        let e = CliError::IssuerMismatch {
            configured: "https://t.auth0.com/".into(),
            discovered: "https://evil.example/".into(),
        };
        assert!(!e.to_string().contains("pass --issuer"), "{e}");
        assert_eq!(e.exit_code(), EXIT_SETUP);
    }

    #[test]
    fn a_shared_directory_gets_the_chmod_to_run_unless_it_is_shared_by_design() {
        let e = CliError::SharedDirectory {
            dir: "/home/me/my config".into(),
            mode: 0o755,
        };
        assert!(
            e.to_string().ends_with(
                "(mode 0755) lets other users see or change your stsvend session; run `chmod 700 '/home/me/my config'`"
            ),
            "{e}"
        );
        let e = CliError::SharedDirectory {
            dir: "/tmp".into(),
            mode: 0o1777,
        };
        assert!(!e.to_string().contains("chmod"), "{e}");
        assert!(e.to_string().contains("--token-store"), "{e}");
    }
}
