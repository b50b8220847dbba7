//! `stsvend users ...`: the admin API from a terminal. It is a client of the running service
//! (not of its database), so every action takes the same path as over HTTP: the same checks,
//! the same audit row, and the service's caches dropped at once.

use std::net::IpAddr;

use clap::Subcommand;
use reqwest::{Method, Url};
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users; --search matches a user-id or bucket prefix, or any part of the subject.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// The previous page's `next_after`.
        #[arg(long)]
        after: Option<String>,
    },
    /// One user: bucket, state, created, last vend, revocation.
    Show { user_id: String },
    /// Refuse the user's vends (403) and drop their cached keys.
    Disable { user_id: String },
    /// Let a disabled user vend again.
    Enable { user_id: String },
    /// Deny every session issued to the user until now, on their bucket, at once.
    Revoke { user_id: String },
    /// List the user's storage now and correct the usage ledger from it (quotas): totals
    /// before and after, and the drift.
    Reconcile { user_id: String },
    /// Delete the user's bucket and mapping; a bucket with objects needs --force.
    Delete {
        user_id: String,
        /// Empty the bucket first.
        #[arg(long)]
        force: bool,
    },
    /// Set the user's quota override (both limits; `unlimited` for none) and evaluate them now.
    Quota {
        user_id: String,
        #[arg(long, value_parser = crate::quota::parse_limit)]
        bytes: crate::quota::Limit,
        #[arg(long, value_parser = crate::quota::parse_limit)]
        objects: crate::quota::Limit,
    },
    /// Remove the user's quota override: the `[quota]` defaults apply again.
    QuotaReset { user_id: String },
    /// Whose key was this? Every party an access key id went to, with counts.
    Key { access_key_id: String },
    /// The admin audit log, newest first.
    Audit {
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("no admin token: set STSVEND_ADMIN_TOKEN or pass --token-file")]
    NoToken,
    #[error("cannot read the token file {path}: {source}")]
    TokenFile { path: String, source: std::io::Error },
    #[error("--api is not a URL ({0})")]
    NotAUrl(String),
    #[error(
        "--api must use https: {shown} {reason} (plain http is accepted only for localhost, 127.0.0.0/8 and [::1]): the admin token must not cross a network in clear"
    )]
    NotHttps { shown: String, reason: String },
    #[error("--api must not contain a user name or password")]
    Credentials,
    #[error("cannot reach {api}: {source}")]
    Unreachable { api: String, source: reqwest::Error },
    #[error(
        "{api} answered {status} redirecting to {location}; redirects are not followed (the admin token would go along): give the final address as --api"
    )]
    Redirected { api: String, status: u16, location: String },
    #[error("{status}: {code}: {message}")]
    Api { status: u16, code: String, message: String },
}

/// The admin token: `STSVEND_ADMIN_TOKEN`, else the first line of `token_file` (a leading
/// `Bearer ` is accepted, so the token file of the container route works too).
pub fn admin_token(token_file: Option<&std::path::Path>) -> Result<String, UsersError> {
    if let Ok(t) = std::env::var("STSVEND_ADMIN_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let path = token_file.ok_or(UsersError::NoToken)?;
    let text = std::fs::read_to_string(path).map_err(|source| UsersError::TokenFile {
        path: path.display().to_string(),
        source,
    })?;
    let line = text.lines().next().unwrap_or_default().trim();
    let token = line.strip_prefix("Bearer ").unwrap_or(line).trim();
    if token.is_empty() {
        return Err(UsersError::NoToken);
    }
    Ok(token.to_owned())
}

/// `--api` as a URL the admin token may be sent to: https, or plain http to this machine only
/// (`localhost`, 127.0.0.0/8, `[::1]`), the rule stsvend-cli applies to its `--api`. The host
/// is the one the URL really names, by the parser reqwest connects with:
/// `http://127.0.0.1@evil.example` is evil.example.
pub fn api_url(text: &str) -> Result<Url, UsersError> {
    let url = Url::parse(text.trim()).map_err(|e| UsersError::NotAUrl(e.to_string()))?;
    let shown = || {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.to_string()
    };
    match url.scheme() {
        "https" => {}
        "http" if url.host_str().is_some_and(is_loopback) => {}
        "http" => {
            return Err(UsersError::NotHttps {
                shown: shown(),
                reason: "is plain http to a host that is not this machine".to_owned(),
            });
        }
        other => {
            return Err(UsersError::NotHttps {
                shown: shown(),
                reason: format!("uses {other}"),
            });
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UsersError::Credentials);
    }
    Ok(url)
}

/// 127.0.0.0/8, `::1` and the name `localhost`. The parser lowercases names, turns every IPv4
/// spelling into dotted form and brackets IPv6, so `localhost.evil.example` or
/// `127.0.0.1.evil.example` are names and not loopback.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The request a subcommand makes: method, path under `/admin/v1`, query.
fn request(cmd: &UsersCommand) -> (Method, String, Vec<(&'static str, String)>) {
    let mut q = Vec::new();
    let mut opt = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            q.push((k, v));
        }
    };
    let seg = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let (method, path) = match cmd {
        UsersCommand::List { search, limit, after } => {
            opt("search", search.clone());
            opt("limit", limit.map(|l| l.to_string()));
            opt("after", after.clone());
            (Method::GET, "/users".to_owned())
        }
        UsersCommand::Show { user_id } => (Method::GET, format!("/users/{}", seg(user_id))),
        UsersCommand::Disable { user_id } => (Method::POST, format!("/users/{}/disable", seg(user_id))),
        UsersCommand::Enable { user_id } => (Method::POST, format!("/users/{}/enable", seg(user_id))),
        UsersCommand::Revoke { user_id } => (Method::POST, format!("/users/{}/revoke", seg(user_id))),
        UsersCommand::Reconcile { user_id } => (Method::POST, format!("/users/{}/usage/reconcile", seg(user_id))),
        UsersCommand::Delete { user_id, force } => {
            if *force {
                opt("force", Some("true".to_owned()));
            }
            (Method::DELETE, format!("/users/{}", seg(user_id)))
        }
        UsersCommand::Quota { user_id, .. } => (Method::PUT, format!("/users/{}/quota", seg(user_id))),
        UsersCommand::QuotaReset { user_id } => (Method::DELETE, format!("/users/{}/quota", seg(user_id))),
        UsersCommand::Key { access_key_id } => (Method::GET, format!("/access-keys/{}", seg(access_key_id))),
        UsersCommand::Audit { target, limit } => {
            opt("target", target.clone());
            opt("limit", limit.map(|l| l.to_string()));
            (Method::GET, "/audit".to_owned())
        }
    };
    (method, path, q)
}

/// Runs one subcommand against the service at `api`; returns the JSON answer.
pub async fn run(api: &Url, token: &str, cmd: &UsersCommand) -> Result<Value, UsersError> {
    let (method, path, query) = request(cmd);
    let body = match cmd {
        UsersCommand::Quota { bytes, objects, .. } => Some(crate::quota::body(*bytes, *objects)),
        _ => None,
    };
    call(api, token, method, &path, &query, body.as_ref()).await
}

/// One call of the admin API at `api` (`path` under `/admin/v1`); the JSON answer, or the
/// error envelope's code and message. `stsvend orgs` calls it too.
///
/// `body`: a JSON body (a quota override), if any.
pub async fn call(
    api: &Url,
    token: &str,
    method: Method,
    path: &str,
    query: &[(&'static str, String)],
    body: Option<&Value>,
) -> Result<Value, UsersError> {
    let api = api.as_str().trim_end_matches('/');
    // No redirect is followed: reqwest keeps the token on a redirect to the same host and port,
    // also from https to http.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|source| UsersError::Unreachable {
            api: api.to_owned(),
            source,
        })?;
    let mut req = client
        .request(method, format!("{api}/admin/v1{path}"))
        .query(query)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_mins(2));
    if let Some(body) = body {
        req = req.json(body);
    }
    let resp = req.send().await.map_err(|source| UsersError::Unreachable {
        api: api.to_owned(),
        source,
    })?;
    let status = resp.status().as_u16();
    if resp.status().is_redirection() {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map_or_else(
                || "(no Location)".to_owned(),
                |l| l.split(['?', '#']).next().unwrap_or_default().to_owned(),
            );
        return Err(UsersError::Redirected {
            api: api.to_owned(),
            status,
            location,
        });
    }
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let field = |k: &str| body["error"][k].as_str().unwrap_or("unknown").to_owned();
    Err(UsersError::Api {
        status,
        code: field("code"),
        message: field("message"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_map_to_admin_routes() {
        let (m, p, q) = request(&UsersCommand::Delete {
            user_id: "abc".to_owned(),
            force: true,
        });
        assert_eq!((m, p.as_str()), (Method::DELETE, "/users/abc"));
        assert_eq!(q, [("force", "true".to_owned())]);
        let (m, p, _) = request(&UsersCommand::Reconcile {
            user_id: "abc".to_owned(),
        });
        assert_eq!((m, p.as_str()), (Method::POST, "/users/abc/usage/reconcile"));
        // Path segments cannot be steered elsewhere.
        let (_, p, _) = request(&UsersCommand::Show {
            user_id: "../../v1/credentials".to_owned(),
        });
        assert_eq!(p, "/users/v1credentials");
    }

    #[test]
    fn https_anywhere_and_plain_http_on_loopback_are_accepted() {
        for ok in [
            "https://stsvend.example.com",
            "https://10.0.0.1:8443/base/",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:8080",
            "HTTP://LOCALHOST",
            "http://[::1]:8080",
            " http://127.0.0.1:8080 ",
        ] {
            assert!(api_url(ok).is_ok(), "{ok}: {:?}", api_url(ok).err());
        }
    }

    #[test]
    fn plain_http_to_any_other_host_and_other_schemes_are_refused() {
        for bad in [
            "http://stsvend.example.com",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1@evil.example",
            "http://10.0.0.1:8080",
            "http://0.0.0.0:8080",
            "http://[::ffff:127.0.0.1]/",
            "ftp://127.0.0.1",
        ] {
            let err = api_url(bad).unwrap_err();
            assert!(matches!(err, UsersError::NotHttps { .. }), "{bad}: {err:?}");
            assert!(err.to_string().starts_with("--api must use https: "), "{err}");
        }
        let err = api_url("http://admin:hunter2@evil.example").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(matches!(
            api_url("https://u:p@stsvend.example"),
            Err(UsersError::Credentials)
        ));
        assert!(matches!(api_url("stsvend.example"), Err(UsersError::NotAUrl(_))));
    }
}
