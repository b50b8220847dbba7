//! `stsvend orgs ...`: the admin API's organisation routes from a terminal, with the same client
//! as `stsvend users` (`users::call`): the same token rules, the same `--api` rules, and every
//! action taking the path it takes over HTTP (the same checks, the same audit row).

use clap::Subcommand;
use reqwest::{Method, Url};
use serde_json::Value;

use crate::users::{UsersError, call};

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// List organisations; --search matches an org-id prefix or any part of the org claim.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// The previous page's `next_after`.
        #[arg(long)]
        after: Option<String>,
    },
    /// One organisation: claim, storage, state, created, last vend, members seen, revocations.
    Show { org_id: String },
    /// Refuse the organisation's templates to every member (403 `org_disabled`); personal
    /// templates keep working.
    Disable { org_id: String },
    /// Let a disabled organisation's members use its templates again.
    Enable { org_id: String },
    /// Deny every member's sessions issued until now on the organisation's storage.
    Revoke { org_id: String },
    /// Deny one member's sessions issued until now on the organisation's storage only.
    RevokeMember { org_id: String, user_id: String },
    /// Set the organisation's quota override (both limits; `unlimited` for none) and evaluate
    /// it now.
    Quota {
        org_id: String,
        #[arg(long, value_parser = crate::quota::parse_limit)]
        bytes: crate::quota::Limit,
        #[arg(long, value_parser = crate::quota::parse_limit)]
        objects: crate::quota::Limit,
    },
    /// Remove the organisation's quota override: the `[quota]` defaults apply again.
    QuotaReset { org_id: String },
    /// List the organisation's storage now and correct the usage ledger from it (quotas):
    /// totals before and after, and the drift.
    Reconcile { org_id: String },
    /// Delete the organisation's storage and mapping; storage with objects needs --force.
    Delete {
        org_id: String,
        /// Empty the storage first.
        #[arg(long)]
        force: bool,
    },
}

/// The request a subcommand makes: method, path under `/admin/v1`, query.
fn request(cmd: &OrgsCommand) -> (Method, String, Vec<(&'static str, String)>) {
    let mut q = Vec::new();
    let seg = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let (method, path) = match cmd {
        OrgsCommand::List { search, limit, after } => {
            let pairs = [
                ("search", search.clone()),
                ("limit", limit.map(|l| l.to_string())),
                ("after", after.clone()),
            ];
            q.extend(pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
            (Method::GET, "/orgs".to_owned())
        }
        OrgsCommand::Show { org_id } => (Method::GET, format!("/orgs/{}", seg(org_id))),
        OrgsCommand::Disable { org_id } => (Method::POST, format!("/orgs/{}/disable", seg(org_id))),
        OrgsCommand::Enable { org_id } => (Method::POST, format!("/orgs/{}/enable", seg(org_id))),
        OrgsCommand::Revoke { org_id } => (Method::POST, format!("/orgs/{}/revoke", seg(org_id))),
        OrgsCommand::Reconcile { org_id } => (Method::POST, format!("/orgs/{}/usage/reconcile", seg(org_id))),
        OrgsCommand::RevokeMember { org_id, user_id } => (
            Method::POST,
            format!("/orgs/{}/members/{}/revoke", seg(org_id), seg(user_id)),
        ),
        OrgsCommand::Quota { org_id, .. } => (Method::PUT, format!("/orgs/{}/quota", seg(org_id))),
        OrgsCommand::QuotaReset { org_id } => (Method::DELETE, format!("/orgs/{}/quota", seg(org_id))),
        OrgsCommand::Delete { org_id, force } => {
            if *force {
                q.push(("force", "true".to_owned()));
            }
            (Method::DELETE, format!("/orgs/{}", seg(org_id)))
        }
    };
    (method, path, q)
}

/// Runs one subcommand against the service at `api`; returns the JSON answer.
pub async fn run(api: &Url, token: &str, cmd: &OrgsCommand) -> Result<Value, UsersError> {
    let (method, path, query) = request(cmd);
    let body = match cmd {
        OrgsCommand::Quota { bytes, objects, .. } => Some(crate::quota::body(*bytes, *objects)),
        _ => None,
    };
    call(api, token, method, &path, &query, body.as_ref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_map_to_the_org_routes() {
        let (m, p, q) = request(&OrgsCommand::Delete {
            org_id: "oabc".to_owned(),
            force: true,
        });
        assert_eq!((m, p.as_str()), (Method::DELETE, "/orgs/oabc"));
        assert_eq!(q, [("force", "true".to_owned())]);
        let (m, p, _) = request(&OrgsCommand::RevokeMember {
            org_id: "oabc".to_owned(),
            user_id: "u1".to_owned(),
        });
        assert_eq!((m, p.as_str()), (Method::POST, "/orgs/oabc/members/u1/revoke"));
        let (m, p, _) = request(&OrgsCommand::Reconcile {
            org_id: "oabc".to_owned(),
        });
        assert_eq!((m, p.as_str()), (Method::POST, "/orgs/oabc/usage/reconcile"));
        let (_, p, q) = request(&OrgsCommand::List {
            search: Some("acme".to_owned()),
            limit: None,
            after: None,
        });
        assert_eq!((p.as_str(), q), ("/orgs", vec![("search", "acme".to_owned())]));
        // Path segments cannot be steered elsewhere.
        let (_, p, _) = request(&OrgsCommand::Show {
            org_id: "../../v1/credentials".to_owned(),
        });
        assert_eq!(p, "/orgs/v1credentials");
    }
}
