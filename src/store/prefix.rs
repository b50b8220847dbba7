//! Prefix mode in the store: the storage columns of a user's row, the revocation cut-offs a
//! shared bucket's policy is rendered from, and the fenced lease on writing that policy.

use time::OffsetDateTime;

use super::{NewUser, Store, StoreError};
use crate::identity::{BucketName, UserId, UserPrefix};

pub use crate::identity::PrefixRevocation;

/// What the audit says about one user's sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserActivity {
    /// The latest first hand-out of keys, or the latest pre-signed URL, to the user.
    pub last_hand_out: Option<OffsetDateTime>,
    /// When the last session handed to the user (keys, or a URL signed with them) stops
    /// working; `None`: nothing was ever handed to them.
    pub sessions_until: Option<OffsetDateTime>,
}

/// The later of two optional instants.
pub(super) fn latest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    a.max(b)
}

/// One claim of a shared bucket's policy lease: its fencing token. Every claim bumps the
/// bucket's token, so a holder whose token is no longer the bucket's knows another writer has
/// claimed the lease since (its own ran out meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyLease(pub i64);

/// The `mode`, `prefix` and `state` columns of a new user's row: a prefix-mode user is ready
/// at once (there is nothing to create).
pub(super) fn storage_columns(new: &NewUser<'_>) -> (&'static str, String, &'static str) {
    match new.prefix {
        Some(p) => ("prefix", p.as_str().to_owned(), "ready"),
        None => ("bucket", String::new(), "pending"),
    }
}

/// The stored `mode` and `prefix` columns, parsed.
pub(super) fn parse_prefix(mode: &str, prefix: &str) -> Result<Option<UserPrefix>, StoreError> {
    match mode {
        "bucket" if prefix.is_empty() => Ok(None),
        "prefix" => UserPrefix::parse(prefix)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        other => Err(StoreError::Corrupt(format!(
            "storage mode `{other}` with prefix `{prefix}`"
        ))),
    }
}

impl Store {
    /// Records that `users`' sessions issued before `cut_off` are denied on `bucket` (a later
    /// cut-off already recorded for a user stays).
    pub async fn add_prefix_revocations(
        &self,
        bucket: &BucketName,
        users: &[UserId],
        cut_off: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.add_prefix_revocations(bucket, users, cut_off).await,
            Store::Postgres(s) => s.add_prefix_revocations(bucket, users, cut_off).await,
        }
    }

    /// Forgets `users`' cut-offs on `bucket`: for users deleted whose sessions nobody holds
    /// (`stsvend selftest`'s probes), so the next policy written leaves them out.
    pub async fn remove_prefix_revocations(&self, bucket: &BucketName, users: &[UserId]) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.remove_prefix_revocations(bucket, users).await,
            Store::Postgres(s) => s.remove_prefix_revocations(bucket, users).await,
        }
    }

    /// The cut-offs recorded for `bucket`, oldest first, after dropping those before `since`
    /// (no session issued then is still alive).
    pub async fn prefix_revocations(
        &self,
        bucket: &BucketName,
        since: OffsetDateTime,
    ) -> Result<Vec<PrefixRevocation>, StoreError> {
        match self {
            Store::Sqlite(s) => s.prefix_revocations(bucket, since).await,
            Store::Postgres(s) => s.prefix_revocations(bucket, since).await,
        }
    }

    /// Takes the lease on writing `bucket`'s policy for `seconds`, unless another holds it;
    /// `None` then.
    pub async fn claim_policy_lease(
        &self,
        bucket: &BucketName,
        seconds: u32,
    ) -> Result<Option<PolicyLease>, StoreError> {
        match self {
            Store::Sqlite(s) => s.claim_policy_lease(bucket, seconds).await,
            Store::Postgres(s) => s.claim_policy_lease(bucket, seconds).await,
        }
    }

    /// True while nobody has claimed `bucket`'s policy lease since `lease` (expired or not).
    pub async fn policy_lease_held(&self, bucket: &BucketName, lease: PolicyLease) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.policy_lease_held(bucket, lease).await,
            Store::Postgres(s) => s.policy_lease_held(bucket, lease).await,
        }
    }

    /// Records that the policy written under `lease` is `bytes` long, if nobody has claimed the
    /// lease since; false (nothing recorded) if somebody has.
    pub async fn policy_written(
        &self,
        bucket: &BucketName,
        lease: PolicyLease,
        bytes: usize,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.policy_written(bucket, lease, bytes).await,
            Store::Postgres(s) => s.policy_written(bucket, lease, bytes).await,
        }
    }

    /// Frees `bucket`'s policy lease if `lease` is still its latest claim.
    pub async fn release_policy_lease(&self, bucket: &BucketName, lease: PolicyLease) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.release_policy_lease(bucket, lease).await,
            Store::Postgres(s) => s.release_policy_lease(bucket, lease).await,
        }
    }

    /// The size of the policy last written to `bucket` by stsvend; `None` before the first.
    pub async fn shared_policy_bytes(&self, bucket: &BucketName) -> Result<Option<i64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.shared_policy_bytes(bucket).await,
            Store::Postgres(s) => s.shared_policy_bytes(bucket).await,
        }
    }

    /// What the audit says about `user_id`'s sessions: nothing reaches a party (keys or a URL)
    /// before its audit row is committed, so a session the audit does not know of was never
    /// handed out.
    pub async fn user_activity(&self, user_id: &UserId) -> Result<UserActivity, StoreError> {
        match self {
            Store::Sqlite(s) => s.user_activity(user_id).await,
            Store::Postgres(s) => s.user_activity(user_id).await,
        }
    }
}
