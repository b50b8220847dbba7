//! `POST /v1/credentials`: vend short-lived keys scoped to the caller's bucket.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::ApiError;
use super::extract::Authenticated;
use crate::app::AppState;
use crate::auth::Caller;
use crate::aws::UpstreamError;
use crate::policy::Template;
use crate::provision::{LifecycleError, ProvisionError};
use crate::store::{UserRecord, VendRecord, format_time};
use crate::sts::Credentials;

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
    pub region: String,
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
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

/// The body of a 200 from `POST /v1/credentials`, borrowed from the cache entries it is made
/// of; [`CredentialsResponse`] is the same document, owned (schema, clients, tests).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsBody<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: &'a str,
    bucket: &'a str,
    region: &'a str,
    access: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
}

/// Keys handed out, with what the response needs besides them.
struct Handout<'a> {
    credentials: Arc<Credentials>,
    user: Arc<UserRecord>,
    template: &'a Template,
}

#[utoipa::path(post, path = "/v1/credentials", tag = "credentials",
    request_body(content = Option<CredentialsRequest>, description = "Optional; `access` names a template (default: the configured one)"),
    responses(
        (status = 200, description = "Keys scoped to the caller's bucket; the first five fields are the `credential_process` format", body = CredentialsResponse),
        (status = 400, description = "Malformed body or unknown access", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope for this access, or the user is disabled", body = super::error::ErrorBody),
        (status = 429, description = "Vend rate exceeded (Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "AWS, the issuer or the audit log unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn vend(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.vend_rate.check(&caller.user_id).map_err(too_many)?;
    let body: CredentialsRequest = read_json(&req, payload, state.config.server.max_body_bytes).await?;
    let h = hand_out(&req, &caller, body.access, &state).await?;
    let creds = &h.credentials;
    // Everything in the body is fixed for a cache entry: serialized once, then reused.
    let body = if let Some(b) = creds.body() {
        b
    } else {
        let body = CredentialsBody {
            version: 1,
            access_key_id: creds.access_key_id(),
            secret_access_key: creds.secret_access_key(),
            session_token: &creds.session_token(),
            expiration: &format_expiration(creds.expiration),
            bucket: h.user.bucket.as_str(),
            region: &h.user.region,
            access: h.template.name(),
            endpoint: state.config.aws.endpoint_url.as_deref(),
        };
        let json = serde_json::to_vec(&body).map_err(|e| ApiError::internal("response body", &e))?;
        creds.keep_body(json.into())
    };
    state.metrics.vend_ok(h.template.index());
    Ok(no_store()
        .content_type(HeaderValue::from_static("application/json"))
        .body(body))
}

#[utoipa::path(get, path = "/v1/credentials/container", tag = "credentials",
    params(("access" = Option<String>, Query, description = "Template name (default: the configured one)")),
    responses(
        (status = 200, description = "AWS container-credentials format", body = ContainerCredentials),
        (status = 400, description = "Unknown access or query", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope, or the user is disabled", body = super::error::ErrorBody),
        (status = 429, description = "Vend rate exceeded (Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "Upstream unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn container(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    query: Result<web::Query<ContainerQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.vend_rate.check(&caller.user_id).map_err(too_many)?;
    let query = query.map_err(|e| ApiError::BadRequest {
        code: "invalid_query",
        message: format!("query string is not valid: {e}"),
    })?;
    let h = hand_out(&req, &caller, query.into_inner().access, &state).await?;
    let creds = &h.credentials;
    Ok(no_store().json(ContainerCredentials {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: creds.secret_access_key().to_owned(),
        token: creds.session_token(),
        expiration: format_expiration(creds.expiration),
    }))
}

fn too_many(wait: std::time::Duration) -> ApiError {
    ApiError::TooManyRequests(wait.as_secs() + 1)
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
    b
}

/// The vend itself, shared by both formats: grant check, provisioning on first login,
/// `AssumeRole` (or the cache), and the audit row, without which no key reaches a new party.
async fn hand_out<'s>(
    req: &HttpRequest,
    caller: &Caller,
    access: Option<String>,
    state: &'s AppState,
) -> Result<Handout<'s>, ApiError> {
    let access = access.unwrap_or_else(|| state.config.policies.default.clone());
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

    let user = state.provisioner.ensure_ready(caller).await.map_err(|e| match &*e {
        ProvisionError::Upstream(u) | ProvisionError::Lifecycle(LifecycleError::Upstream(u)) => {
            upstream_error("provisioning failed", u)
        }
        other => ApiError::internal("provisioning failed", other),
    })?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Forbidden {
            code: "user_disabled",
            message: "this account is disabled; contact the administrator".to_owned(),
        });
    }
    let vended = state
        .vendor
        .vend(&user, template)
        .await
        .map_err(|e| upstream_error("AssumeRole failed", &e))?;

    // Keys go to a party (client address, OAuth client) only once an audit row for that
    // party is committed; later hand-outs of the same keys to it are counted on that row.
    let client_addr = req.peer_addr().map(|a| a.ip());
    let party = party(client_addr, caller.client_id.as_deref());
    if let Some(row) = vended.credentials.audit_row(party) {
        state.store.note_repeat(row);
    } else {
        let row = Box::pin(state.store.record_vend(VendRecord {
            user_id: user.user_id.clone(),
            access_key_id: vended.credentials.access_key_id().to_owned(),
            template: template.name().to_owned(),
            expiration: vended.credentials.expiration,
            client_addr: client_addr.map(|a| a.to_string()),
            client_id: caller.client_id.clone(),
            from_cache: vended.from_cache,
        }))
        .await
        .map_err(|e| {
            tracing::error!(user_id = %user.user_id, error = %e, "audit write failed; credentials withheld");
            ApiError::Unavailable("the audit log")
        })?;
        vended.credentials.remember_audit_row(party, row);
    }
    Ok(Handout {
        credentials: vended.credentials,
        user,
        template,
    })
}

/// A fingerprint of who receives keys: the client address and the OAuth client. Keyed with a
/// per-process random key, so it cannot be steered into a collision from outside.
fn party(addr: Option<IpAddr>, client_id: Option<&str>) -> u64 {
    static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    KEY.hash_one((addr, client_id))
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
