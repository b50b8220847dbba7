//! Users whose recorded bucket no longer exists: deleted by hand, or an AWS stand-in restarted
//! empty under a database that was kept. Their vends still hand out keys, and every S3 call
//! with them answers `NoSuchBucket`; nothing in the service notices, so doctor names them.

use std::collections::HashSet;

use super::Status;
use crate::aws::s3::Buckets;
use crate::config::Config;
use crate::identity::BucketName;
use crate::store::{ProvisionState, Store, UserQuery};

/// Users read from the database per query.
const PAGE: u32 = 500;
/// Users named on the line; the rest are counted.
const NAMED: usize = 10;

pub(super) async fn check_mappings(buckets: &Buckets, config: &Config) -> (Status, String) {
    let store = match Store::connect(&config.database).await {
        Ok(s) => s,
        Err(e) => return (Status::Warn, format!("cannot read the users ({e})")),
    };
    // (subject, user id, bucket) of every user whose first login finished: a pending one
    // creates its bucket when it logs in again.
    let mut mapped = Vec::new();
    let mut after = None;
    loop {
        let page = match store
            .list_users(UserQuery {
                search: None,
                after: after.take(),
                limit: PAGE,
            })
            .await
        {
            Ok(page) => page,
            Err(e) => return (Status::Warn, format!("cannot read the users ({e})")),
        };
        after = page.last().map(|(u, _)| u.user_id.to_string());
        mapped.extend(
            page.into_iter()
                .filter(|(u, _)| u.state == ProvisionState::Ready)
                .map(|(u, _)| (u.subject, u.user_id.to_string(), u.bucket)),
        );
        if after.is_none() {
            break;
        }
    }
    if mapped.is_empty() {
        return (Status::Ok, "no users yet".to_owned());
    }

    let existing = match buckets.names().await {
        Ok(names) => names.into_iter().collect::<HashSet<String>>(),
        Err(e) => {
            return (
                Status::Warn,
                format!(
                    "cannot list the account's buckets ({e}); the service principal needs s3:ListAllMyBuckets for this check"
                ),
            );
        }
    };
    let mut gone = Vec::new();
    for (subject, user_id, bucket) in mapped.iter().filter(|(_, _, b)| !existing.contains(b.as_str())) {
        // A bucket created after the listing is not missing: ask for it by name.
        if !exists(buckets, bucket).await {
            gone.push(format!("{subject} (user {user_id}, bucket {bucket})"));
        }
    }
    let users = mapped.len();
    if gone.is_empty() {
        return (Status::Ok, format!("the bucket of each of the {users} users exists"));
    }
    let named = gone.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
    let more = match gone.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    (
        Status::Warn,
        format!(
            "{} of {users} users have a bucket that no longer exists: {named}{more}; their vends still hand out keys and every S3 call with them answers NoSuchBucket (restore the bucket, or `stsvend users delete` the user)",
            gone.len()
        ),
    )
}

/// False only when S3 says the bucket is not there; any other answer (or none) is not a
/// finding.
async fn exists(buckets: &Buckets, bucket: &BucketName) -> bool {
    buckets.exists(bucket).await.unwrap_or(true)
}
