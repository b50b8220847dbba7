//! `POST /v1/presign` and `POST /v1/presign/post`: a pre-signed URL for one request on an
//! object in the caller's storage, and a signed form for browser uploads into it.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::credentials::{no_store, read_optional_json};
use super::error::ApiError;
use super::extract::Authenticated;
use super::{MaxBody, TrustedProxies};
use crate::runtime::clock::format_time;
use crate::usecase::Failure;
use crate::usecase::presign::{ContentType, FormKey, FormRequest, Method, ObjectKey, Presigner, Requester, UrlRequest};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignRequest {
    method: Method,
    /// Key relative to the caller's own storage: UTF-8, at most 1024 bytes, no control
    /// characters, no `.` or `..` path segment.
    key: String,
    /// Seconds the URL stays valid (default `presign.default_expires_seconds`, at most
    /// `presign.max_expires_seconds`); never beyond the signing keys' own expiry.
    expires_in: Option<i64>,
    /// Template whose session signs the URL (default: the configured one), as for a vend.
    access: Option<String>,
    /// PUT only: the upload's exact size in bytes, 0 to `presign.max_upload_bytes`. The URL
    /// then signs `Content-Length` (returned in `headers`), so S3 refuses a body of any other
    /// size. Required for PUT when `presign.require_put_length` is on.
    #[schema(minimum = 0)]
    content_length: Option<i64>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresignResponse {
    pub url: String,
    pub method: Method,
    /// RFC 3339; S3 refuses the URL from then on.
    pub expires_at: String,
    /// Headers to send with the request, exactly as given (signed with the URL): `content-length`
    /// for a PUT signed with one, otherwise none.
    pub headers: BTreeMap<String, String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresignPostRequest {
    /// The exact key the file is stored under (relative to the caller's storage); or:
    key: Option<String>,
    /// A key prefix: the form stores the file as this prefix followed by its file name.
    key_prefix: Option<String>,
    /// Largest file accepted, bytes (default and maximum: `presign.max_upload_bytes`).
    max_bytes: Option<i64>,
    /// The form must send exactly this `Content-Type` (it is among the returned fields).
    content_type: Option<String>,
    /// As for `/v1/presign`.
    expires_in: Option<i64>,
    access: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct PresignPostResponse {
    /// Where the form POSTs (`multipart/form-data`).
    pub url: String,
    /// Form fields to send as they are, before the `file` field.
    pub fields: BTreeMap<String, String>,
    pub expires_at: String,
}

#[utoipa::path(post, path = "/v1/presign", tag = "credentials",
    request_body(content = PresignRequest, description = "The request to sign, on a key in the caller's own storage"),
    responses(
        (status = 200, description = "A URL valid until `expires_at`", body = PresignResponse),
        (status = 400, description = "Malformed body, invalid key, expires_in or content_length (`invalid_content_length`: over `presign.max_upload_bytes`, negative, or not a PUT), no content_length for a PUT when required (`content_length_required`), unknown access", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope, the access level does not allow the method, or the user is disabled", body = super::error::ErrorBody),
        (status = 409, description = "The user's storage is a prefix and this access has no prefix-mode template (`access_unavailable_in_prefix_mode`)", body = super::error::ErrorBody),
        (status = 429, description = "Rate exceeded (shared with vends), or a first login beyond the new-user limits (Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "AWS, the issuer or the audit log unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn presign(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    presigner: web::Data<Presigner>,
    proxies: web::Data<TrustedProxies>,
    max_body: web::Data<MaxBody>,
) -> Result<HttpResponse, ApiError> {
    let body: PresignRequest = required(read_optional_json(&req, payload, max_body.0).await?)?;
    let key = ObjectKey::parse(&body.key).map_err(Failure::from)?;
    let who = Requester {
        caller: &caller,
        client_addr: proxies.client_of(&req),
    };
    let signed = presigner
        .url(
            &who,
            UrlRequest {
                method: body.method,
                key: &key,
                expires_in: body.expires_in.map(non_negative),
                access: body.access.as_deref(),
                // A negative size as one no limit allows, refused with the range it must be in.
                content_length: body.content_length.map(|n| u64::try_from(n).unwrap_or(u64::MAX)),
            },
        )
        .await?;
    Ok(no_store().json(PresignResponse {
        url: signed.url,
        method: signed.method,
        expires_at: format_time(signed.expires_at),
        headers: signed.headers,
    }))
}

#[utoipa::path(post, path = "/v1/presign/post", tag = "credentials",
    request_body(content = PresignPostRequest, description = "`key` or `key_prefix`, and optional bounds"),
    responses(
        (status = 200, description = "The form's URL and fields", body = PresignPostResponse),
        (status = 400, description = "Malformed body, invalid key, prefix, size, content type or expires_in", body = super::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = super::error::ErrorBody),
        (status = 403, description = "Token lacks the scope, the access level cannot upload, or the user is disabled", body = super::error::ErrorBody),
        (status = 409, description = "The user's storage is a prefix and this access has no prefix-mode template (`access_unavailable_in_prefix_mode`)", body = super::error::ErrorBody),
        (status = 429, description = "Rate exceeded (shared with vends), or a first login beyond the new-user limits (Retry-After)", body = super::error::ErrorBody),
        (status = 503, description = "AWS, the issuer or the audit log unavailable (Retry-After)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
pub async fn presign_post(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    payload: web::Payload,
    presigner: web::Data<Presigner>,
    proxies: web::Data<TrustedProxies>,
    max_body: web::Data<MaxBody>,
) -> Result<HttpResponse, ApiError> {
    let body: PresignPostRequest = required(read_optional_json(&req, payload, max_body.0).await?)?;
    let key = FormKey::parse(body.key.as_deref(), body.key_prefix.as_deref()).map_err(Failure::from)?;
    let content_type = body
        .content_type
        .as_deref()
        .map(ContentType::parse)
        .transpose()
        .map_err(Failure::from)?;
    let who = Requester {
        caller: &caller,
        client_addr: proxies.client_of(&req),
    };
    let form = presigner
        .form(
            &who,
            FormRequest {
                key,
                max_bytes: body.max_bytes.map(non_negative),
                content_type,
                expires_in: body.expires_in.map(non_negative),
                access: body.access.as_deref(),
            },
        )
        .await?;
    Ok(no_store().json(PresignPostResponse {
        url: form.url,
        fields: form.fields,
        expires_at: format_time(form.expires_at),
    }))
}

fn required<T>(body: Option<T>) -> Result<T, ApiError> {
    body.ok_or_else(|| ApiError::InvalidBody("a JSON body is required".to_owned()))
}

/// A negative count as 0, which the range checks refuse with their own message.
fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
