//! First-login provisioning: each user gets one locked-down bucket, recorded before it exists,
//! or in prefix mode (`storage.mode`) a prefix of the shared bucket, which needs no S3 call:
//! the row is written ready. The mode is recorded with each user, so switching it only
//! changes what new users get.
//!
//! The row is written `pending` before `CreateBucket`, so a crash at any point leaves a row
//! that the next request resumes; every step is idempotent. Concurrent first requests of one
//! user share a single provisioning run (single flight through the mapping cache). A disabled
//! user's row comes back as stored: nothing is provisioned for them.
//!
//! An organisation's storage (`org`) is made the same way, by the first member who asks for
//! an org template: the same row-first steps, bucket-name loop and settings, owned by the org.

mod mapping;
mod org;

use std::sync::Arc;

use quick_cache::UnitWeighter;
use quick_cache::sync::DefaultLifecycle;

use crate::auth::Caller;
use crate::aws::s3::{Buckets, Created};
use crate::config::Config;
use crate::identity::{BucketName, IdentityError, MAX_BUCKET_ATTEMPTS, OrgClaim, OrgId, UserId, UserPrefix};
use crate::runtime::cache::HotCache;
use crate::runtime::metrics::Metrics;
use crate::store::{Admission, NewUser, NewUserLimit, OrgRecord, ProvisionState, Store, StoreError, UserRecord};
use mapping::MappingRules;
pub use mapping::Violation;

/// The window of `limits.new_users_per_day`.
const DAY: std::time::Duration = std::time::Duration::from_hours(24);

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// S3 failed or refused (`aws::Error` says which).
    #[error(transparent)]
    Aws(#[from] crate::aws::Error),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("no free bucket name after {0} random names")]
    NamesExhausted(u32),
    /// New users arrive faster than `limits.new_users_per_minute`; retry after the duration.
    #[error("too many first logins; retry in {0:?}")]
    RateLimited(std::time::Duration),
    /// `limits.new_users_per_day` new users were made within the last day (fleet-wide); room
    /// comes back after the duration.
    #[error("the daily limit of new users is reached; retry in {0:?}")]
    DailyLimit(std::time::Duration),
    /// AWS refused the bucket: the account's bucket quota is used up (`TooManyBuckets`).
    #[error("the account's bucket quota is used up")]
    BucketQuota,
    /// The stored mapping disagrees with the configuration (`mapping`): refused, not vended.
    #[error("the stored mapping of user {user_id} is refused: {violation}")]
    Mapping { user_id: UserId, violation: Violation },
    /// An organisation's stored mapping disagrees with the configuration: refused.
    #[error("the stored mapping of organisation {org_id} is refused: {violation}")]
    OrgMapping { org_id: OrgId, violation: Violation },
}

/// Whose storage a bucket is: the steps that name, create and configure it are the same for
/// a user and an organisation.
#[derive(Clone, Copy)]
enum Owner<'a> {
    User(&'a UserId),
    Org(&'a OrgId),
}

#[derive(Clone)]
pub struct Provisioner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    buckets: Arc<Buckets>,
    /// `storage.bucket_name_prefix`: every bucket this makes is named `<it>-<random part>`.
    bucket_name_prefix: String,
    /// Prefix mode: the shared bucket and the root of every user's prefix in it.
    shared: Option<(BucketName, String)>,
    region: String,
    /// What every stored row is checked against before it is used or cached.
    rules: MappingRules,
    ready: HotCache<UserId, Arc<UserRecord>, UnitWeighter, DefaultLifecycle<UserId, Arc<UserRecord>>>,
    metrics: Arc<Metrics>,
    /// Ready organisations by claim value (one issuer per service).
    orgs: HotCache<OrgClaim, Arc<OrgRecord>, UnitWeighter, DefaultLifecycle<OrgClaim, Arc<OrgRecord>>>,
    /// `storage.org_prefix_root`: every org's prefix of the shared bucket hangs from it.
    org_root: String,
    new_users: crate::runtime::limits::NewUserRate,
    /// `limits.new_users_per_day`, when one applies.
    daily: Option<NewUserLimit>,
}

impl Provisioner {
    pub fn new(store: Store, buckets: Arc<Buckets>, config: &Config, metrics: Arc<Metrics>) -> Self {
        let (storage, aws) = (&config.storage, &config.aws);
        Self {
            inner: Arc::new(Inner {
                store,
                buckets,
                bucket_name_prefix: storage.bucket_name_prefix.clone(),
                shared: match storage.mode {
                    crate::config::StorageMode::Prefix => {
                        storage.shared_bucket().map(|b| (b, storage.prefix_root.clone()))
                    }
                    crate::config::StorageMode::Bucket => None,
                },
                region: aws.region.clone(),
                rules: MappingRules::new(storage),
                // Ready mappings kept in memory; each entry is a few hundred bytes.
                ready: {
                    let n = config.cache.mapping_entries.max(1);
                    let items = usize::try_from(n).unwrap_or(usize::MAX);
                    HotCache::new(items, n, UnitWeighter, DefaultLifecycle::default())
                },
                metrics,
                orgs: {
                    let n = config.cache.mapping_entries.max(1);
                    let items = usize::try_from(n).unwrap_or(usize::MAX);
                    HotCache::new(items, n, UnitWeighter, DefaultLifecycle::default())
                },
                org_root: storage.org_prefix_root.clone(),
                new_users: crate::runtime::limits::NewUserRate::new(&config.limits),
                daily: config
                    .new_users_per_day()
                    .map(|limit| NewUserLimit { limit, window: DAY }),
            }),
        }
    }

    /// `row` (as read from the store) when it agrees with the configuration; otherwise logged,
    /// counted and refused, as a vend refuses it: for the admin actions that act on AWS from a
    /// row read without a vend.
    pub fn check(&self, row: UserRecord) -> Result<UserRecord, ProvisionError> {
        self.inner.checked(row)
    }

    /// [`Self::check`] for an organisation's row.
    pub fn check_org(&self, row: OrgRecord) -> Result<OrgRecord, ProvisionError> {
        self.inner.checked_org(row)
    }

    /// The caller's mapping, creating and configuring the bucket on first login; a disabled
    /// user's row as stored (the caller refuses it). On a first login (or a resumed one) that
    /// this call runs, `meanwhile` gets the row once its bucket exists and runs concurrently
    /// with the bucket's settings: the vend asks STS for keys then, one round trip of AWS
    /// latency saved. This returns only once every setting is confirmed, so nothing is handed
    /// out before.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
    pub async fn ensure_ready_with<F, Fut>(
        &self,
        caller: &Caller,
        meanwhile: F,
    ) -> Result<Arc<UserRecord>, Arc<ProvisionError>>
    where
        F: FnOnce(UserRecord) -> Fut,
        Fut: Future<Output = ()>,
    {
        // A plain lookup first: a returning user's hit needs no caller clone or insert future.
        if let Some(user) = self.inner.ready.get(&caller.user_id) {
            self.inner.metrics.cache_lookup("mappings", true);
            return Ok(user);
        }
        // Boxed: the provisioning future is large, and the hit path above should not carry
        // (and copy) it.
        Box::pin(async {
            let load = async { self.inner.load_or_provision(caller, meanwhile).await.map(Arc::new) };
            let (user, fresh) = Box::pin(self.inner.ready.get_or_load(&caller.user_id, load)).await?;
            self.inner.metrics.cache_lookup("mappings", !fresh);
            Ok(user)
        })
        .await
    }

    /// Drops the cached mapping, so the next request reads the stored row (after an admin
    /// changed it).
    pub async fn forget(&self, user_id: &UserId) {
        self.inner.ready.remove(user_id).await;
    }

    /// Drops every cached mapping: after this process may have missed changes.
    pub fn forget_all(&self) {
        self.inner.ready.clear();
        self.inner.orgs.clear();
    }

    /// The stored mapping, without provisioning anything.
    pub async fn lookup(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        if let Some(r) = self.inner.ready.get(user_id) {
            return Ok(Some((*r).clone()));
        }
        self.inner.store.user(user_id).await
    }
}

impl Inner {
    /// Counts a stored mapping (a user's or an organisation's) refused by `rules`.
    fn count_rejected(&self, violation: mapping::Violation) {
        self.metrics
            .mapping_rejected
            .with_label_values(&[violation.label()])
            .inc();
    }

    /// Counts a first login refused by the new-user limit `limit` (`per_minute`, `per_day`).
    fn refused(&self, limit: &str) {
        self.metrics.new_users_refused.with_label_values(&[limit]).inc();
    }

    /// `row` when it agrees with the configuration; otherwise logged (user id and reason,
    /// nothing secret), counted and refused.
    fn checked(&self, row: UserRecord) -> Result<UserRecord, ProvisionError> {
        match self.rules.check(&row) {
            Ok(()) => Ok(row),
            Err(violation) => {
                self.count_rejected(violation);
                tracing::error!(
                    user_id = %row.user_id,
                    reason = violation.label(),
                    "stored mapping refused: {violation}; nothing is vended from it until the row is repaired"
                );
                Err(ProvisionError::Mapping {
                    user_id: row.user_id,
                    violation,
                })
            }
        }
    }

    async fn load_or_provision<F, Fut>(&self, caller: &Caller, meanwhile: F) -> Result<UserRecord, ProvisionError>
    where
        F: FnOnce(UserRecord) -> Fut,
        Fut: Future<Output = ()>,
    {
        let stored = self.store.user(&caller.user_id).await?;
        let row = match stored.map(|r| self.checked(r)).transpose()? {
            // A disabled user's unfinished first login stays unfinished: no S3 call for them.
            Some(r) if r.state == ProvisionState::Ready || r.disabled_at.is_some() => return Ok(r),
            Some(r) => {
                tracing::info!(user_id = %r.user_id, bucket = %r.bucket, "resuming interrupted provisioning");
                r
            }
            None => {
                // Only a user with no row yet is new: interrupted first logins resume freely.
                self.new_users.check().map_err(|wait| {
                    self.refused("per_minute");
                    ProvisionError::RateLimited(wait)
                })?;
                let (bucket, prefix) = match &self.shared {
                    Some((shared, root)) => (shared.clone(), Some(UserPrefix::for_user(root, &caller.user_id)?)),
                    None => (BucketName::fresh(&self.bucket_name_prefix)?, None),
                };
                let new = NewUser {
                    user_id: &caller.user_id,
                    issuer: &caller.issuer,
                    subject: &caller.subject,
                    bucket: &bucket,
                    region: &self.region,
                    prefix: prefix.as_ref(),
                };
                let row = match self.daily {
                    None => self.store.insert_user(&new).await?,
                    Some(limit) => match self.store.admit_user(&new, limit).await? {
                        Admission::Row(row) => row,
                        Admission::Full { room_at } => {
                            self.refused("per_day");
                            // Not `clock::now()`, whole seconds: the wait is rounded up at the edge.
                            let wait: std::time::Duration = (room_at - time::OffsetDateTime::now_utc())
                                .try_into()
                                .unwrap_or_default();
                            tracing::warn!(user_id = %caller.user_id, limit = limit.limit, retry_after_s = wait.as_secs(), "first login refused: limits.new_users_per_day reached");
                            return Err(ProvisionError::DailyLimit(wait));
                        }
                    },
                };
                // The row as stored: another process may have written it first.
                let row = self.checked(row)?;
                if row.state == ProvisionState::Ready {
                    // Prefix mode: the row is ready at once. The shared bucket exists already
                    // (`bootstrap`), and the session policy keeps the user in their prefix.
                    self.metrics.provisioned.inc();
                    tracing::info!(user_id = %row.user_id, bucket = %row.bucket, prefix = row.key_prefix(), "user given a prefix");
                    return Ok(row);
                }
                row
            }
        };
        let started = std::time::Instant::now();
        let mut row = row;
        // Each S3 step takes a slot of the global AWS gate (inside `buckets`): the keys asked
        // for meanwhile take a slot of their own without waiting on the bucket's settings.
        self.create_bucket(Owner::User(&row.user_id), &mut row.bucket, &mut row.candidate)
            .await?;
        let configure = self.buckets.configure(&row.bucket, row.user_id.as_str());
        let (configured, ()) = futures::join!(Box::pin(configure), meanwhile(row.clone()));
        configured?;
        self.store.mark_ready(&row.user_id).await?;
        row.state = ProvisionState::Ready;
        let metrics = &self.metrics;
        metrics.provisioned.inc();
        metrics.provision_seconds.observe(started.elapsed().as_secs_f64());
        tracing::info!(user_id = %row.user_id, bucket = %row.bucket, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "user provisioned");
        Ok(row)
    }

    /// `CreateBucket` for `owner`'s pending row until a name is theirs: a name another
    /// account holds (or S3 is busy with) is replaced by a fresh one, recorded before it is
    /// tried, like the first.
    async fn create_bucket(
        &self,
        owner: Owner<'_>,
        bucket: &mut BucketName,
        candidate: &mut u32,
    ) -> Result<(), ProvisionError> {
        loop {
            match self.buckets.create(bucket).await? {
                Created::Yes => return Ok(()),
                Created::QuotaExhausted => {
                    self.metrics.bucket_quota_exhausted.inc();
                    match owner {
                        Owner::User(user_id) => {
                            tracing::error!(user_id = %user_id, "CreateBucket refused: the account's bucket quota is used up (TooManyBuckets)");
                        }
                        Owner::Org(org_id) => {
                            tracing::error!(org_id = %org_id, "CreateBucket refused: the account's bucket quota is used up (TooManyBuckets)");
                        }
                    }
                    return Err(ProvisionError::BucketQuota);
                }
                taken @ (Created::TakenByOther | Created::Busy) => {
                    let next = *candidate + 1;
                    if next >= MAX_BUCKET_ATTEMPTS {
                        return Err(ProvisionError::NamesExhausted(MAX_BUCKET_ATTEMPTS));
                    }
                    // Recorded before it is created, like the first one.
                    let name = BucketName::fresh(&self.bucket_name_prefix)?;
                    let why = if matches!(taken, Created::Busy) {
                        "bucket name busy at S3 (OperationAborted)"
                    } else {
                        "bucket name taken by another account"
                    };
                    match owner {
                        Owner::User(user_id) => {
                            tracing::warn!(user_id = %user_id, taken = %bucket, next = %name, "{why}; trying a new name");
                            self.store.set_bucket(user_id, &name, next).await?;
                        }
                        Owner::Org(org_id) => {
                            tracing::warn!(org_id = %org_id, taken = %bucket, next = %name, "{why}; trying a new name");
                            self.store.set_org_bucket(org_id, &name, next).await?;
                        }
                    }
                    *bucket = name;
                    *candidate = next;
                }
            }
        }
    }
}
