//! The one error type at the HTTP edge and its JSON envelope:
//! `{"error": {"code": "...", "message": "..."}}`. Each variant has an explicit status and a
//! stable code; internal detail goes to the log, never into a body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::usecase::{Failure, code};

/// The error envelope every non-2xx API response carries.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`invalid_token`, `user_disabled`, `rate_limited`, ...).
    pub code: String,
    /// For humans; may change.
    pub message: String,
    /// Facts some codes carry for programs (`delete_incomplete`: `objects_left`, `aws_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// The error code of a response, kept in its extensions for the request log.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);

/// What a handler answers when it does not answer 2xx: a use case's [`Failure`], or a request
/// this edge could not read.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Failure(#[from] Failure),
    #[error("no bearer token was presented")]
    MissingToken,
    /// An Authorization header that is not one `Bearer <token>`.
    #[error("{0}")]
    BadAuthorization(&'static str),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("{0}")]
    InvalidBody(String),
    #[error("an access key id is 16-128 characters A-Z and 0-9")]
    InvalidAccessKeyId,
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("request headers are too large")]
    HeadersTooLarge,
    #[error("no such route")]
    NoRoute,
    #[error("method not allowed")]
    MethodNotAllowed,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Failure(f) => f.code(),
            Self::MissingToken => code::Unauthenticated::MissingToken.as_str(),
            Self::BadAuthorization(_) => code::Unauthenticated::InvalidToken.as_str(),
            Self::InvalidQuery(_) => "invalid_query",
            Self::InvalidBody(_) => "invalid_body",
            Self::InvalidAccessKeyId => "invalid_access_key_id",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::HeadersTooLarge => "headers_too_large",
            Self::NoRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750) this answer carries, if any.
    fn challenge(&self) -> Option<HeaderValue> {
        match self {
            Self::Failure(Failure::Unauthenticated {
                code: code::Unauthenticated::MissingToken,
                ..
            })
            | Self::MissingToken => Some(HeaderValue::from_static(r#"Bearer realm="stsvend""#)),
            Self::Failure(Failure::Unauthenticated { .. }) | Self::BadAuthorization(_) => {
                // error_description is a quoted string without `"` or `\`.
                let value = format!(r#"Bearer realm="stsvend", error="invalid_token", error_description="{self}""#);
                HeaderValue::from_str(&value).ok()
            }
            Self::Failure(Failure::Forbidden {
                code: code::Forbidden::InsufficientScope,
                ..
            }) => Some(HeaderValue::from_static(
                r#"Bearer realm="stsvend", error="insufficient_scope""#,
            )),
            Self::Failure(
                Failure::Forbidden { .. }
                | Failure::Invalid { .. }
                | Failure::NotFound { .. }
                | Failure::Conflict { .. }
                | Failure::TooMany { .. }
                | Failure::Unavailable { .. }
                | Failure::DeleteIncomplete { .. }
                | Failure::QuotaExceeded { .. }
                | Failure::Internal,
            )
            | Self::InvalidQuery(_)
            | Self::InvalidBody(_)
            | Self::InvalidAccessKeyId
            | Self::UnsupportedMediaType
            | Self::PayloadTooLarge
            | Self::HeadersTooLarge
            | Self::NoRoute
            | Self::MethodNotAllowed => None,
        }
    }
}

/// What a use case's failure adds to the answer besides its status and code: seconds to wait
/// before retrying (Retry-After), and facts some codes carry for programs (`details`).
fn retry_after_and_details(f: &Failure) -> (Option<u64>, Option<serde_json::Value>) {
    match f {
        Failure::TooMany { retry_after, .. } | Failure::Unavailable { retry_after, .. } => (Some(*retry_after), None),
        Failure::DeleteIncomplete {
            objects_left,
            aws_error,
        } => (
            None,
            Some(serde_json::json!({
                "objects_left": objects_left,
                "aws_error": aws_error,
            })),
        ),
        Failure::QuotaExceeded { details, .. } => (None, Some(details.clone())),
        Failure::Unauthenticated { .. }
        | Failure::Forbidden { .. }
        | Failure::Invalid { .. }
        | Failure::NotFound { .. }
        | Failure::Conflict { .. }
        | Failure::Internal => (None, None),
    }
}

/// The status of each class of use-case failure.
fn status_of(f: &Failure) -> StatusCode {
    match f {
        Failure::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        Failure::Forbidden { .. } | Failure::QuotaExceeded { .. } => StatusCode::FORBIDDEN,
        Failure::Invalid { .. } => StatusCode::BAD_REQUEST,
        Failure::NotFound { .. } => StatusCode::NOT_FOUND,
        Failure::Conflict { .. } => StatusCode::CONFLICT,
        Failure::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        Failure::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Failure::DeleteIncomplete { .. } => StatusCode::BAD_GATEWAY,
        Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Failure(f) => status_of(f),
            Self::MissingToken | Self::BadAuthorization(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidQuery(_) | Self::InvalidBody(_) | Self::InvalidAccessKeyId => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.challenge() {
            resp.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        let (retry_after, details) = match self {
            Self::Failure(f) => retry_after_and_details(f),
            Self::MissingToken
            | Self::BadAuthorization(_)
            | Self::InvalidQuery(_)
            | Self::InvalidBody(_)
            | Self::InvalidAccessKeyId
            | Self::UnsupportedMediaType
            | Self::PayloadTooLarge
            | Self::HeadersTooLarge
            | Self::NoRoute
            | Self::MethodNotAllowed => (None, None),
        };
        if let Some(secs) = retry_after {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let mut out = resp.json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
                details,
            },
        });
        out.extensions_mut().insert(ErrorCode(self.code()));
        out
    }
}

/// A query string that does not parse into what the route takes.
pub fn invalid_query(e: &actix_web::Error) -> ApiError {
    ApiError::InvalidQuery(format!("query string is not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::MessageBody;

    use super::*;

    /// Status, Retry-After, WWW-Authenticate and body of the answer to `e`.
    fn answer(e: impl Into<ApiError>) -> (u16, Option<String>, Option<String>, serde_json::Value) {
        let resp = e.into().error_response();
        let header = |name| {
            resp.headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let (retry, challenge) = (header(header::RETRY_AFTER), header(header::WWW_AUTHENTICATE));
        let status = resp.status().as_u16();
        let body = resp.into_body().try_into_bytes().unwrap();
        (status, retry, challenge, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn limits_and_outages_say_when_to_retry() {
        let (status, retry, _, body) = answer(Failure::too_many(code::TooMany::RateLimited, Duration::from_secs(2)));
        assert_eq!((status, retry.as_deref()), (429, Some("3")));
        assert_eq!(body["error"]["code"], "rate_limited");
        let (status, retry, _, body) = answer(Failure::unavailable(code::Unavailable::BucketQuota));
        assert_eq!((status, retry.as_deref()), (503, Some("300")));
        assert_eq!(body["error"]["code"], "bucket_quota_exhausted");
        let (status, retry, _, body) = answer(Failure::unavailable(code::Unavailable::AwsSts));
        assert_eq!((status, retry.as_deref()), (503, Some("5")));
        assert_eq!(body["error"]["message"], "AWS STS is unavailable; retry later");
    }

    #[test]
    fn a_refused_token_carries_its_challenge_and_a_missing_scope_its_own() {
        let (status, _, challenge, body) = answer(ApiError::MissingToken);
        assert_eq!((status, challenge.as_deref()), (401, Some(r#"Bearer realm="stsvend""#)));
        assert_eq!(body["error"]["code"], "missing_token");
        let expired = Failure::Unauthenticated {
            code: code::Unauthenticated::TokenExpired,
            reason: "token has expired".to_owned(),
        };
        let (status, _, challenge, body) = answer(expired);
        assert_eq!(
            (status, challenge.as_deref()),
            (
                401,
                Some(r#"Bearer realm="stsvend", error="invalid_token", error_description="token has expired""#)
            )
        );
        assert_eq!(body["error"]["code"], "token_expired");
        let (status, _, challenge, _) = answer(Failure::forbidden(code::Forbidden::InsufficientScope, &"needs x"));
        assert_eq!(
            (status, challenge.as_deref()),
            (403, Some(r#"Bearer realm="stsvend", error="insufficient_scope""#))
        );
        let (status, _, challenge, _) = answer(Failure::forbidden(code::Forbidden::UserDisabled, &"disabled"));
        assert_eq!((status, challenge), (403, None));
    }

    #[test]
    fn an_internal_failure_tells_nothing_and_a_partial_delete_tells_what_is_left() {
        let (status, retry, _, body) = answer(Failure::Internal);
        assert_eq!((status, retry), (500, None));
        assert_eq!(
            body["error"],
            serde_json::json!({"code": "internal", "message": "internal error"})
        );
        let (status, _, _, body) = answer(Failure::DeleteIncomplete {
            objects_left: 2,
            aws_error: "AccessDenied".to_owned(),
        });
        assert_eq!(status, 502);
        assert_eq!(
            body["error"]["details"],
            serde_json::json!({"objects_left": 2, "aws_error": "AccessDenied"})
        );
    }
}
