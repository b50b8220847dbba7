//! `GET /v1/me`: the caller's mapping, without provisioning or vending.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Authenticated;
use crate::runtime::clock::format_time;
use crate::usecase::quota::limits::Report;
use crate::usecase::vend::{Vend, warning_header};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    user_id: String,
    bucket: String,
    /// `bucket` (the bucket is the caller's own) or `prefix` (a prefix of a shared bucket).
    mode: &'static str,
    /// Every key of the caller's starts with it; empty in bucket mode.
    prefix: String,
    region: String,
    created_at: String,
    /// `pending`, `ready` or `disabled`.
    state: &'static str,
    /// The caller's organisation, when the token names a valid one (`[orgs]`) and its storage
    /// exists (the first vend of an org template makes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<MeOrg>,
    /// The caller's storage use against their quota (`[quota]`; omitted when quotas are off).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<MeUsage>,
    /// Present when the caller's storage, or their organisation's, is at or over 90% of a
    /// quota limit: as the `X-Stsvend-Quota-Warning` header (`user bytes=93%, org objects=90%`).
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_warning: Option<String>,
}

/// Storage use against a quota: `limit_*` null when unlimited; `as_of` the newest event or
/// listing counted (RFC 3339).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeUsage {
    bytes: i64,
    objects: i64,
    limit_bytes: Option<u64>,
    limit_objects: Option<u64>,
    as_of: String,
}

impl From<&Report> for MeUsage {
    fn from(r: &Report) -> Self {
        Self {
            bytes: r.usage.bytes,
            objects: r.usage.objects,
            limit_bytes: r.limits.bytes,
            limit_objects: r.limits.objects,
            as_of: format_time(r.as_of),
        }
    }
}

/// An organisation as `/v1/me` shows it: the internal id (never the claim) and its storage.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeOrg {
    org_id: String,
    bucket: String,
    /// `bucket` (the org's own) or `prefix` (a prefix of the shared bucket).
    mode: &'static str,
    /// Every key of the org's starts with it; empty in bucket mode.
    prefix: String,
    /// `pending`, `ready`, or `disabled` (an operator disabled the organisation: its team
    /// templates answer 403 `org_disabled`).
    state: &'static str,
    /// The organisation's storage use against its quota (`[quota]`; omitted when off).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<MeUsage>,
}

#[utoipa::path(get, path = "/v1/me", tag = "credentials",
    responses(
        (status = 200, description = "The caller's bucket mapping", body = Me),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "The token lacks a claim `auth.required_claims` names (`required_claim_missing`)", body = super::error::ErrorBody),
        (status = 404, description = "No bucket yet (the first vend creates it)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
pub async fn me(Authenticated(caller): Authenticated, vend: web::Data<Vend>) -> Result<HttpResponse, ApiError> {
    let row = vend.mapping(&caller).await?;
    let org = vend.org_mapping(&caller).await?;
    let usage = vend.usage_of(&row, org.as_ref()).await?;
    let (own, org_usage) = match &usage {
        Some((own, org)) => (Some(own), org.as_ref()),
        None => (None, None),
    };
    let reports: Vec<Report> = own.into_iter().chain(org_usage).cloned().collect();
    Ok(HttpResponse::Ok().json(Me {
        usage: own.map(MeUsage::from),
        quota_warning: warning_header(&reports),
        state: row.state_label(),
        user_id: row.user_id.to_string(),
        bucket: row.bucket.to_string(),
        mode: row.mode_label(),
        prefix: row.key_prefix().to_owned(),
        region: row.region,
        created_at: format_time(row.created_at),
        org: org.map(|o| MeOrg {
            org_id: o.org_id.to_string(),
            bucket: o.bucket.to_string(),
            mode: if o.prefix.is_some() { "prefix" } else { "bucket" },
            prefix: o.key_prefix().to_owned(),
            state: o.state_label(),
            usage: org_usage.map(MeUsage::from),
        }),
    }))
}
