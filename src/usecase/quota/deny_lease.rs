//! A quota sync's write of a bucket policy, under the bucket's fenced lease in the database
//! (`Store::claim_policy_lease`): the lease every writer of a policy stsvend shares takes (a
//! shared bucket's revocations, an org's, a user's own bucket's revocation). The policy is
//! read only once the lease is held, and the token is checked right before and right after
//! the write; a writer that finds it moved (its lease ran out and another claimed it) may have
//! written over the other's policy, so it renders and writes again.

use std::time::Duration;

use super::{DenyError, QuotaDeny};
use crate::aws::s3::QuotaPolicy;
use crate::identity::BucketName;
use crate::store::PolicyLease;

/// How much longer than a lease lasts a sync waits for it before giving up.
const LEASE_WAIT_MARGIN: Duration = Duration::from_secs(5);
/// Writes in a row that find their lease claimed by another writer before a sync gives up.
const WRITE_ATTEMPTS: u32 = 3;

enum Fenced {
    /// Written (or nothing to write) while nobody else claimed the lease: (owners denied,
    /// whether the policy was written).
    Held(usize, bool),
    /// Another writer claimed the lease meanwhile: render and write again.
    Lost,
}

impl QuotaDeny {
    /// Renders `bucket`'s policy from its current text with `render` and writes it if it
    /// changed, under the fenced lease: (owners denied, written).
    pub(super) async fn write_fenced(
        &self,
        bucket: &BucketName,
        render: impl Fn(Option<&str>) -> Result<QuotaPolicy, crate::aws::Error>,
    ) -> Result<(usize, bool), DenyError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let lease = self.take_lease(bucket).await?;
            let written = self.write_once(bucket, &render, lease).await;
            if let Err(e) = self.store.release_policy_lease(bucket, lease).await {
                tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
            }
            match written? {
                Fenced::Held(denied, written) => return Ok((denied, written)),
                Fenced::Lost => tracing::warn!(
                    bucket = %bucket,
                    attempt,
                    "the bucket policy's lease ran out during a quota sync and was claimed by another writer; writing again"
                ),
            }
        }
        Err(DenyError::PolicyBusy)
    }

    async fn write_once(
        &self,
        bucket: &BucketName,
        render: &impl Fn(Option<&str>) -> Result<QuotaPolicy, crate::aws::Error>,
        lease: PolicyLease,
    ) -> Result<Fenced, DenyError> {
        let existing = self.buckets.current_policy(bucket).await?;
        let rendered = render(existing.as_deref())?;
        if !rendered.changed {
            return Ok(Fenced::Held(rendered.denied, false));
        }
        if !self.store.policy_lease_held(bucket, lease).await? {
            return Ok(Fenced::Lost);
        }
        let bytes = rendered.policy.bytes();
        self.buckets.set_policy(bucket, rendered.policy).await?;
        // A write that reached S3 after a newer writer's undid it: write again.
        if !self.store.policy_written(bucket, lease, bytes).await? {
            return Ok(Fenced::Lost);
        }
        Ok(Fenced::Held(rendered.denied, true))
    }

    async fn take_lease(&self, bucket: &BucketName) -> Result<PolicyLease, DenyError> {
        let started = std::time::Instant::now();
        let wait = Duration::from_secs(u64::from(self.lease_seconds)) + LEASE_WAIT_MARGIN;
        loop {
            if let Some(lease) = self.store.claim_policy_lease(bucket, self.lease_seconds).await? {
                return Ok(lease);
            }
            if started.elapsed() > wait {
                tracing::warn!(bucket = %bucket, "another writer has held the bucket policy's lease for too long; quota statements not synced");
                return Err(DenyError::PolicyBusy);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
