//! What the admin use cases answer with: a user as an operator sees one, what a delete removed,
//! and where a revocation stands.

use serde::Serialize;

use crate::runtime::clock::format_time;
use crate::store::UserRecord;

/// A user as the admin API shows one.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub issuer: String,
    pub subject: String,
    pub bucket: String,
    /// `bucket` (the user's own) or `prefix` (a prefix of a shared bucket).
    pub mode: String,
    /// The user's prefix of the shared bucket; empty in bucket mode.
    pub prefix: String,
    pub region: String,
    /// `pending` (first login not finished), `ready`, or `disabled`.
    pub state: String,
    pub created_at: String,
    pub last_vend_at: Option<String>,
    pub disabled_at: Option<String>,
    /// Sessions issued before this instant are denied on the user's bucket.
    pub sessions_revoked_before: Option<String>,
    /// In a revoke's answer only: `in_effect` once AWS refuses a session issued before the
    /// cut-off, `propagating` while the new bucket policy has not applied yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<Revocation>,
    /// In a user's detail only, when `[quota]` is on: their override, limits and usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<super::QuotaView>,
}

/// Where a revocation stands when the revoke answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    /// AWS refuses a session issued before the cut-off (or none can be alive).
    InEffect,
    /// The Deny is written, and AWS has not applied it yet: it does within moments.
    Propagating,
}

impl UserView {
    pub(super) fn new(u: &UserRecord, last_vend_at: Option<String>) -> Self {
        Self {
            user_id: u.user_id.to_string(),
            issuer: u.issuer.clone(),
            subject: u.subject.clone(),
            bucket: u.bucket.to_string(),
            mode: u.mode_label().to_owned(),
            prefix: u.key_prefix().to_owned(),
            region: u.region.clone(),
            state: u.state_label().to_owned(),
            created_at: format_time(u.created_at),
            last_vend_at,
            disabled_at: u.disabled_at.map(format_time),
            sessions_revoked_before: u.revoked_before.map(format_time),
            revocation: None,
            quota: None,
        }
    }
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub user_id: String,
    pub bucket: String,
    /// The prefix emptied (prefix mode: the shared bucket stays); empty in bucket mode.
    #[serde(default)]
    pub prefix: String,
    pub objects_deleted: u64,
    /// Unfinished multipart uploads aborted.
    pub uploads_aborted: u64,
}
