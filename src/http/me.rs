//! `GET /v1/me`: the caller's mapping, without provisioning or vending.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Authenticated;
use crate::runtime::clock::format_time;
use crate::usecase::vend::Vend;

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
    Ok(HttpResponse::Ok().json(Me {
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
        }),
    }))
}
