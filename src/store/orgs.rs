//! Organisations in the store: the row mapping (issuer, org claim value) to an internal org id
//! and the org's storage, written `pending` before its bucket exists (ready at once in prefix
//! mode), like a user's.

use time::OffsetDateTime;

use super::{ProvisionState, Store, StoreError};
use crate::identity::{BucketName, OrgClaim, OrgId, OrgPrefix, UserId};
use crate::policy::OrgContext;

/// An organisation's mapping.
#[derive(Debug, Clone)]
pub struct OrgRecord {
    pub org_id: OrgId,
    pub issuer: String,
    /// The claim value the org is known by at the issuer (never in a policy or an AWS name).
    pub claim: String,
    pub bucket: BucketName,
    pub candidate: u32,
    pub region: String,
    pub state: ProvisionState,
    pub created_at: OffsetDateTime,
    /// Prefix mode: the org's prefix of `bucket` (a shared bucket); `None`: the bucket is the
    /// org's own.
    pub prefix: Option<OrgPrefix>,
    /// Set while an operator has the org disabled: its templates are refused to every member.
    pub disabled_at: Option<OffsetDateTime>,
    /// Every member's sessions issued before this instant are denied on the org's storage.
    pub revoked_before: Option<OffsetDateTime>,
    /// One member's cut-off each: their sessions issued before it are denied on the org's
    /// storage (a member removed from the organisation at the issuer).
    pub members_revoked: Vec<(UserId, OffsetDateTime)>,
}

impl OrgRecord {
    /// The instant before which `user`'s sessions are denied on the org's storage, if any: the
    /// later of the org's cut-off and the member's own.
    pub fn cut_off_for(&self, user: &UserId) -> Option<OffsetDateTime> {
        let member = self.members_revoked.iter().find(|(u, _)| u == user).map(|(_, t)| *t);
        self.revoked_before.max(member)
    }

    /// `pending` (storage not made yet), `ready`, or `disabled`.
    pub fn state_label(&self) -> &'static str {
        match (self.disabled_at, self.state) {
            (Some(_), _) => "disabled",
            (None, ProvisionState::Pending) => "pending",
            (None, ProvisionState::Ready) => "ready",
        }
    }

    /// The key prefix every object of the org starts with: its prefix, or none in its own bucket.
    pub fn key_prefix(&self) -> &str {
        self.prefix.as_ref().map_or("", OrgPrefix::as_str)
    }

    /// What an org template is rendered with.
    pub fn context(&self) -> OrgContext<'_> {
        OrgContext {
            id: &self.org_id,
            bucket: &self.bucket,
            prefix: self.prefix.as_ref(),
        }
    }
}

/// What a new organisation's row starts as.
pub struct NewOrg<'a> {
    /// Drawn fresh for the row; when another process wrote the org's row first, its id stays.
    pub org_id: &'a OrgId,
    pub issuer: &'a str,
    pub claim: &'a OrgClaim,
    pub bucket: &'a BucketName,
    pub region: &'a str,
    /// Prefix mode: the org's prefix of the shared `bucket`; such a row is ready at once.
    pub prefix: Option<&'a OrgPrefix>,
}

impl NewOrg<'_> {
    /// The `mode`, `prefix` and `state` columns of the new row.
    pub(super) fn storage_columns(&self) -> (&'static str, String, &'static str) {
        match self.prefix {
            Some(p) => ("prefix", p.as_str().to_owned(), "ready"),
            None => ("bucket", String::new(), "pending"),
        }
    }
}

/// The stored `mode` and `prefix` columns of an org row, parsed.
pub(super) fn parse_org_prefix(mode: &str, prefix: &str) -> Result<Option<OrgPrefix>, StoreError> {
    match mode {
        "bucket" if prefix.is_empty() => Ok(None),
        "prefix" => OrgPrefix::parse(prefix)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        other => Err(StoreError::Corrupt(format!(
            "org storage mode `{other}` with prefix `{prefix}`"
        ))),
    }
}

impl Store {
    /// The organisation known at `issuer` by `claim`, if it has a row.
    pub async fn org_by_claim(&self, issuer: &str, claim: &OrgClaim) -> Result<Option<OrgRecord>, StoreError> {
        on_backend!(self, s => s.org_by_claim(issuer, claim.as_str()).await)
    }

    /// Inserts a new organisation's row unless (issuer, claim) has one already (written by
    /// another request or process first); returns the row either way, so every process
    /// provisions the same storage.
    pub async fn insert_org(&self, new: &NewOrg<'_>) -> Result<OrgRecord, StoreError> {
        on_backend!(self, s => s.insert_org(new).await)
    }

    /// Moves a pending organisation to another bucket-name candidate.
    pub async fn set_org_bucket(&self, org_id: &OrgId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        on_backend!(self, s => s.set_org_bucket(org_id, bucket, candidate).await)
    }

    /// Marks an organisation's storage finished.
    pub async fn mark_org_ready(&self, org_id: &OrgId) -> Result<(), StoreError> {
        on_backend!(self, s => s.mark_org_ready(org_id).await)
    }

    /// Number of organisation rows.
    pub async fn count_orgs(&self) -> Result<i64, StoreError> {
        on_backend!(self, s => s.count_orgs().await)
    }

    /// The organisation ids recorded on the vend-audit rows of access key `access_key_id`
    /// (`None` for a personal template's hand-out), oldest first.
    pub async fn orgs_of_key(&self, access_key_id: &str) -> Result<Vec<Option<String>>, StoreError> {
        on_backend!(self, s => s.orgs_of_key(access_key_id).await)
    }
}
