//! Deleting an organisation: its storage emptied and removed (bucket mode: the bucket; prefix
//! mode: the objects under its prefix of the shared bucket, which stays), then its mapping. A
//! member's next team vend makes the org anew, with a new internal id and new storage.
//!
//! Before anything is emptied the org is disabled (no replica vends its templates any more) and
//! every member's sessions are denied on its storage, so nothing is written there while it
//! empties. Each step can be run again: a delete cut off at any point is resumed by the next.
//! In prefix mode the Deny stays in the shared bucket's policy after the org is gone: keys
//! handed out before still name the old prefix until they expire.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Admin, AdminError};
use crate::aws::s3::Emptied;
use crate::identity::OrgId;
use crate::runtime::clock::next_second;
use crate::store::{OrgRecord, ProvisionState};
use crate::usecase::error::Failure;

/// What deleting an organisation removed.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgDeleted {
    pub org_id: String,
    pub bucket: String,
    /// The prefix emptied (prefix mode: the shared bucket stays); empty in bucket mode.
    #[serde(default)]
    pub prefix: String,
    pub objects_deleted: u64,
    /// Unfinished multipart uploads aborted.
    pub uploads_aborted: u64,
}

impl Admin {
    /// Deletes the org's storage and mapping. Storage holding objects is refused unless
    /// `force`, which empties it.
    pub async fn delete_org(&self, id: &OrgId, force: bool) -> Result<OrgDeleted, Failure> {
        Ok(self.remove_org(id, force).await?)
    }

    async fn remove_org(&self, id: &OrgId, force: bool) -> Result<OrgDeleted, AdminError> {
        let org = self.load_org_checked(id).await?;
        let exists = org.prefix.is_some() || self.buckets.exists(&org.bucket).await?;
        let not_empty = || AdminError::BucketNotEmpty {
            bucket: match &org.prefix {
                Some(p) => format!("prefix {p} of bucket {}", org.bucket),
                None => format!("bucket {}", org.bucket),
            },
        };
        if exists && !force && !self.org_storage_empty(&org).await? {
            return Err(not_empty());
        }
        if org.disabled_at.is_none() {
            self.store.set_org_disabled(id, true).await?;
            self.vend.drop_cached_org(id);
        }
        if !exists {
            // Never created, or removed behind our back: nothing to protect or empty.
            tracing::warn!(org_id = %id, bucket = %org.bucket, "the organisation's bucket does not exist; deleting the organisation");
            return self.forget_org(&org, Emptied::default()).await;
        }
        if org.state == ProvisionState::Ready {
            let before = next_second(self.buckets.aws_time(&org.bucket).await?);
            self.deny_all_members(id, before).await?;
        }
        // Written between the check and the denial: still the operator's call.
        if !force && !self.org_storage_empty(&org).await? {
            return Err(not_empty());
        }
        let emptied = match &org.prefix {
            Some(prefix) => self.buckets.empty_prefix(&org.bucket, prefix.as_str()).await,
            None => self.buckets.empty_and_delete(&org.bucket).await,
        };
        let emptied = match emptied {
            Err(e) if org.state == ProvisionState::Pending && e.is_denied() => {
                // The recorded name was taken by another account first: nothing of ours.
                tracing::warn!(org_id = %id, bucket = %org.bucket, "pending organisation's bucket belongs to another account; left alone");
                Emptied::default()
            }
            other => other?,
        };
        self.forget_org(&org, emptied).await
    }

    /// Every member's sessions issued before `before` denied on the org's storage (recorded,
    /// then written into the bucket's policy).
    async fn deny_all_members(&self, id: &OrgId, before: OffsetDateTime) -> Result<(), AdminError> {
        self.store.set_org_revoked_before(id, before).await?;
        self.vend.drop_cached_org(id);
        self.write_org_policy(id).await
    }

    async fn org_storage_empty(&self, org: &OrgRecord) -> Result<bool, AdminError> {
        match self.buckets.is_empty(&org.bucket, org.key_prefix()).await {
            Err(e) if org.state == ProvisionState::Pending && e.is_denied() => Ok(true),
            other => Ok(other?),
        }
    }

    /// The last step of a delete: the row goes, and every replica's cached org with it.
    async fn forget_org(&self, org: &OrgRecord, emptied: Emptied) -> Result<OrgDeleted, AdminError> {
        self.store.delete_org(&org.org_id).await?;
        self.vend.drop_cached_org(&org.org_id);
        Ok(OrgDeleted {
            org_id: org.org_id.to_string(),
            bucket: org.bucket.to_string(),
            prefix: org.key_prefix().to_owned(),
            objects_deleted: emptied.objects,
            uploads_aborted: emptied.uploads,
        })
    }
}
