//! Revoking a user in prefix mode: the cut-off goes into the shared bucket's policy, next to
//! every other user's (`buckets::shared` renders them, grouped by second, within S3's limit).
//!
//! Writes of one shared bucket's policy are serialised across the fleet by a lease in the
//! database (the one that keeps concurrent `AssumeRole`s of a user apart, on a key of its
//! own): each writer reads the cut-offs and the policy, renders and writes while it holds it.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Admin, AdminError};
use crate::buckets::{BucketError, render_shared_policy};
use crate::identity::{BucketName, TemplateId, UserId};
use crate::store::{PrefixRevocation, UserRecord};

/// The lease key's template: a name no template can have (template names are `[a-z0-9-]`).
fn policy_lease_slot() -> TemplateId {
    TemplateId::new("stsvend:bucket-policy", b"")
}
/// How long one write may hold the lease (seconds); a writer that died frees it after this.
const POLICY_LEASE_SECONDS: u32 = 30;
/// How long a revoke waits for another writer's lease before answering 503.
const POLICY_LEASE_WAIT: Duration = Duration::from_secs(35);
/// Cut-offs are kept this much longer than a session lives: clocks differ.
const EXPIRY_MARGIN: time::Duration = time::Duration::minutes(5);

impl Admin {
    /// Records `user`'s cut-off `before` and writes the shared bucket's policy with it. A
    /// revocation that cannot fit (see `buckets::shared`) is refused before anything is
    /// recorded.
    pub(super) async fn deny_on_shared(&self, user: &UserRecord, before: OffsetDateTime) -> Result<(), AdminError> {
        let bucket = &user.bucket;
        let lease_key = UserId::derive("stsvend:bucket-policy", bucket.as_str());
        self.take_policy_lease(&lease_key).await?;
        let written = self.write_shared(user, bucket, before).await;
        if let Err(e) = self.store.release_issue(&lease_key, &policy_lease_slot()).await {
            tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
        }
        written
    }

    async fn take_policy_lease(&self, key: &UserId) -> Result<(), AdminError> {
        let started = std::time::Instant::now();
        while !self
            .store
            .claim_issue(key, &policy_lease_slot(), POLICY_LEASE_SECONDS)
            .await?
        {
            if started.elapsed() > POLICY_LEASE_WAIT {
                return Err(AdminError::Bucket(BucketError::Request(
                    "another replica has been writing the shared bucket's policy for too long".to_owned(),
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn write_shared(
        &self,
        user: &UserRecord,
        bucket: &BucketName,
        before: OffsetDateTime,
    ) -> Result<(), AdminError> {
        let since = crate::clock::now() - self.session_lifetime - EXPIRY_MARGIN;
        let mut alive = self.store.prefix_revocations(bucket, since).await?;
        match alive.iter_mut().find(|r| r.user_id == user.user_id) {
            Some(r) => r.cut_off = r.cut_off.max(before),
            None => alive.push(PrefixRevocation {
                user_id: user.user_id.clone(),
                cut_off: before,
            }),
        }
        let _slot = self.gate.call("s3").await.map_err(BucketError::from)?;
        let existing = self.buckets.current_policy(bucket).await?;
        // Refused here (PolicyFull) before anything is recorded.
        let policy = render_shared_policy(existing.as_deref(), bucket, &self.tag_key, &alive)?;
        self.store.set_revoked_before(&user.user_id, before).await?;
        self.vend.forget_user(&user.user_id).await;
        self.store
            .add_prefix_revocations(bucket, std::slice::from_ref(&user.user_id), before)
            .await?;
        // Users whose cut-off moved later to make room: recorded (and their cached keys
        // dropped fleet-wide) before the policy that denies those keys is written.
        for moved in &policy.moved {
            tracing::warn!(user_id = %moved.user_id, cut_off = %crate::clock::format_time(moved.cut_off), "shared bucket policy full: revocation merged into a later one");
            self.store.set_revoked_before(&moved.user_id, moved.cut_off).await?;
            self.store
                .add_prefix_revocations(bucket, std::slice::from_ref(&moved.user_id), moved.cut_off)
                .await?;
            self.vend.forget_user(&moved.user_id).await;
        }
        self.buckets.set_policy(bucket, policy).await?;
        Ok(())
    }
}
