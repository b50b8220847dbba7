//! `POST /v1/credentials`: vend short-lived keys scoped to the caller's bucket.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, invalid_query};
use super::extract::Authenticated;
use super::{Endpoint, MaxBody, TrustedProxies};
use crate::runtime::clock::format_time;
use crate::usecase::Failure;
use crate::usecase::vend::{Handout, Vend};

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// Template name, e.g. `read-only`; default: the configured one.
    access: Option<String>,
}

/// The first five fields are exactly the AWS `credential_process` format.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialsResponse {
    pub version: u8,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
    pub bucket: String,
    /// Where the caller's objects go: every key starts with it. Empty when the bucket is the
    /// caller's own (bucket mode); `<root>/<user id>/` in a shared bucket (prefix mode).
    /// Always sent; read as empty when absent (from a server before prefix mode).
    #[serde(default)]
    #[schema(required = true)]
    pub prefix: String,
    pub region: String,
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Org templates only: the organisation's bucket (the shared one in prefix mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_bucket: Option<String>,
    /// Org templates only: where the organisation's objects go (empty when the bucket is the
    /// organisation's own; `<org root>/<org id>/` in a shared bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_prefix: Option<String>,
}

/// `GET /v1/credentials/container`: the AWS container-credentials format, so an SDK pointed
/// here by `AWS_CONTAINER_CREDENTIALS_FULL_URI` (with the bearer token in
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`) refreshes keys by itself.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    pub expiration: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContainerQuery {
    access: Option<String>,
}

#[utoipa::path(post, path = "/v1/credentials", tag = "credentials",
    request_body(content = Option<CredentialsRequest>, description = "Optional; `access` names a template (default: the configured one)"),
    responses(
        (status = 200, description = "Keys scoped to the caller's bucket; the first five fields are the `credential_process` format", body = CredentialsResponse,
            headers(("X-Stsvend-Quota-Warning" = String, description = "Present when an owner the keys write to is at or over 90% of a quota limit: `user bytes=93%`, `org objects=90%` (comma-separated)"))),
        (status = 400, description = "Malformed body or unknown access", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope for this access, or the user is disabled; an org template asked for without an organisation in the token (`org_required`), or an organisation claim that fails `orgs.id_pattern`, or a `[policies.claims]` claim the template or a session tag needs missing or failing its pattern (`claim_invalid`); the template can write to storage whose owner is at or over a quota limit (`quota_exceeded`, `details`: `owner` (`user` or `org`) and `usage` {bytes, objects, limit_bytes, limit_objects, as_of})", body = super::error::ErrorBody),
        (status = 409, description = "The user's storage is a prefix and this access has no prefix-mode template (`access_unavailable_in_prefix_mode`)", body = super::error::ErrorBody),
        (status = 429, description = "Vend rate exceeded, or a first login beyond the new-user rate or daily limit (`rate_limited`, `provisioning_rate_limited`, `new_user_limit_reached`; Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "AWS, the issuer or the audit log unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn vend(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    vend: web::Data<Vend>,
    proxies: web::Data<TrustedProxies>,
    max_body: web::Data<MaxBody>,
    endpoint: web::Data<Endpoint>,
) -> Result<HttpResponse, ApiError> {
    let body: CredentialsRequest = read_json(&req, payload, max_body.0).await?;
    let client = proxies.client_of(&req);
    let h = vend.hand_out(&caller, body.access.as_deref(), client).await?;
    // Everything in the body is fixed for a cache entry: serialized once, then reused.
    let body = h.issued.body_or_init(|| {
        serde_json::to_vec(&CredentialsResponse::new(&h, endpoint.0.as_deref()))
            .map(Into::into)
            .map_err(|e| Failure::internal("response body", &e))
    })?;
    Ok(with_quota_warning(no_store(), &h)
        .content_type(HeaderValue::from_static("application/json"))
        .body(body))
}

#[utoipa::path(get, path = "/v1/credentials/container", tag = "credentials",
    params(("access" = Option<String>, Query, description = "Template name (default: the configured one)")),
    responses(
        (status = 200, description = "AWS container-credentials format", body = ContainerCredentials,
            headers(("X-Stsvend-Quota-Warning" = String, description = "As for POST /v1/credentials"))),
        (status = 400, description = "Unknown access or query", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope, or the user is disabled; `org_required`, `claim_invalid`, `quota_exceeded` as for POST /v1/credentials", body = super::error::ErrorBody),
        (status = 409, description = "The user's storage is a prefix and this access has no prefix-mode template (`access_unavailable_in_prefix_mode`)", body = super::error::ErrorBody),
        (status = 429, description = "Vend rate exceeded, or a first login beyond the new-user rate or daily limit (`rate_limited`, `provisioning_rate_limited`, `new_user_limit_reached`; Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "Upstream unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn container(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    query: Result<web::Query<ContainerQuery>, actix_web::Error>,
    vend: web::Data<Vend>,
    proxies: web::Data<TrustedProxies>,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|e| invalid_query(&e))?;
    let client = proxies.client_of(&req);
    let h = vend.hand_out(&caller, query.access.as_deref(), client).await?;
    let creds = &h.issued.credentials;
    Ok(with_quota_warning(no_store(), &h).json(ContainerCredentials {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: creds.secret_access_key().to_owned(),
        token: creds.session_token(),
        expiration: format_time(creds.expiration),
    }))
}

impl CredentialsResponse {
    fn new(h: &Handout<'_>, endpoint: Option<&str>) -> Self {
        let creds = &h.issued.credentials;
        Self {
            version: 1,
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: creds.secret_access_key().to_owned(),
            session_token: creds.session_token(),
            expiration: format_time(creds.expiration),
            bucket: h.user.bucket.to_string(),
            prefix: h.user.key_prefix().to_owned(),
            region: h.user.region.clone(),
            access: h.template.access().to_owned(),
            endpoint: endpoint.map(str::to_owned),
            org_bucket: h.org.as_ref().map(|o| o.bucket.to_string()),
            org_prefix: h.org.as_ref().map(|o| o.key_prefix().to_owned()),
        }
    }
}

/// The warning header's name: present when an owner the keys write to is at 90% of a quota
/// limit; its value names each (`user bytes=93%`, `org objects=90%`, comma-separated).
pub const QUOTA_WARNING: &str = "x-stsvend-quota-warning";

/// Adds `X-Stsvend-Quota-Warning` when the hand-out carries one.
fn with_quota_warning(mut b: actix_web::HttpResponseBuilder, h: &Handout<'_>) -> actix_web::HttpResponseBuilder {
    if let Some(w) = h.quota_warning.as_deref().and_then(|w| HeaderValue::from_str(w).ok()) {
        b.insert_header((QUOTA_WARNING, w));
    }
    b
}

pub(super) fn no_store() -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
    b
}

/// Reads an optional JSON body: empty means defaults; anything else must be JSON within the
/// size limit and match the request type exactly.
async fn read_json<T: for<'de> Deserialize<'de> + Default>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    Ok(read_optional_json(req, payload, limit).await?.unwrap_or_default())
}

/// Reads a JSON body within the size limit that matches the request type exactly; `None`
/// when the body is empty.
pub(super) async fn read_optional_json<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::InvalidBody("request body could not be read".to_owned()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
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
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::InvalidBody(format!("request body is not valid: {e}")))
}
