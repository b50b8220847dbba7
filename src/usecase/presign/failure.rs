//! How a presign's refusals and failures reach the client: each [`PresignError`], and a key or
//! content type that does not parse, as a [`Failure`].

use super::{ContentTypeError, KeyError, PresignError};
use crate::usecase::error::{Failure, code};

impl From<PresignError> for Failure {
    fn from(e: PresignError) -> Self {
        match e {
            e @ PresignError::NotGranted { .. } => Self::forbidden(code::Forbidden::InsufficientScope, &e),
            e @ PresignError::ExpiresIn { .. } => Self::invalid(code::Invalid::InvalidExpiresIn, &e),
            e @ PresignError::MaxBytes { .. } => Self::invalid(code::Invalid::InvalidMaxBytes, &e),
            e @ (PresignError::ContentLength { .. } | PresignError::LengthNotForMethod { .. }) => {
                Self::invalid(code::Invalid::InvalidContentLength, &e)
            }
            e @ PresignError::LengthRequired => Self::invalid(code::Invalid::ContentLengthRequired, &e),
            PresignError::Key(e) => e.into(),
            PresignError::Sign(e) => Self::internal("presigning failed", &e),
            PresignError::Audit(e) => {
                tracing::error!(error = %e, "presign audit write failed; URL withheld");
                Self::unavailable(code::Unavailable::AuditLog)
            }
        }
    }
}

impl From<KeyError> for Failure {
    fn from(e: KeyError) -> Self {
        Self::invalid(code::Invalid::InvalidKey, &e)
    }
}

impl From<ContentTypeError> for Failure {
    fn from(e: ContentTypeError) -> Self {
        Self::invalid(code::Invalid::InvalidContentType, &e)
    }
}
