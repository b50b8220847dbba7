//! Prefix mode in the store: the storage columns of a user's row, and the revocation cut-offs
//! a shared bucket's policy is rendered from.

use time::OffsetDateTime;

use super::{NewUser, Store, StoreError};
use crate::identity::{BucketName, UserId, UserPrefix};

/// A user's sessions issued before `cut_off` are denied on a shared bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRevocation {
    pub user_id: UserId,
    pub cut_off: OffsetDateTime,
}

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
}
