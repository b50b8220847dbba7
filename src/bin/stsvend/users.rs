//! `stsvend users ...`: the admin API from a terminal. It is a client of the running service
//! (not of its database), so every action takes the same path as over HTTP: the same checks,
//! the same audit row, and the service's caches dropped at once.

use clap::Subcommand;
use reqwest::Method;
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
    /// Delete the user's bucket and mapping; a bucket with objects needs --force.
    Delete {
        user_id: String,
        /// Empty the bucket first.
        #[arg(long)]
        force: bool,
    },
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
    #[error("cannot reach {api}: {source}")]
    Unreachable { api: String, source: reqwest::Error },
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
        UsersCommand::Delete { user_id, force } => {
            if *force {
                opt("force", Some("true".to_owned()));
            }
            (Method::DELETE, format!("/users/{}", seg(user_id)))
        }
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
pub async fn run(api: &str, token: &str, cmd: &UsersCommand) -> Result<Value, UsersError> {
    let (method, path, query) = request(cmd);
    let api = api.trim_end_matches('/');
    let resp = reqwest::Client::new()
        .request(method, format!("{api}/admin/v1{path}"))
        .query(&query)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_mins(2))
        .send()
        .await
        .map_err(|source| UsersError::Unreachable {
            api: api.to_owned(),
            source,
        })?;
    let status = resp.status().as_u16();
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
        // Path segments cannot be steered elsewhere.
        let (_, p, _) = request(&UsersCommand::Show {
            user_id: "../../v1/credentials".to_owned(),
        });
        assert_eq!(p, "/users/v1credentials");
    }
}
