//! Revoking a user of bucket mode: the revocation statement goes into their own bucket's
//! policy under the bucket's fenced lease (`shared.rs`), as every other writer of a policy
//! stsvend shares takes it (an org's revocations, the quota Deny of `usecase::quota::deny`):
//! the policy is read only once the lease is held, so a writer never puts back a policy it
//! read before another's write and drops that one's statements.

use time::OffsetDateTime;

use super::shared::{Fenced, WRITE_ATTEMPTS};
use super::{Admin, AdminError};
use crate::aws::s3::{SharedPolicy, merge_policy, revocation_statement};
use crate::identity::{BucketName, UserId};

impl Admin {
    /// Writes the Deny of `user_id`'s sessions issued before `cut_off` into `bucket`'s
    /// policy (the user's own), keeping every other statement.
    pub(super) async fn write_own_revocation(
        &self,
        bucket: &BucketName,
        user_id: &UserId,
        cut_off: OffsetDateTime,
    ) -> Result<(), AdminError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let lease = self.take_policy_lease(bucket).await?;
            let written = async {
                let existing = self.buckets.current_policy(bucket).await?;
                let statement = revocation_statement(bucket, &self.tag_key, user_id, cut_off);
                let policy = SharedPolicy {
                    text: merge_policy(existing.as_deref(), statement)?,
                    // At least the revocation: never a policy to delete.
                    statements: 1,
                    moved: Vec::new(),
                };
                self.record_moved_and_write(bucket, policy, lease).await
            }
            .await;
            if let Err(e) = self.store.release_policy_lease(bucket, lease).await {
                tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
            }
            match written? {
                Fenced::Held => return Ok(()),
                Fenced::Lost => tracing::warn!(
                    bucket = %bucket,
                    attempt,
                    "the bucket policy's lease ran out during a revocation's write and was claimed by another writer; writing again"
                ),
            }
        }
        Err(AdminError::PolicyBusy)
    }
}
