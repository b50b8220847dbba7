//! What an operator can do to one organisation, shared by the admin API and `stsvend orgs`:
//! list and search, look up (with the members the vend audit saw), disable and enable. Every
//! state change goes through the store's change feed, so every replica drops its cached org
//! row and (bound to the row's cut-offs) the keys made for it; this replica drops its own at
//! once.

use serde::Serialize;

use super::{Admin, AdminError, MAX_PAGE};
use crate::identity::{OrgId, UserId};
use crate::runtime::clock::format_time;
use crate::store::{OrgMembers, OrgQuery, OrgRecord};
use crate::usecase::error::Failure;

use super::views::Revocation;

/// Members listed in an org's detail, at most (`members_seen.count` says how many there are).
pub const MEMBERS_SHOWN: u32 = 100;

pub fn parse_org_id(s: &str) -> Result<OrgId, Failure> {
    OrgId::parse(s).map_err(|_| AdminError::BadOrgId(s.chars().take(64).collect()).into())
}

/// An organisation as the admin API shows one.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgView {
    pub org_id: String,
    pub issuer: String,
    /// The value of the org claim the organisation is known by at the issuer.
    pub claim: String,
    pub bucket: String,
    /// `bucket` (the org's own) or `prefix` (a prefix of the shared bucket).
    pub mode: String,
    /// The org's prefix of the shared bucket; empty in bucket mode.
    pub prefix: String,
    pub region: String,
    /// `pending` (storage not made yet), `ready`, or `disabled`.
    pub state: String,
    pub created_at: String,
    pub last_vend_at: Option<String>,
    pub disabled_at: Option<String>,
    /// Every member's sessions issued before this instant are denied on the org's storage.
    pub sessions_revoked_before: Option<String>,
    /// Members whose own cut-off on the org's storage is set.
    pub members_revoked: Vec<MemberRevoked>,
    /// In an org's detail only: the members the vend audit saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members_seen: Option<MembersSeen>,
    /// In a revoke's answer only (as for a user's revoke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
    /// In an org's detail only, when `[quota]` is on: its override, limits and usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<super::QuotaView>,
}

/// One member's cut-off on the org's storage.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MemberRevoked {
    pub user_id: String,
    /// The member's sessions issued before this instant are denied on the org's storage.
    pub sessions_revoked_before: String,
}

/// The members of an organisation the vend audit saw (users handed keys of its templates).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MembersSeen {
    pub count: i64,
    /// The first of them, in user-id order (at most 100).
    pub user_ids: Vec<String>,
}

impl OrgView {
    fn new(o: &OrgRecord, last_vend_at: Option<String>) -> Self {
        Self {
            org_id: o.org_id.to_string(),
            issuer: o.issuer.clone(),
            claim: o.claim.clone(),
            bucket: o.bucket.to_string(),
            mode: if o.prefix.is_some() { "prefix" } else { "bucket" }.to_owned(),
            prefix: o.key_prefix().to_owned(),
            region: o.region.clone(),
            state: o.state_label().to_owned(),
            created_at: format_time(o.created_at),
            last_vend_at,
            disabled_at: o.disabled_at.map(format_time),
            sessions_revoked_before: o.revoked_before.map(format_time),
            members_revoked: o
                .members_revoked
                .iter()
                .map(|(u, t)| MemberRevoked {
                    user_id: u.to_string(),
                    sessions_revoked_before: format_time(*t),
                })
                .collect(),
            members_seen: None,
            revocation: None,
            quota: None,
        }
    }
}

impl From<OrgMembers> for MembersSeen {
    fn from(m: OrgMembers) -> Self {
        Self {
            count: m.count,
            user_ids: m.first.iter().map(UserId::to_string).collect(),
        }
    }
}

impl Admin {
    /// A page of at most `limit` orgs in org-id order, after `after`; `search` matches the start
    /// of an org id or any part of the claim value.
    pub async fn list_orgs(
        &self,
        search: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<OrgView>, Failure> {
        let query = OrgQuery {
            search,
            after,
            limit: limit.min(MAX_PAGE),
        };
        let rows = self.store.list_orgs(query).await.map_err(AdminError::from)?;
        Ok(rows.iter().map(|(o, last)| OrgView::new(o, last.clone())).collect())
    }

    /// One org, with the members the vend audit saw.
    pub async fn show_org(&self, id: &OrgId) -> Result<OrgView, Failure> {
        Ok(Box::pin(self.org_view(id)).await?)
    }

    pub(super) async fn load_org(&self, id: &OrgId) -> Result<OrgRecord, AdminError> {
        self.store
            .org(id)
            .await?
            .ok_or_else(|| AdminError::NoSuchOrg(id.to_string()))
    }

    /// The org's row, refused when it breaks the configuration (see `Admin::load_checked`):
    /// for revoke and delete, which act on the storage it names.
    pub(super) async fn load_org_checked(&self, id: &OrgId) -> Result<OrgRecord, AdminError> {
        let row = self.load_org(id).await?;
        Ok(self.vend.provisioner().check_org(row)?)
    }

    pub(super) async fn org_view(&self, id: &OrgId) -> Result<OrgView, AdminError> {
        let org = self.load_org(id).await?;
        let last = self.store.org_last_vend(id).await?;
        let members = self.store.org_members(id, MEMBERS_SHOWN).await?;
        let mut view = OrgView::new(&org, last);
        view.members_seen = Some(members.into());
        // Boxed: the ledger read would make every admin route's future large.
        view.quota = Box::pin(self.quota_view(&crate::identity::OwnerStorage {
            owner: crate::identity::Owner::Org(*id),
            bucket: org.bucket.clone(),
            prefix: org.key_prefix().to_owned(),
        }))
        .await?;
        Ok(view)
    }

    /// A disabled org's templates answer 403 `org_disabled` to every member, on every replica
    /// (through the change feed); personal templates keep working. Keys already handed out stay
    /// valid until they expire: revoke for that.
    pub async fn set_org_disabled(&self, id: &OrgId, disabled: bool) -> Result<OrgView, Failure> {
        if !self
            .store
            .set_org_disabled(id, disabled)
            .await
            .map_err(AdminError::from)?
        {
            return Err(AdminError::NoSuchOrg(id.to_string()).into());
        }
        self.vend.drop_cached_org(id);
        self.show_org(id).await
    }
}
