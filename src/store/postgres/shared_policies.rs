//! `shared_policies`: the fenced lease on writing a shared bucket's policy, and the size of the
//! policy last written.

use super::PgStore;
use crate::identity::BucketName;
use crate::store::{PolicyLease, StoreError};

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl PgStore {
    pub async fn claim_policy_lease(
        &self,
        bucket: &BucketName,
        seconds: u32,
    ) -> Result<Option<PolicyLease>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO shared_policies (bucket, lease_token, lease_until) VALUES ($1, 1, $2::BIGINT + $3::BIGINT)
                 ON CONFLICT (bucket) DO UPDATE
                     SET lease_token = shared_policies.lease_token + 1, lease_until = EXCLUDED.lease_until
                     WHERE shared_policies.lease_until <= $2
                 RETURNING lease_token",
            )
            .await?;
        let row = c
            .query_opt(&stmt, &[&bucket.as_str(), &unix_now(), &i64::from(seconds)])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.map(PolicyLease))
    }

    pub async fn policy_lease_held(&self, bucket: &BucketName, lease: PolicyLease) -> Result<bool, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT lease_token FROM shared_policies WHERE bucket = $1",
                &[&bucket.as_str()],
            )
            .await?;
        let token: Option<i64> = row.map(|r| r.try_get(0)).transpose()?;
        Ok(token == Some(lease.0))
    }

    pub async fn policy_written(
        &self,
        bucket: &BucketName,
        lease: PolicyLease,
        bytes: usize,
    ) -> Result<bool, StoreError> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE shared_policies SET policy_bytes = $3 WHERE bucket = $1 AND lease_token = $2",
                &[&bucket.as_str(), &lease.0, &bytes],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn release_policy_lease(&self, bucket: &BucketName, lease: PolicyLease) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE shared_policies SET lease_until = 0 WHERE bucket = $1 AND lease_token = $2",
                &[&bucket.as_str(), &lease.0],
            )
            .await?;
        Ok(())
    }

    pub async fn shared_policy_bytes(&self, bucket: &BucketName) -> Result<Option<i64>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT policy_bytes FROM shared_policies WHERE bucket = $1",
                &[&bucket.as_str()],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }
}
