//! `[database]`: the embedded `SQLite` file, or a `PostgreSQL` server shared by a fleet.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Deserialize)]
pub struct DatabaseConfig {
    /// The embedded `SQLite` database (used unless `url` names a `PostgreSQL` server).
    pub path: PathBuf,
    /// `postgres://user:password@host:port/db?sslmode=require`: several replicas share it.
    #[serde(default)]
    pub url: Option<String>,
    /// PEM certificates of a private CA trusted for the `PostgreSQL` server, in addition to the
    /// system roots (sslmode=require).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// URL schemes that select the `PostgreSQL` backend.
const POSTGRES_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

impl DatabaseConfig {
    /// The `PostgreSQL` URL when one is configured; `None` selects the embedded `SQLite`.
    pub fn postgres_url(&self) -> Option<&str> {
        self.url
            .as_deref()
            .filter(|u| POSTGRES_SCHEMES.iter().any(|s| u.starts_with(s)))
    }

    /// The URL with its password replaced by `***`, for logs and error messages.
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_deref().map(redact)
    }

    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.path.as_os_str().is_empty() {
            p.push("database.path: must not be empty".to_owned());
        }
        match self.url.as_deref() {
            None => {
                if self.ca_file.is_some() {
                    p.push("database.ca_file: only used with database.url (PostgreSQL)".to_owned());
                }
            }
            Some(url) if self.postgres_url().is_none() => p.push(format!(
                "database.url: `{}` is not a postgres:// or postgresql:// URL (leave it unset for the embedded SQLite)",
                redact(url)
            )),
            Some(url) => match url.parse::<tokio_postgres::Config>() {
                // The parser names the option it could not read, never a value.
                Err(e) => match std::error::Error::source(&e) {
                    Some(cause) => p.push(format!("database.url: {e}: {cause}")),
                    None => p.push(format!("database.url: {e}")),
                },
                Ok(c) => {
                    if c.get_ssl_mode() == tokio_postgres::config::SslMode::Prefer {
                        // `prefer` (also the default) silently falls back to plain text.
                        p.push(
                            "database.url: add sslmode=require (TLS, server certificate verified) or sslmode=disable"
                                .to_owned(),
                        );
                    }
                    if c.get_hosts().is_empty() {
                        p.push("database.url: name the server's host".to_owned());
                    }
                }
            },
        }
        p
    }
}

/// `url` without the password of its user-info part (`user:***@host`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
            let tail = redact_query_password(tail);
            if user_info.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => format!("{scheme}://{authority}{}", redact_query_password(tail)),
    }
}

/// A `password=` query parameter (libpq accepts one there too) replaced by `***`.
fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_owned()
            } else {
                kv.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("path", &self.path)
            .field("url", &self.redacted_url())
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(url: Option<&str>) -> DatabaseConfig {
        DatabaseConfig {
            path: PathBuf::from("s.db"),
            url: url.map(str::to_owned),
            ca_file: None,
        }
    }

    #[test]
    fn a_postgres_url_selects_postgres_and_anything_else_is_refused() {
        assert!(db(None).postgres_url().is_none());
        assert!(db(None).problems().is_empty());
        for url in [
            "postgres://u:p@db.example:5432/stsvend?sslmode=require",
            "postgresql://u:p@db.example/stsvend?sslmode=disable",
        ] {
            assert_eq!(db(Some(url)).postgres_url(), Some(url));
            assert!(db(Some(url)).problems().is_empty(), "{url}");
        }
        let problems = db(Some("mysql://u:secret@h/db")).problems();
        assert!(problems[0].contains("is not a postgres://"), "{problems:?}");
        assert!(!problems[0].contains("secret"), "{problems:?}");
    }

    #[test]
    fn a_url_without_an_explicit_sslmode_is_refused() {
        let problems = db(Some("postgres://u:p@h/db")).problems();
        assert!(problems[0].contains("sslmode=require"), "{problems:?}");
        let problems = db(Some("postgres://u:p@h/db?sslmode=verify-full")).problems();
        assert!(
            problems[0].contains("invalid value for option `sslmode`"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_password_never_reaches_debug_output_or_problems() {
        let c = db(Some(
            "postgres://stsvend:hunter2@h:5432/db?sslmode=require&password=hunter3",
        ));
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("postgres://stsvend:***@h:5432/db?sslmode=require&password=***"),
            "{shown}"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
