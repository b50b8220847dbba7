//! What can go wrong asking stsvend for keys, by what the caller can do about it.

use std::fmt;
use std::time::Duration;

use aws_credential_types::provider::error::CredentialsError;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// stsvend's answer to a failed request: its status, the stable `code` of its error envelope
/// (`{"error": {"code", "message"}}`, listed in stsvend's README) and `Retry-After` when sent.
/// Holds no token and no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {} s)", after.as_secs())?;
        }
        Ok(())
    }
}

/// Why no keys (or no storage information) came back. Each message says what happened and
/// never contains the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the token was refused (`token_expired`, `invalid_token`, `invalid_audience`, ...).
    /// Never retried: only a new token helps.
    #[error("stsvend refused the token: {0}")]
    Unauthorized(ApiError),
    /// 403: the token is good but may not have this (`insufficient_scope`, `user_disabled`,
    /// `required_claim_missing`). Never retried.
    #[error("stsvend forbids this: {0}")]
    Forbidden(ApiError),
    /// 429 (`rate_limited`, `provisioning_rate_limited`) still after the retries, or with a
    /// `Retry-After` longer than the client waits.
    #[error("stsvend asks to slow down: {0}")]
    RateLimited(ApiError),
    /// 503 (`service_unavailable`, `jwks_unavailable`, `bucket_quota_exhausted`), or a proxy's
    /// 502/504, still after the retries.
    #[error("stsvend is unavailable: {0}")]
    Unavailable(ApiError),
    /// Any other error answer, e.g. 400 `unknown_access` or 500 `internal`.
    #[error("stsvend answered {0}")]
    Rejected(ApiError),
    /// The token source failed: the file is missing or empty, or the closure returned an error.
    #[error("no token: {reason}")]
    Token { reason: BoxError },
    /// stsvend could not be reached (after the retries) or the connection broke.
    #[error("could not reach stsvend: {0}")]
    Transport(reqwest::Error),
    /// A 2xx answer this client cannot read (another service at that URL, a newer version).
    #[error("stsvend's answer is not understood: {0}")]
    InvalidResponse(String),
    /// The client was set up wrong (a URL that does not parse, no token source).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// stsvend's answer, when the failure is one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Unauthorized(e)
            | Self::Forbidden(e)
            | Self::RateLimited(e)
            | Self::Unavailable(e)
            | Self::Rejected(e) => Some(e),
            Self::Token { .. } | Self::Transport(_) | Self::InvalidResponse(_) | Self::Config(_) => None,
        }
    }

    /// stsvend's error code (`token_expired`, `rate_limited`, ...), when it answered with one.
    pub fn code(&self) -> Option<&str> {
        self.api().map(|e| e.code.as_str())
    }

    /// How long stsvend asked to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }

    /// Whether the same request may succeed later without anything changing on the caller's side.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited(_) | Self::Unavailable(_) | Self::Transport(_) => true,
            Self::Unauthorized(_)
            | Self::Forbidden(_)
            | Self::Rejected(_)
            | Self::Token { .. }
            | Self::InvalidResponse(_)
            | Self::Config(_) => false,
        }
    }

    /// The error class for a failed answer of `status`.
    pub(crate) fn from_api(e: ApiError) -> Self {
        match e.status {
            401 => Self::Unauthorized(e),
            403 => Self::Forbidden(e),
            429 => Self::RateLimited(e),
            502..=504 => Self::Unavailable(e),
            _ => Self::Rejected(e),
        }
    }
}

impl From<Error> for CredentialsError {
    /// The SDK's classes: a misconfiguration (no token, bad URL) is `invalid_configuration`, a
    /// response it cannot read `unhandled`, and every refusal or outage `provider_error`, so
    /// the SDK's error names stsvend's code.
    fn from(e: Error) -> Self {
        match e {
            Error::Config(_) | Error::Token { .. } => CredentialsError::invalid_configuration(e),
            Error::InvalidResponse(_) => CredentialsError::unhandled(e),
            Error::Unauthorized(_)
            | Error::Forbidden(_)
            | Error::RateLimited(_)
            | Error::Unavailable(_)
            | Error::Rejected(_)
            | Error::Transport(_) => CredentialsError::provider_error(e),
        }
    }
}
