//! An organisation's storage, made by the first member who asks for an org template: the row
//! (pending, or ready at once in prefix mode) is written first under (issuer, claim), so every
//! request and every process sharing the database provisions the same storage; the bucket is
//! then created and locked down like a user's, owned (tagged) by the org's internal id. A
//! new organisation counts against `limits.new_users_per_minute`, as a new user does.

use std::sync::Arc;

use super::{Inner, Owner, ProvisionError, Provisioner};
use crate::identity::{BucketName, OrgClaim, OrgId, OrgPrefix};
use crate::store::{NewOrg, OrgRecord, ProvisionState, StoreError};

impl Provisioner {
    /// The organisation `claim` names at `issuer`, its storage made first when it has none.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ensure_org(&self, issuer: &str, claim: &OrgClaim) -> Result<Arc<OrgRecord>, Arc<ProvisionError>> {
        if let Some(org) = self.inner.orgs.get(claim) {
            self.inner.metrics.cache_lookup("orgs", true);
            return Ok(org);
        }
        let load = async { self.inner.load_or_provision_org(issuer, claim).await.map(Arc::new) };
        let (org, fresh) = Box::pin(self.inner.orgs.get_or_load(claim, load)).await?;
        self.inner.metrics.cache_lookup("orgs", !fresh);
        Ok(org)
    }

    /// Drops every cached organisation: after one changed. The cache is keyed by claim, which
    /// a change (naming the org id) does not carry; org changes are rare operator actions, and
    /// each org's next vend reads its row once again. A load in flight does not put the old
    /// row back (`HotCache::clear`).
    pub fn forget_orgs(&self) {
        self.inner.orgs.clear();
    }

    /// The organisation's stored mapping, without provisioning anything (`/v1/me`).
    pub async fn lookup_org(&self, issuer: &str, claim: &OrgClaim) -> Result<Option<OrgRecord>, StoreError> {
        if let Some(org) = self.inner.orgs.get(claim) {
            return Ok(Some((*org).clone()));
        }
        self.inner.store.org_by_claim(issuer, claim).await
    }
}

impl Inner {
    /// `row` when it agrees with the configuration; otherwise logged, counted and refused.
    pub(super) fn checked_org(&self, row: OrgRecord) -> Result<OrgRecord, ProvisionError> {
        match self.rules.check_org(&row) {
            Ok(()) => Ok(row),
            Err(violation) => {
                self.count_rejected(violation);
                tracing::error!(
                    org_id = %row.org_id,
                    reason = violation.label(),
                    "stored organisation mapping refused: {violation}; nothing is vended from it until the row is repaired"
                );
                Err(ProvisionError::OrgMapping {
                    org_id: row.org_id,
                    violation,
                })
            }
        }
    }

    async fn load_or_provision_org(&self, issuer: &str, claim: &OrgClaim) -> Result<OrgRecord, ProvisionError> {
        let stored = self.store.org_by_claim(issuer, claim).await?;
        let mut row = match stored.map(|r| self.checked_org(r)).transpose()? {
            // A disabled org's unfinished storage stays unfinished: no S3 call for it (the
            // caller refuses the vend with `org_disabled`).
            Some(r) if r.state == ProvisionState::Ready || r.disabled_at.is_some() => return Ok(r),
            Some(r) => {
                tracing::info!(org_id = %r.org_id, bucket = %r.bucket, "resuming interrupted organisation provisioning");
                r
            }
            None => {
                self.new_users.check().map_err(|wait| {
                    self.refused("per_minute");
                    ProvisionError::RateLimited(wait)
                })?;
                let org_id = OrgId::fresh()?;
                let (bucket, prefix) = match &self.shared {
                    Some((shared, _)) => (shared.clone(), Some(OrgPrefix::for_org(&self.org_root, &org_id)?)),
                    None => (BucketName::fresh(&self.bucket_name_prefix)?, None),
                };
                let row = self
                    .store
                    .insert_org(&NewOrg {
                        org_id: &org_id,
                        issuer,
                        claim,
                        bucket: &bucket,
                        region: &self.region,
                        prefix: prefix.as_ref(),
                    })
                    .await?;
                // The row as stored: another process may have written it first.
                let row = self.checked_org(row)?;
                if row.state == ProvisionState::Ready {
                    tracing::info!(org_id = %row.org_id, bucket = %row.bucket, prefix = row.key_prefix(), "organisation given a prefix");
                    return Ok(row);
                }
                row
            }
        };
        let started = std::time::Instant::now();
        self.create_bucket(Owner::Org(&row.org_id), &mut row.bucket, &mut row.candidate)
            .await?;
        self.buckets.configure(&row.bucket, row.org_id.as_str()).await?;
        self.store.mark_org_ready(&row.org_id).await?;
        row.state = ProvisionState::Ready;
        tracing::info!(org_id = %row.org_id, bucket = %row.bucket, elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "organisation provisioned");
        Ok(row)
    }
}
