//! Every failure the CLI reports. Messages are written for the person at the terminal (or the
//! AWS CLI's stderr) and never contain a token, a refresh token or a key.

use std::path::PathBuf;

const LOGIN_HINT: &str = "run `stsvend-cli login`";

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
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

fn describe(description: Option<&str>) -> String {
    description.map(|d| format!(" ({d})")).unwrap_or_default()
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
}
