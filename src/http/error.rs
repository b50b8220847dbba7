//! The one error type at the HTTP edge and its JSON envelope:
//! `{"error": {"code": "...", "message": "..."}}`. Each variant has an explicit status and a
//! stable code; internal detail goes to the log, never into a body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::auth::AuthError;

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECONDS: u32 = 5;
/// Seconds to wait after `bucket_quota_exhausted`: the quota does not free up in seconds.
const QUOTA_RETRY_AFTER_SECONDS: u32 = 300;

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

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Auth(AuthError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("request headers are too large")]
    HeadersTooLarge,
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many requests; retry in {0} s")]
    TooManyRequests(u64),
    /// New users arrive faster than `limits.new_users_per_minute`.
    #[error("too many new users right now; retry in {0} s")]
    ProvisioningRateLimited(u64),
    /// `limits.new_users_per_day` new users were made within the last day.
    #[error("no more new accounts can be set up today; retry in {0} s")]
    NewUserLimitReached(u64),
    #[error("{0} is unavailable; retry later")]
    Unavailable(&'static str),
    /// AWS refused a new bucket: the account's bucket quota is used up.
    #[error("no storage can be created for new users right now; retry later")]
    BucketQuotaExhausted,
    /// An admin delete that AWS partly refused: `objects_left` objects stay (the user is kept,
    /// disabled and revoked); `aws_error` is AWS's code for the first.
    #[error(
        "{objects_left} objects could not be deleted (AWS: {aws_error}); the user stays disabled with their sessions revoked. Check the bucket policy, SCPs and object lock (retention, legal holds), then delete again"
    )]
    DeleteIncomplete { objects_left: u64, aws_error: String },
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Auth(e) => e.code(),
            Self::BadRequest { code, .. } | Self::Forbidden { code, .. } | Self::Conflict { code, .. } => code,
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::HeadersTooLarge => "headers_too_large",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooManyRequests(_) => "rate_limited",
            Self::ProvisioningRateLimited(_) => "provisioning_rate_limited",
            Self::NewUserLimitReached(_) => "new_user_limit_reached",
            Self::Unavailable(_) => "service_unavailable",
            Self::BucketQuotaExhausted => "bucket_quota_exhausted",
            Self::DeleteIncomplete { .. } => "delete_incomplete",
            Self::Internal => "internal",
        }
    }

    /// Logs an internal failure with its cause chain and returns the opaque error for the body.
    pub fn internal(context: &str, err: &dyn std::error::Error) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "{context}");
        Self::Internal
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Auth(AuthError::JwksUnavailable) | Self::Unavailable(_) | Self::BucketQuotaExhausted => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Auth(
                AuthError::MissingToken
                | AuthError::Invalid(_)
                | AuthError::MissingClaim(_)
                | AuthError::Expired
                | AuthError::NotYetValid
                | AuthError::WrongIssuer
                | AuthError::WrongAudience
                | AuthError::UnknownKey
                | AuthError::ClientCredentials,
            ) => StatusCode::UNAUTHORIZED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::InsufficientScope(_) | Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests(_) | Self::ProvisioningRateLimited(_) | Self::NewUserLimitReached(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::DeleteIncomplete { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut resp = HttpResponse::build(status);
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::Auth(AuthError::MissingToken) => {
                resp.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="stsvend""#));
            }
            Self::Auth(e) if status == StatusCode::UNAUTHORIZED => {
                // RFC 6750: error_description is a quoted string without `"` or `\`.
                let value = format!(r#"Bearer realm="stsvend", error="invalid_token", error_description="{e}""#);
                if let Ok(v) = HeaderValue::from_str(&value) {
                    resp.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            Self::InsufficientScope(_) => {
                resp.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="stsvend", error="insufficient_scope""#,
                ));
            }
            _ => {}
        }
        if let Self::BucketQuotaExhausted = self {
            // Room comes back when an operator deletes users or AWS raises the quota.
            resp.insert_header((header::RETRY_AFTER, QUOTA_RETRY_AFTER_SECONDS.to_string()));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        }
        if let Self::TooManyRequests(secs) | Self::ProvisioningRateLimited(secs) | Self::NewUserLimitReached(secs) =
            self
        {
            resp.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let details = match self {
            Self::DeleteIncomplete {
                objects_left,
                aws_error,
            } => Some(serde_json::json!({
                "objects_left": objects_left,
                "aws_error": aws_error,
            })),
            _ => None,
        };
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
    ApiError::BadRequest {
        code: "invalid_query",
        message: format!("query string is not valid: {e}"),
    }
}
