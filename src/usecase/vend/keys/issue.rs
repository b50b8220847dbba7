//! A cache miss, fleet-wide: the keys another replica published (sealed, in the database)
//! when usable, else one `AssumeRole` under the fleet's lease on (user, template), published
//! sealed for the others; mid-revocation, never keys AWS dated before the user's cut-off.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{Issued, KeyCache, KeysError};
use crate::aws::sts::Credentials;
use crate::identity::TemplateId;
use crate::policy::{SessionClaims, Template};
use crate::store::{OrgRecord, Spilled, UserRecord};
use crate::usecase::vend::seal::Binding;

/// What one set of keys is issued for: the user, their organisation (org templates), the
/// template, and the identity the keys are shared, leased and sealed under.
pub(super) struct Target<'a> {
    pub(super) user: &'a UserRecord,
    pub(super) org: Option<&'a OrgRecord>,
    pub(super) template: &'a Template,
    /// The template's identity, or for an org template the org-bound one (made per call);
    /// borrowed on the personal warm path, which then allocates nothing for it. Bound to
    /// `claims` as well when there are any.
    pub(super) id: Cow<'a, TemplateId>,
    /// The token's claim values the policy and tags are made with.
    pub(super) claims: &'a SessionClaims,
}

/// How often a replica waiting for another's keys looks for them.
const SHARED_POLL: Duration = Duration::from_millis(25);
/// Mid-revocation: the longest wait for the cut-off before asking STS, and between attempts.
const MAX_CUT_OFF_WAIT: time::Duration = time::Duration::seconds(2);
/// Mid-revocation: `AssumeRole` calls before giving up on keys dated after the cut-off (503).
const CUT_OFF_ATTEMPTS: u32 = 3;

impl KeyCache {
    /// A cache miss: the fleet's keys when there are usable ones, else `AssumeRole` (by this
    /// process, or by the one holding the lease).
    pub(super) async fn load(&self, target: &Target<'_>, called_sts: &AtomicBool) -> Result<Arc<Issued>, KeysError> {
        let user = target.user;
        if let Some(c) = self.shared(target).await {
            return Ok(Arc::new(Issued::new(c, user)));
        }
        let lease = u32::try_from(self.lease.as_secs()).unwrap_or(u32::MAX).max(1);
        let claimed = match self.store.claim_issue(&user.user_id, &target.id, lease).await {
            Ok(claimed) => claimed,
            // The database is down: keys from STS still serve this user.
            Err(e) => {
                tracing::warn!(error = %e, "taking the issue lease failed; asking STS");
                true
            }
        };
        if claimed {
            // The lease's previous holder may have published and released it between the
            // look above and the claim: its keys are there now.
            if let Some(c) = self.shared(target).await {
                self.release(target).await;
                return Ok(Arc::new(Issued::new(c, user)));
            }
        } else {
            // Another process is asking STS for these keys: wait for them to appear.
            let deadline = Instant::now() + self.lease;
            while Instant::now() < deadline {
                tokio::time::sleep(SHARED_POLL).await;
                if let Some(c) = self.shared(target).await {
                    return Ok(Arc::new(Issued::new(c, user)));
                }
            }
            tracing::warn!(user_id = %user.user_id, "the issue lease's holder never published; asking STS");
        }
        called_sts.store(true, Ordering::Relaxed);
        let credentials = match self.assume_after_cut_off(target).await {
            Ok(c) => c,
            Err(e) => {
                if claimed {
                    self.release(target).await;
                }
                return Err(e);
            }
        };
        if let Some(sealed) = self.sealer.seal(&binding(target), &credentials) {
            let published = self
                .store
                .publish_issued(Spilled {
                    user_id: user.user_id.clone(),
                    template: target.id.as_ref().clone(),
                    expires_at: credentials.expiration.unix_timestamp(),
                    sealed,
                })
                .await;
            if let Err(e) = published {
                // Only sharing is lost: other processes ask STS for their own.
                tracing::warn!(error = %e, "publishing issued keys failed");
            }
        }
        Ok(Arc::new(Issued::new(credentials, user)))
    }

    /// `AssumeRole`; mid-revocation (of the user, or of the org for them), keys AWS issued
    /// before the cut-off (by AWS's clock, which
    /// stamps them) would be denied by the bucket policy, so they are asked for again once the
    /// cut-off has passed, and never handed out.
    async fn assume_after_cut_off(&self, target: &Target<'_>) -> Result<Credentials, KeysError> {
        let (user, org, template) = (target.user, target.org, target.template);
        let cut_off = super::cut_off(user, org);
        if let Some(cut_off) = cut_off {
            // By this host's clock first (AWS's agrees within a second or so): saves a call.
            let bounded = cut_off.min(OffsetDateTime::now_utc() + MAX_CUT_OFF_WAIT);
            crate::runtime::clock::sleep_until(bounded).await;
        }
        for _ in 0..CUT_OFF_ATTEMPTS {
            let credentials = self
                .sts
                .assume_role(user.into(), org.map(OrgRecord::context), template, target.claims)
                .await?;
            let issued = credentials.expiration - self.sts.session_duration();
            match cut_off {
                Some(cut_off) if issued < cut_off => {
                    let wait = std::time::Duration::try_from(cut_off - issued).unwrap_or_default();
                    tokio::time::sleep(wait.min(MAX_CUT_OFF_WAIT.unsigned_abs())).await;
                }
                _ => return Ok(credentials),
            }
        }
        Err(KeysError::IssuedBeforeCutOff)
    }

    /// Gives up the issue lease (best effort: it expires anyway).
    async fn release(&self, target: &Target<'_>) {
        if let Err(e) = self.store.release_issue(&target.user.user_id, &target.id).await {
            tracing::debug!(error = %e, "releasing the issue lease failed; it expires");
        }
    }

    /// Usable keys for the target that some process published, if any.
    async fn shared(&self, target: &Target<'_>) -> Option<Credentials> {
        match self.store.spilled(&target.user.user_id, &target.id).await {
            Ok(Some(row)) => {
                let expiration = OffsetDateTime::from_unix_timestamp(row.expires_at).ok()?;
                self.sealer
                    .open(&binding(target), expiration, &row.sealed)
                    .filter(|c| self.usable(target.user, target.org, c))
            }
            Ok(None) => None,
            // Sharing is an optimisation: without it, ask STS.
            Err(e) => {
                tracing::warn!(error = %e, "reading shared credentials failed");
                None
            }
        }
    }
}

/// What keys issued for `target` are sealed for: the user, the session's identity, and the
/// storage the policy was rendered for (the organisation's too).
fn binding<'a>(target: &'a Target<'_>) -> Binding<'a> {
    Binding {
        user_id: &target.user.user_id,
        template: &target.id,
        bucket: &target.user.bucket,
        prefix: target.user.prefix.as_ref(),
        org: target.org.map(OrgRecord::context),
    }
}
