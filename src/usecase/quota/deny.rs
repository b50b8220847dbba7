//! Cutting the live write sessions of owners at or over a limit: the bucket policy of their
//! storage gets a Deny of `s3:PutObject` for their session tag (`aws::s3::quota_policy`), and
//! loses it once they are back under. Refusing new write vends is `limits`' part; this one
//! ends what was vended before the limit was crossed (keys, pre-signed URLs and forms, which
//! are signed with a session's keys).
//!
//! [`QuotaDeny::sync`] is given a bucket and every owner `limits` says is over, and leaves the
//! bucket's quota statements denying exactly those whose storage is in that bucket (their rows
//! say where), keeping every other statement. It writes under the bucket's fenced policy lease
//! (`deny_lease`), the one the revocations take, reading the policy only once it holds it, so
//! neither writer can undo the other's statements; it writes nothing when the policy already
//! says the same. Owners past the quota statements' share of the policy are left out (logged,
//! counted as `policy_full`): their new write vends are still refused by `limits`, and their
//! sessions end within `aws.session_duration_seconds`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::aws::s3::{Buckets, QuotaOwner, render_quota_policy};
use crate::config::Config;
use crate::identity::{BucketName, Owner};
use crate::runtime::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::usecase::error::{Failure, code};

#[path = "deny_lease.rs"]
mod lease;

/// What a sync left in the bucket's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    /// Owners whose writes the policy now denies (those of `over` with storage in the bucket).
    pub denied: Vec<Owner>,
    /// Owners of `over` with storage in the bucket that did not fit: not denied.
    pub left_out: Vec<Owner>,
    /// False when the policy already said this: nothing was written.
    pub written: bool,
}

#[derive(Debug, thiserror::Error)]
enum DenyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] crate::aws::Error),
    /// Other writers kept the bucket's policy lease.
    #[error("other writers kept the bucket policy's lease")]
    PolicyBusy,
}

impl DenyError {
    /// The `reason` label of `stsvend_quota_deny_errors_total`.
    fn reason(&self) -> &'static str {
        match self {
            Self::Store(_) => "store",
            Self::Aws(_) => "aws",
            Self::PolicyBusy => "policy_busy",
        }
    }
}

impl From<DenyError> for Failure {
    fn from(e: DenyError) -> Self {
        match e {
            DenyError::Store(e) => Self::store("quota deny sync", &e),
            DenyError::Aws(e) => Self::aws("quota deny sync", &e),
            // Logged where the lease was waited for (`deny_lease`).
            DenyError::PolicyBusy => Self::unavailable(code::Unavailable::SharedBucketPolicy),
        }
    }
}

/// Writes the quota statements of bucket policies.
pub struct QuotaDeny {
    store: Store,
    buckets: Arc<Buckets>,
    metrics: Arc<Metrics>,
    /// `aws.session_tag_key`: the user id's session tag.
    user_tag_key: String,
    /// `admin.policy_lease_seconds`: how long one write holds a bucket policy's lease.
    lease_seconds: u32,
    /// Owners denied per bucket by this process's last sync of it: the gauge is their sum.
    denied: Mutex<HashMap<BucketName, usize>>,
}

impl QuotaDeny {
    pub fn new(store: Store, buckets: Arc<Buckets>, config: &Config, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            buckets,
            metrics,
            user_tag_key: config.aws.session_tag_key.clone(),
            lease_seconds: config.admin.policy_lease_seconds,
            denied: Mutex::new(HashMap::new()),
        }
    }

    /// Leaves `bucket`'s policy denying writes to the sessions of exactly the owners of `over`
    /// whose storage is in it (the first given first, should they not all fit), keeping every
    /// other statement. Idempotent; replicas may call it at once.
    #[tracing::instrument(skip(self, over), fields(bucket = %bucket, over = over.len()))]
    pub async fn sync(&self, bucket: &BucketName, over: &[Owner]) -> Result<Synced, Failure> {
        match self.sync_bucket(bucket, over).await {
            Ok(synced) => {
                self.record(bucket, &synced);
                Ok(synced)
            }
            Err(e) => {
                self.metrics.quota_deny_errors.with_label_values(&[e.reason()]).inc();
                Err(e.into())
            }
        }
    }

    async fn sync_bucket(&self, bucket: &BucketName, over: &[Owner]) -> Result<Synced, DenyError> {
        let mut here: Vec<(Owner, String)> = Vec::new();
        for owner in over {
            if here.iter().any(|(o, _)| o == owner) {
                continue;
            }
            if let Some(root) = self.root_in(bucket, owner).await? {
                here.push((owner.clone(), root));
            }
        }
        let owners: Vec<QuotaOwner<'_>> = here.iter().map(|(owner, root)| QuotaOwner { owner, root }).collect();
        let (denied, written) = self
            .write_fenced(bucket, |existing| {
                let rendered = render_quota_policy(existing, bucket, &self.user_tag_key, &owners)?;
                Ok(rendered)
            })
            .await?;
        let (denied, left_out) = here.split_at(denied);
        let synced = Synced {
            denied: denied.iter().map(|(o, _)| o.clone()).collect(),
            left_out: left_out.iter().map(|(o, _)| o.clone()).collect(),
            written,
        };
        if !synced.left_out.is_empty() {
            tracing::error!(
                bucket = %bucket,
                denied = synced.denied.len(),
                left_out = synced.left_out.len(),
                "the bucket policy's quota share is full: owners over their limit keep writing with the sessions they hold (new write vends are still refused)"
            );
            self.metrics.quota_deny_errors.with_label_values(&["policy_full"]).inc();
        }
        Ok(synced)
    }

    /// Where `owner`'s storage is in `bucket`: `""` for a bucket of their own, the root of
    /// their prefix in a shared one (`users/`); `None` when it is not in `bucket` (or they
    /// have no row).
    async fn root_in(&self, bucket: &BucketName, owner: &Owner) -> Result<Option<String>, StoreError> {
        let found = match owner {
            Owner::User(id) => self
                .store
                .user(id)
                .await?
                .map(|u| (u.bucket.clone(), u.key_prefix().to_owned())),
            Owner::Org(id) => self
                .store
                .org(id)
                .await?
                .map(|o| (o.bucket.clone(), o.key_prefix().to_owned())),
        };
        Ok(found.filter(|(b, _)| b == bucket).map(|(_, prefix)| {
            // A prefix is `<root>/<id>/`: the statement names the root, once for every owner.
            let own = format!("{}/", owner.id());
            prefix.strip_suffix(&own).unwrap_or(&prefix).to_owned()
        }))
    }

    /// Sets `stsvend_quota_denied_owners` to the owners this process's syncs last left denied.
    fn record(&self, bucket: &BucketName, synced: &Synced) {
        let mut denied = self.denied.lock().unwrap_or_else(PoisonError::into_inner);
        if synced.denied.is_empty() {
            denied.remove(bucket);
        } else {
            denied.insert(bucket.clone(), synced.denied.len());
        }
        let total: usize = denied.values().sum();
        self.metrics
            .quota_denied_owners
            .set(i64::try_from(total).unwrap_or(i64::MAX));
    }
}
