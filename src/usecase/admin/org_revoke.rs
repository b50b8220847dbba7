//! Revoking an organisation's sessions: every member's (the org's cut-off), or one member's
//! (their cut-off in the org: a member removed from the organisation at the issuer keeps
//! bearer keys until they expire otherwise). Either is denied on the org's storage alone, by a
//! bucket-policy Deny on `aws:TokenIssueTime` and a session tag (`aws::s3::org_policy`): the
//! members' own storage and every session issued from then on are unaffected.
//!
//! The cut-off is recorded first (the change feed drops the org's cached row on every replica;
//! keys made for the org are bound to its cut-offs, so none made before reaches anyone after),
//! then the policy is rendered from the database and written under the bucket's fenced lease
//! (`shared.rs`), as a shared bucket's is: in prefix mode the shared bucket's policy also holds
//! every user's revocations, and in bucket mode the lease orders concurrent org revokes.
//! The answer says `in_effect` once a session issued before the cut-off is refused on the
//! org's storage, `propagating` otherwise, as a user revoke does.

use time::OffsetDateTime;

use super::orgs::OrgView;
use super::shared::{EXPIRY_MARGIN, Fenced, WRITE_ATTEMPTS};
use super::{Admin, AdminError, Revocation};
use crate::aws::s3::{OrgRevocations, render_org_policy};
use crate::aws::sts::Credentials;
use crate::identity::{BucketName, OrgId, UserId};
use crate::runtime::clock::{next_second, sleep_until};
use crate::store::{OrgRecord, PolicyLease, ProvisionState};
use crate::usecase::error::Failure;

impl Admin {
    /// Denies on the org's storage every member's session issued up to now.
    pub async fn revoke_org(&self, id: &OrgId) -> Result<OrgView, Failure> {
        Ok(self.revoke_in_org(id, None).await?)
    }

    /// Denies on the org's storage `member`'s sessions issued up to now; their own storage
    /// and the other members are unaffected.
    pub async fn revoke_member(&self, id: &OrgId, member: &UserId) -> Result<OrgView, Failure> {
        Ok(self.revoke_in_org(id, Some(member)).await?)
    }

    async fn revoke_in_org(&self, id: &OrgId, member: Option<&UserId>) -> Result<OrgView, AdminError> {
        let org = self.load_org_checked(id).await?;
        if org.state != ProvisionState::Ready {
            // No storage yet: no session can reach it. The cut-off still binds later keys.
            let before = next_second(OffsetDateTime::now_utc());
            self.record_org_cut_off(id, member, before).await?;
            sleep_until(before).await;
            return self.org_view(id).await;
        }
        // Issued before the cut-off (taken next): the policy will refuse it.
        let probe = self.org_probe(&org, member).await;
        let before = next_second(self.buckets.aws_time(&org.bucket).await?);
        self.record_org_cut_off(id, member, before).await?;
        self.write_org_policy(id).await?;
        // No session is issued at or after the cut-off until AWS's clock reaches it.
        self.buckets.wait_for_aws_time(&org.bucket, before).await?;
        let in_effect = match &probe {
            Some(p) => {
                self.buckets
                    .wait_until_refused(&org.bucket, org.key_prefix(), p, self.revoke_wait)
                    .await
            }
            None => false,
        };
        let mut view = self.org_view(id).await?;
        view.revocation = Some(if in_effect {
            Revocation::InEffect
        } else {
            Revocation::Propagating
        });
        Ok(view)
    }

    /// Records the cut-off (every replica drops its cached org row: the change feed) and drops
    /// this replica's at once.
    async fn record_org_cut_off(
        &self,
        id: &OrgId,
        member: Option<&UserId>,
        before: OffsetDateTime,
    ) -> Result<(), AdminError> {
        let found = match member {
            Some(user) => self.store.set_member_revoked_before(id, user, before).await?,
            None => self.store.set_org_revoked_before(id, before).await?,
        };
        if !found {
            return Err(AdminError::NoSuchOrg(id.to_string()));
        }
        self.vend.drop_cached_org(id);
        Ok(())
    }

    /// A session on the org's storage issued now, never handed out: `member`'s, or for the
    /// whole org the first member the audit saw. `None` when there is none to be had (the
    /// answer is then `propagating`).
    async fn org_probe(&self, org: &OrgRecord, member: Option<&UserId>) -> Option<Credentials> {
        let user_id = match member {
            Some(u) => u.clone(),
            None => self
                .store
                .org_members(&org.org_id, 1)
                .await
                .ok()?
                .first
                .into_iter()
                .next()?,
        };
        let user = self.store.user(&user_id).await.ok()??;
        match self.vend.org_probe_session(&user, org).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(org_id = %org.org_id, error = %e, "no probe session; the revocation's effect is not checked");
                None
            }
        }
    }

    /// Writes the org's statements, rendered from its cut-offs in the database, into its
    /// bucket's policy under the fenced lease.
    pub(super) async fn write_org_policy(&self, id: &OrgId) -> Result<(), AdminError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            // Read again each time: a revocation that raced this one is in the row now.
            let org = self.load_org_checked(id).await?;
            let lease = self.take_policy_lease(&org.bucket).await?;
            let written = self.write_org_statements(&org, lease).await;
            if let Err(e) = self.store.release_policy_lease(&org.bucket, lease).await {
                tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
            }
            match written? {
                Fenced::Held => return Ok(()),
                Fenced::Lost => tracing::warn!(
                    bucket = %org.bucket,
                    attempt,
                    "the bucket policy's lease ran out during an org revocation's write and was claimed by another writer; writing again"
                ),
            }
        }
        Err(AdminError::PolicyBusy)
    }

    /// Takes a deleted org's statements out of `bucket`'s policy (a shared bucket: an org's own
    /// bucket goes with them), under the fenced lease: only for an org whose sessions nobody
    /// holds any more (`stsvend selftest`'s probe orgs, whose keys never left the run), since
    /// the Deny is what refuses a deleted org's live keys.
    pub async fn drop_org_statements(&self, bucket: &BucketName, id: &OrgId) -> Result<(), Failure> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let lease = self.take_policy_lease(bucket).await?;
            let written = async {
                let existing = self.buckets.current_policy(bucket).await?;
                let none = OrgRevocations {
                    org_id: id,
                    prefix: None,
                    user_tag_key: &self.tag_key,
                    all_before: None,
                    members: &[],
                };
                let policy = render_org_policy(existing.as_deref(), bucket, &none)?;
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
                    "the bucket policy's lease was claimed by another writer while a deleted org's statements were removed; writing again"
                ),
            }
        }
        Err(AdminError::PolicyBusy.into())
    }

    async fn write_org_statements(&self, org: &OrgRecord, lease: PolicyLease) -> Result<Fenced, AdminError> {
        let existing = self.buckets.current_policy(&org.bucket).await?;
        // Read after the bucket's policy, so a stall in between leaves nothing out.
        let org = self.load_org(&org.org_id).await?;
        let since = crate::runtime::clock::now() - self.session_lifetime - EXPIRY_MARGIN;
        let members: Vec<(UserId, OffsetDateTime)> = org
            .members_revoked
            .iter()
            .filter(|(_, at)| *at > since)
            .cloned()
            .collect();
        let revocations = OrgRevocations {
            org_id: &org.org_id,
            prefix: org.prefix.as_ref().map(crate::identity::OrgPrefix::as_str),
            user_tag_key: &self.tag_key,
            all_before: org.revoked_before.filter(|at| *at > since),
            members: &members,
        };
        let policy = render_org_policy(existing.as_deref(), &org.bucket, &revocations)?;
        self.record_moved_and_write(&org.bucket, policy, lease).await
    }
}
