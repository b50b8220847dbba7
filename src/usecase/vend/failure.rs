//! How a vend's refusals and failures reach the client: each [`VendError`] as a [`Failure`].
//! Both credential routes and the presign routes answer with these.

use super::{KeysError, VendError};
use crate::usecase::error::{Failure, code};

impl From<VendError> for Failure {
    fn from(e: VendError) -> Self {
        match e {
            VendError::RateLimited(wait) => Self::too_many(code::TooMany::RateLimited, wait),
            e @ VendError::UnknownAccess { .. } => Self::invalid(code::Invalid::UnknownAccess, &e),
            e @ VendError::InsufficientScope { .. } => Self::forbidden(code::Forbidden::InsufficientScope, &e),
            e @ VendError::Disabled => Self::forbidden(code::Forbidden::UserDisabled, &e),
            e @ VendError::RequiredClaim(_) => Self::forbidden(code::Forbidden::RequiredClaimMissing, &e),
            e @ VendError::OrgRequired(_) => Self::forbidden(code::Forbidden::OrgRequired, &e),
            e @ (VendError::ClaimInvalid | VendError::ClaimRefused(_)) => {
                Self::forbidden(code::Forbidden::ClaimInvalid, &e)
            }
            e @ VendError::OrgDisabled(_) => Self::forbidden(code::Forbidden::OrgDisabled, &e),
            e @ VendError::OrgModeMismatch(_) => Self::conflict(code::Conflict::OrgStorageModeMismatch, &e),
            VendError::Provisioning(p) => Self::from(&*p),
            VendError::Sts(e) => match &*e {
                KeysError::Sts(u) => Self::aws("AssumeRole failed", u),
                e @ KeysError::IssuedBeforeCutOff => {
                    tracing::warn!(error = %e, "AssumeRole failed");
                    Self::unavailable(code::Unavailable::AwsSts)
                }
            },
            // The deployment went back to bucket mode (or dropped a `prefix-*.json`) after
            // giving this user a prefix: the access cannot be rendered for their storage.
            // Start-up warns.
            e @ VendError::NoVariant(_) => Self::conflict(code::Conflict::AccessUnavailableInPrefixMode, &e),
            VendError::Audit(e) => {
                tracing::error!(error = %e, "audit write failed; credentials withheld");
                Self::unavailable(code::Unavailable::AuditLog)
            }
            // Logged where it happened (vend/mod.rs); the next request sees the user's new state.
            VendError::Superseded => Self::unavailable(code::Unavailable::AccountCredentials),
            ref e @ VendError::QuotaExceeded { ref report, .. } => Self::quota_exceeded(e, report.details()),
        }
    }
}
