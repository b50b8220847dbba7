//! `POST /v1/credentials`: vend short-lived keys scoped to the caller's bucket.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::ApiError;
use super::extract::Authenticated;
use crate::app::AppState;
use crate::aws::UpstreamError;
use crate::provision::ProvisionError;
use crate::store::{VendRecord, format_time};

/// The access level a vend was answered with, kept in the response for metrics.
#[derive(Clone)]
pub struct AccessLevel(pub String);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CredentialsRequest {
    access: Option<String>,
}

/// The first five fields are exactly the AWS `credential_process` format.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialsResponse {
    pub version: u8,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
    pub bucket: String,
    pub region: String,
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

#[tracing::instrument(skip_all, fields(user_id = %caller.user_id))]
pub async fn vend(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Err(wait) = state.vend_rate.check(&caller.user_id) {
        return Err(ApiError::TooManyRequests(wait.as_secs() + 1));
    }
    let body: CredentialsRequest = read_json(&req, payload, state.config.server.max_body_bytes).await?;
    let access = body.access.unwrap_or_else(|| state.config.policies.default.clone());
    let template = state.policies.get(&access).ok_or_else(|| ApiError::BadRequest {
        code: "unknown_access",
        message: format!(
            "unknown access `{}`; available: {}",
            access.escape_debug(),
            state.policies.names().collect::<Vec<_>>().join(", ")
        ),
    })?;
    let needs = state
        .config
        .policies
        .grants
        .get(template.name())
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !caller.has_any(needs) {
        return Err(ApiError::InsufficientScope(format!(
            "access `{access}` needs one of these scopes or permissions: {}",
            needs.join(", ")
        )));
    }

    let user = state.provisioner.ensure_ready(&caller).await.map_err(|e| match &*e {
        ProvisionError::Upstream(u) => upstream_error("provisioning failed", u),
        other => ApiError::internal("provisioning failed", other),
    })?;
    let vended = state
        .vendor
        .vend(&user, template)
        .await
        .map_err(|e| upstream_error("AssumeRole failed", &e))?;
    let creds = &vended.credentials;

    // Keys are handed out only once their audit row is written.
    state
        .store
        .record_vend(VendRecord {
            user_id: user.user_id.clone(),
            access_key_id: creds.access_key_id.clone(),
            template: template.name().to_owned(),
            expiration: creds.expiration,
            client_addr: req.peer_addr().map(|a| a.ip().to_string()),
            client_id: caller.client_id.clone(),
            from_cache: vended.from_cache,
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "audit write failed; credentials withheld");
            ApiError::Unavailable("the audit log")
        })?;

    let mut resp = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(CredentialsResponse {
            version: 1,
            access_key_id: creds.access_key_id.clone(),
            secret_access_key: creds.secret_access_key.clone(),
            session_token: creds.session_token.clone(),
            expiration: format_expiration(creds.expiration),
            bucket: user.bucket.to_string(),
            region: user.region.clone(),
            access: template.name().to_owned(),
            endpoint: state.config.aws.endpoint_url.clone(),
        });
    resp.extensions_mut().insert(AccessLevel(template.name().to_owned()));
    Ok(resp)
}

/// `2026-11-30T05:00:00Z`: RFC 3339 in UTC, as AWS SDKs parse it.
fn format_expiration(t: OffsetDateTime) -> String {
    format_time(t.to_offset(time::UtcOffset::UTC))
}

pub fn upstream_error(context: &str, e: &UpstreamError) -> ApiError {
    match e {
        UpstreamError::Unavailable { service, .. } => {
            tracing::warn!(error = %e, "{context}");
            ApiError::Unavailable(if *service == "sts" { "AWS STS" } else { "AWS S3" })
        }
        UpstreamError::Rejected { .. } => ApiError::internal(context, e),
    }
}

/// Reads an optional JSON body: empty means defaults; anything else must be JSON within the
/// size limit and match the request type exactly.
async fn read_json<T: for<'de> Deserialize<'de> + Default>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest {
            code: "invalid_body",
            message: "request body could not be read".to_owned(),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
        code: "invalid_body",
        message: format!("request body is not valid: {e}"),
    })
}
