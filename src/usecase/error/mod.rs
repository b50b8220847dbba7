//! The one error every use case answers with: a [`Failure`], classified by what the client can
//! do about it (authenticate, ask for something else, wait, or nothing), each class carrying a
//! stable `code` and, where waiting helps, how long. The HTTP edge gives each class its status;
//! nothing above this module sees the store's, the token verifier's or AWS's errors. An
//! internal cause goes to the log where it is classified, never into a message.
//!
//! The classification of the errors below the use cases (tokens, the database, AWS) lives here,
//! in one place; each use case converts its own refusals next to them (`vend`, `presign`,
//! `admin`).

use std::time::Duration;

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No token, or one that is not accepted.
    #[error("{reason}")]
    Unauthenticated {
        code: code::Unauthenticated,
        reason: String,
    },
    /// The caller is known and may not do this.
    #[error("{message}")]
    Forbidden { code: code::Forbidden, message: String },
    /// The request asks for something that cannot be.
    #[error("{message}")]
    Invalid { code: code::Invalid, message: String },
    /// No such user, key or mapping (or the admin API is off).
    #[error("{message}")]
    NotFound { message: String },
    /// The request clashes with the state of what it acts on.
    #[error("{message}")]
    Conflict { code: code::Conflict, message: String },
    /// A rate or a limit is reached: room comes back after `retry_after` seconds.
    #[error("{}", code.message(*retry_after))]
    TooMany { code: code::TooMany, retry_after: u64 },
    /// Something this service depends on does not answer (or has no room): retry after
    /// `retry_after` seconds.
    #[error("{}", what.message())]
    Unavailable { what: code::Unavailable, retry_after: u64 },
    /// An admin delete that AWS partly refused: `objects_left` objects stay (the user is kept,
    /// disabled and revoked); `aws_error` is AWS's code for the first.
    #[error(
        "{objects_left} objects could not be deleted (AWS: {aws_error}); the user stays disabled with their sessions revoked. Check the bucket policy, SCPs and object lock (retention, legal holds), then delete again"
    )]
    DeleteIncomplete { objects_left: u64, aws_error: String },
    /// A write refused because its storage's owner is at or over a quota limit; `details`:
    /// which owner (`user` or `org`) and their usage (`quota::limits::Report::details`).
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        details: serde_json::Value,
    },
    /// A bug or a configuration problem: the cause is in the log.
    #[error("internal error")]
    Internal,
}

mod classify;
pub mod code;

impl Failure {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated { code, .. } => code.as_str(),
            Self::Forbidden { code, .. } => code.as_str(),
            Self::Invalid { code, .. } => code.as_str(),
            Self::NotFound { .. } => "not_found",
            Self::Conflict { code, .. } => code.as_str(),
            Self::TooMany { code, .. } => code.as_str(),
            Self::Unavailable { what, .. } => what.as_str(),
            Self::DeleteIncomplete { .. } => "delete_incomplete",
            Self::QuotaExceeded { .. } => code::Forbidden::QuotaExceeded.as_str(),
            Self::Internal => "internal",
        }
    }

    /// True when the request was refused (the client can change it, or wait for a limit);
    /// false when this service or one it depends on failed. The admin audit records which.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Unauthenticated { .. }
            | Self::Forbidden { .. }
            | Self::Invalid { .. }
            | Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::TooMany { .. }
            | Self::QuotaExceeded { .. } => true,
            Self::Unavailable { .. } | Self::DeleteIncomplete { .. } | Self::Internal => false,
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

    pub fn unavailable(what: code::Unavailable) -> Self {
        what.failure()
    }

    /// A limit reached: retry after `wait`, rounded up to the next whole second.
    pub fn too_many(code: code::TooMany, wait: Duration) -> Self {
        Self::TooMany {
            code,
            retry_after: wait.as_secs() + 1,
        }
    }

    pub fn invalid(code: code::Invalid, message: &impl std::fmt::Display) -> Self {
        Self::Invalid {
            code,
            message: message.to_string(),
        }
    }

    pub fn forbidden(code: code::Forbidden, message: &impl std::fmt::Display) -> Self {
        Self::Forbidden {
            code,
            message: message.to_string(),
        }
    }

    pub fn conflict(code: code::Conflict, message: &impl std::fmt::Display) -> Self {
        Self::Conflict {
            code,
            message: message.to_string(),
        }
    }

    /// Refused for a quota: `details` names the owner at or over a limit and their usage
    /// (`quota::limits::Report::details`).
    pub fn quota_exceeded(message: &impl std::fmt::Display, details: serde_json::Value) -> Self {
        Self::QuotaExceeded {
            message: message.to_string(),
            details,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_ask_for_a_whole_second_more_than_the_wait() {
        let f = Failure::too_many(code::TooMany::RateLimited, Duration::from_millis(1500));
        assert!(matches!(f, Failure::TooMany { retry_after: 2, .. }));
        assert_eq!(f.to_string(), "too many requests; retry in 2 s");
    }

    #[test]
    fn an_exhausted_bucket_quota_asks_for_minutes_and_outages_for_seconds() {
        assert!(matches!(
            Failure::unavailable(code::Unavailable::BucketQuota),
            Failure::Unavailable { retry_after: 300, .. }
        ));
        let down = Failure::unavailable(code::Unavailable::Database);
        assert!(matches!(down, Failure::Unavailable { retry_after: 5, .. }));
        assert_eq!(down.code(), "service_unavailable");
        assert_eq!(down.to_string(), "the database is unavailable; retry later");
    }
}
