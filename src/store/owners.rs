//! Whose storage an object key is in, for the usage ledger (issue 25, quotas): a bucket of a
//! user's or an org's own (bucket mode: every key is theirs), or the shared bucket (prefix
//! mode: `<storage.prefix_root>/<user id>/...` or `<storage.org_prefix_root>/<org id>/...`).
//! Keys anywhere else belong to nobody and are not counted.
//!
//! Each event must be resolved cheaply, so what the users' and orgs' rows say about a bucket is
//! kept in memory after the first lookup, for [`OwnerResolver::TTL`]. A prefix needs no lookup:
//! the id is in the key, so a user created after an event for their prefix is still counted.
//! A deleted owner's bucket may keep resolving to them until the entry expires; that is
//! harmless, because the ledger keeps totals per storage: an owner created again gets new
//! storage (a new bucket, or the same prefix, whose objects are still theirs) and is read from
//! that storage's totals, never from the old bucket's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ledger::BucketUse;
use super::{Store, StoreError};
use crate::identity::{BucketName, OrgId, Owner, OwnerStorage, UserId};

/// What the rows said about a bucket when it was looked up.
#[derive(Clone)]
enum Known {
    Own(Owner),
    Shared,
    Nobody,
}

/// Resolves (bucket, key) to the owner's storage. One per consumer (share it by reference or in
/// an `Arc`): the cache is inside.
pub struct OwnerResolver {
    store: Store,
    user_root: String,
    org_root: String,
    /// The configured shared bucket: shared even before its first prefix-mode owner has a row.
    shared: Option<BucketName>,
    ttl: Duration,
    buckets: Mutex<HashMap<String, (Instant, Known)>>,
}

impl OwnerResolver {
    /// How long what the rows say about a bucket is trusted.
    pub const TTL: Duration = Duration::from_mins(5);

    /// `user_root`, `org_root`: `storage.prefix_root` and `storage.org_prefix_root`;
    /// `shared`: `storage.shared_bucket`.
    pub fn new(store: Store, user_root: &str, org_root: &str, shared: Option<BucketName>) -> Self {
        Self {
            store,
            user_root: user_root.to_owned(),
            org_root: org_root.to_owned(),
            shared,
            ttl: Self::TTL,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The same, trusting a lookup for `ttl` (tests).
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The storage `key` of `bucket` is in, or `None`: nobody's.
    pub async fn resolve(&self, bucket: &str, key: &str) -> Result<Option<OwnerStorage>, StoreError> {
        let Ok(bucket) = BucketName::parse(bucket) else {
            return Ok(None); // no bucket stsvend makes
        };
        let known = if let Some(known) = self.cached(&bucket) {
            known
        } else {
            let known = if self.shared.as_ref() == Some(&bucket) {
                Known::Shared
            } else {
                match self.store.bucket_use(&bucket).await? {
                    Some(BucketUse::Own(owner)) => Known::Own(owner),
                    Some(BucketUse::Shared) => Known::Shared,
                    None => Known::Nobody,
                }
            };
            self.lock()
                .insert(bucket.as_str().to_owned(), (Instant::now(), known.clone()));
            known
        };
        Ok(match known {
            Known::Own(owner) => Some(OwnerStorage {
                owner,
                bucket,
                prefix: String::new(),
            }),
            Known::Shared => self
                .prefix_owner(key)
                .map(|(owner, prefix)| OwnerStorage { owner, bucket, prefix }),
            Known::Nobody => None,
        })
    }

    /// Drops what is kept about `bucket` (its owner changed).
    pub fn forget(&self, bucket: &BucketName) {
        self.lock().remove(bucket.as_str());
    }

    fn cached(&self, bucket: &BucketName) -> Option<Known> {
        let buckets = self.lock();
        let (at, usage) = buckets.get(bucket.as_str())?;
        (at.elapsed() < self.ttl).then(|| usage.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Known)>> {
        // A panic while holding it leaves a plain map; keep using it.
        self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The owner a shared bucket's `key` is under, with their prefix.
    fn prefix_owner(&self, key: &str) -> Option<(Owner, String)> {
        let under = |root: &str| -> Option<(String, &str)> {
            let rest = key.strip_prefix(root)?.strip_prefix('/')?;
            let (id, _) = rest.split_once('/')?;
            Some((format!("{root}/{id}/"), id))
        };
        if let Some((prefix, id)) = under(&self.user_root) {
            return UserId::parse(id).ok().map(|u| (Owner::User(u), prefix));
        }
        let (prefix, id) = under(&self.org_root)?;
        OrgId::parse(id).ok().map(|o| (Owner::Org(o), prefix))
    }
}
