//! What operators do to organisations: list and look them up, the members the vend audit
//! saw, and the state changes (disable, revoke all members or one, delete). Each state change
//! appends the org to the change feed in its own transaction, so every process drops what it
//! cached about the org (`vend::coherence`).

use time::OffsetDateTime;

use super::{OrgRecord, Store, StoreError};
use crate::identity::{OrgId, UserId};

/// Which organisations to list: a page in org-id order.
pub struct OrgQuery {
    /// The start of an org id, or any part of the claim value; `None`: every org.
    pub search: Option<String>,
    /// The last org id of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

/// The members an org's vend-audit rows name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembers {
    /// Distinct users ever handed keys of an org template of this org.
    pub count: i64,
    /// The first of them in user-id order.
    pub first: Vec<UserId>,
}

impl Store {
    /// The organisation with internal id `org_id`, if it has a row.
    pub async fn org(&self, org_id: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        on_backend!(self, s => s.org(org_id).await)
    }

    /// Orgs matching `q`, each with its last hand-out time.
    pub async fn list_orgs(&self, q: OrgQuery) -> Result<Vec<(OrgRecord, Option<String>)>, StoreError> {
        on_backend!(self, s => s.list_orgs(q).await)
    }

    /// The org's most recent hand-out time (any member).
    pub async fn org_last_vend(&self, org_id: &OrgId) -> Result<Option<String>, StoreError> {
        on_backend!(self, s => s.org_last_vend(org_id).await)
    }

    /// How many members the vend audit saw, and the first `limit` of them.
    pub async fn org_members(&self, org_id: &OrgId, limit: u32) -> Result<OrgMembers, StoreError> {
        on_backend!(self, s => s.org_members(org_id, limit).await)
    }

    /// Sets or clears the org's `disabled_at`; false when there is no such org.
    pub async fn set_org_disabled(&self, org_id: &OrgId, disabled: bool) -> Result<bool, StoreError> {
        on_backend!(self, s => s.set_org_disabled(org_id, disabled).await)
    }

    /// Moves every member's cut-off on the org's storage to `before`, unless a later one is
    /// set; false when there is no such org.
    pub async fn set_org_revoked_before(&self, org_id: &OrgId, before: OffsetDateTime) -> Result<bool, StoreError> {
        on_backend!(self, s => s.set_org_revoked_before(org_id, before).await)
    }

    /// Moves one member's cut-off on the org's storage to `before`, unless a later one is set;
    /// false when there is no such org.
    pub async fn set_member_revoked_before(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        on_backend!(self, s => s.set_member_revoked_before(org_id, user_id, before).await)
    }

    /// Moves the org's row to the deleted orgs (the vend audit keeps its rows); a member's next
    /// team vend makes the org anew, with a new id and new storage.
    pub async fn delete_org(&self, org_id: &OrgId) -> Result<bool, StoreError> {
        on_backend!(self, s => s.delete_org(org_id).await)
    }
}
