//! `shared_policies`: the fenced lease on writing a shared bucket's policy, and the size of the
//! policy last written.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::identity::BucketName;
use crate::store::{PolicyLease, StoreError};

impl SqliteStore {
    pub async fn claim_policy_lease(
        &self,
        bucket: &BucketName,
        seconds: u32,
    ) -> Result<Option<PolicyLease>, StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            let token = c
                .prepare_cached(
                    "INSERT INTO shared_policies (bucket, lease_token, lease_until) VALUES (?1, 1, unixepoch() + ?2)
                     ON CONFLICT (bucket) DO UPDATE
                         SET lease_token = lease_token + 1, lease_until = excluded.lease_until
                         WHERE shared_policies.lease_until <= unixepoch()
                     RETURNING lease_token",
                )?
                .query_row(params![bucket, seconds], |r| r.get(0))
                .optional()?;
            Ok(token.map(PolicyLease))
        })
        .await
    }

    pub async fn policy_lease_held(&self, bucket: &BucketName, lease: PolicyLease) -> Result<bool, StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            let token: Option<i64> = c
                .prepare_cached("SELECT lease_token FROM shared_policies WHERE bucket = ?1")?
                .query_row([bucket], |r| r.get(0))
                .optional()?;
            Ok(token == Some(lease.0))
        })
        .await
    }

    pub async fn policy_written(
        &self,
        bucket: &BucketName,
        lease: PolicyLease,
        bytes: usize,
    ) -> Result<bool, StoreError> {
        let bucket = bucket.as_str().to_owned();
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.run(move |c| {
            let n = c
                .prepare_cached("UPDATE shared_policies SET policy_bytes = ?3 WHERE bucket = ?1 AND lease_token = ?2")?
                .execute(params![bucket, lease.0, bytes])?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn release_policy_lease(&self, bucket: &BucketName, lease: PolicyLease) -> Result<(), StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            c.prepare_cached("UPDATE shared_policies SET lease_until = 0 WHERE bucket = ?1 AND lease_token = ?2")?
                .execute(params![bucket, lease.0])?;
            Ok(())
        })
        .await
    }

    pub async fn shared_policy_bytes(&self, bucket: &BucketName) -> Result<Option<i64>, StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            Ok(
                c.prepare_cached("SELECT policy_bytes FROM shared_policies WHERE bucket = ?1")?
                    .query_row([bucket], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }
}
