//! `[database]`: the embedded `SQLite` file, or a `PostgreSQL` server shared by a fleet.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use tokio_postgres::config::Host;

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
            Some(url) if misread(url, url.parse().ok().as_ref()) => p.push(format!("database.url: {MISREAD}")),
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

/// Why a URL is shown as `postgres://***` and refused.
const MISREAD: &str = "percent-encode `@` (%40) in the password and in parameters: the driver takes everything before the first `@` as user and password";

/// True when the driver's reading of `url` cannot be what was meant, so that no part of it may
/// be shown (what it takes for the user, host or database may be a piece of the password): a
/// second `@` (a raw one in the password or a parameter), or a user name cut out of a path or
/// query (`postgres://h/db?password=p@ss` reads as user `h/db?password=p`, host `ss`).
fn misread(url: &str, config: Option<&tokio_postgres::Config>) -> bool {
    if url.matches('@').count() > 1 {
        return true;
    }
    let Some(config) = config else { return false };
    let user = config.get_user().unwrap_or_default();
    let password = config.get_password().map(String::from_utf8_lossy).unwrap_or_default();
    user.contains(['/', '?', '#', '&', '=']) || password.contains("password=")
}

/// `url` as the driver reads it, without its password, for logs and error messages: user,
/// hosts and ports, database and `sslmode`, taken from the `tokio_postgres::Config` that
/// connects, never cut out of the text. So the password ends exactly where the driver ends it
/// (`postgres://u:s3cr/et+Kq==@h/db`: `s3cr/et+Kq==`; a `password=` parameter too), whatever
/// it holds. A URL the driver cannot read, or may misread, shows its scheme only.
fn redact(url: &str) -> String {
    let Some(scheme) = POSTGRES_SCHEMES.iter().find(|s| url.starts_with(**s)) else {
        return other_scheme(url);
    };
    let config = url.parse::<tokio_postgres::Config>().ok();
    if misread(url, config.as_ref()) {
        return format!("{scheme}*** (not shown: {MISREAD})");
    }
    let Some(config) = config else {
        return format!("{scheme}*** (not shown: the driver cannot read it)");
    };
    let mut shown = (*scheme).to_owned();
    let user = config.get_user();
    let password = config.get_password().is_some();
    if let Some(user) = user {
        shown.push_str(user);
    }
    if password {
        shown.push_str(":***");
    }
    if user.is_some() || password {
        shown.push('@');
    }
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // The driver's rule: no port is 5432, one port is every host's.
            let port = match ports {
                [] => 5432,
                [one] => *one,
                many => many.get(i).copied().unwrap_or(5432),
            };
            (host, port)
        })
        .map(|(host, port)| match host {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
            Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            Host::Unix(dir) => format!("{}:{port}", dir.display()),
        })
        .collect();
    shown.push_str(&hosts.join(","));
    if let Some(db) = config.get_dbname() {
        shown.push('/');
        shown.push_str(db);
    }
    // `Disable`, `Prefer`, `Require`: the values the URL spells in lower case.
    let mode = format!("{:?}", config.get_ssl_mode()).to_lowercase();
    shown.push_str("?sslmode=");
    shown.push_str(&mode);
    shown
}

/// A URL of another kind, in the message refusing it: its scheme, when it has a plain one.
fn other_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            format!("{scheme}://***")
        }
        _ => "***".to_owned(),
    }
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
            shown.contains("postgres://stsvend:***@h:5432/db?sslmode=require"),
            "{shown}"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h:5432/db?sslmode=prefer");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h:5432/db?sslmode=prefer");
    }

    /// Each password ends where tokio-postgres ends it (at the first `@`), so none of it shows.
    #[test]
    fn passwords_with_url_delimiters_are_redacted_where_the_driver_reads_them() {
        for (password, url) in [
            (
                "s3cr/et+Kq==",
                "postgres://u:s3cr/et+Kq==@127.0.0.1:5432/db?sslmode=disable",
            ),
            ("pa?ss=wo", "postgres://u:pa?ss=wo@127.0.0.1:5432/db?sslmode=disable"),
            ("pa#ss", "postgres://u:pa#ss@127.0.0.1:5432/db?sslmode=disable"),
            ("p/a?s#s", "postgresql://u:p/a?s#s@127.0.0.1:5432/db?sslmode=disable"),
            ("p%40ss", "postgres://u:p%40ss@127.0.0.1:5432/db?sslmode=disable"),
        ] {
            let parsed: tokio_postgres::Config = url.parse().unwrap();
            let decoded = String::from_utf8(parsed.get_password().unwrap().to_vec()).unwrap();
            assert_eq!(decoded, password.replace("%40", "@"), "the driver reads {url}");
            let shown = redact(url);
            let scheme = url.split_once("://").unwrap().0;
            assert_eq!(shown, format!("{scheme}://u:***@127.0.0.1:5432/db?sslmode=disable"));
            let c = db(Some(url));
            assert!(c.problems().is_empty(), "{url}: {:?}", c.problems());
            assert!(!format!("{c:?}").contains(password), "{c:?}");
        }
    }

    #[test]
    fn a_password_parameter_is_a_password_too() {
        for url in [
            "postgres://u@h/db?password=s3cr%2Fet&sslmode=require",
            "postgres://u@h/db?sslmode=require&password=s3cr/et+Kq==",
            "postgres://h/db?password=s3cr/et&user=u&sslmode=require",
        ] {
            let shown = redact(url);
            assert_eq!(shown, "postgres://u:***@h:5432/db?sslmode=require", "{url}");
        }
    }

    /// A raw `@` in the password (or in a parameter) makes the driver read part of it as the host
    /// or the user: nothing but the scheme is shown, and validation asks for `%40`.
    #[test]
    fn a_raw_at_sign_outside_the_user_info_shows_nothing_and_is_refused() {
        for (secret, url) in [
            ("pq7@zx9", "postgres://u:pq7@zx9@h/db?sslmode=disable"),
            ("s3k@cr8", "postgres://u:pw@h/db?sslmode=disable&password=s3k@cr8"),
            ("pq7@zx9", "postgres://h/db?sslmode=disable&password=pq7@zx9"),
            ("pq7@zx9", "postgres://h:5432/db?password=pq7@zx9&sslmode=disable"),
        ] {
            let shown = redact(url);
            assert!(shown.starts_with("postgres://*** (not shown:"), "{url}: {shown}");
            for piece in secret.split('@') {
                assert!(!shown.contains(piece), "{url}: {shown}");
            }
            let problems = db(Some(url)).problems();
            assert_eq!(problems.len(), 1, "{url}: {problems:?}");
            assert!(problems[0].contains("%40"), "{problems:?}");
            assert!(!problems[0].contains(secret), "{problems:?}");
        }
    }

    #[test]
    fn hosts_and_ports_are_shown_as_the_driver_connects_to_them() {
        assert_eq!(
            redact("postgres://u:pw@a:5433,b:5434/db?sslmode=require"),
            "postgres://u:***@a:5433,b:5434/db?sslmode=require"
        );
        assert_eq!(
            redact("postgres://u:pw@[::1]:5432/db?sslmode=disable"),
            "postgres://u:***@[::1]:5432/db?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://u:pw@/db?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable"),
            "postgres://u:***@/var/run/postgresql:5432/db?sslmode=disable"
        );
    }

    #[test]
    fn urls_the_driver_cannot_read_or_of_another_kind_show_their_scheme_only() {
        assert_eq!(
            redact("postgres://u:s3cr/et@h:notaport/db"),
            "postgres://*** (not shown: the driver cannot read it)"
        );
        assert_eq!(redact("mysql://u:s3cr/et@h/db"), "mysql://***");
        assert_eq!(redact("host=h password=s3cr/et"), "***");
        assert_eq!(redact("u:s3cr/et@h://db"), "***");
    }
}
