//! The errors below the use cases (the token verifier's, the database's, AWS's, first-login
//! provisioning's), classified in one place: what each means for the client, and what goes to
//! the log.

use super::{Failure, code};
use crate::auth::AuthError;
use crate::aws::{Error as AwsError, Service};
use crate::provision::ProvisionError;
use crate::store::StoreError;

impl Failure {
    /// The database failed while doing `context`: 503 when it could not be reached (worth a
    /// retry), otherwise internal. The cause goes to the log.
    pub fn store(context: &str, e: &StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "{context}: database unavailable");
            code::Unavailable::Database.failure()
        } else {
            Self::internal(&format!("{context} failed"), e)
        }
    }

    /// An AWS call made for `context` failed: an outage is 503; STS refusing `AssumeRole` too
    /// (IAM does for a few seconds after a role changed); a bucket policy stsvend must not
    /// overwrite or cannot grow is a conflict; objects S3 would not delete are reported as such;
    /// any other refusal is a configuration problem (500).
    pub fn aws(context: &str, e: &AwsError) -> Self {
        match e {
            AwsError::Unavailable { service, .. } => {
                tracing::warn!(error = %e, "{context}");
                match service {
                    Service::Sts => code::Unavailable::AwsSts.failure(),
                    // No request calls SQS (only the quota consumer does); its queue carries
                    // S3's events.
                    Service::S3 | Service::Sqs => code::Unavailable::AwsS3.failure(),
                    Service::Iam => code::Unavailable::AwsIam.failure(),
                }
            }
            // IAM applies a change to the role (trust or permissions) a few seconds after it is
            // made, and STS refuses until then: retry later. A role that stays refused is a
            // configuration problem; the log, the `StsvendAssumeRoleRejected` alert and
            // `stsvend doctor` name it.
            AwsError::Denied {
                service: Service::Sts, ..
            } => {
                tracing::error!(error = %e, "{context}: STS refused AssumeRole; if the role was just changed, IAM has not applied it yet, otherwise check its trust policy and the service's policy (`stsvend doctor`)");
                code::Unavailable::AwsSts.failure()
            }
            e @ AwsError::ExistingPolicy(_) => Self::conflict(code::Conflict::BucketPolicyUnreadable, e),
            e @ AwsError::PolicyFull { .. } => Self::conflict(
                code::Conflict::RevocationCapacityExhausted,
                &format!("{e}; older revocations leave it as their sessions expire: disable the user meanwhile"),
            ),
            AwsError::NotEmptied { left, first } => {
                tracing::error!(objects_left = left, aws_error = %first, "delete incomplete: S3 refused to delete objects; the user stays disabled and revoked");
                Self::DeleteIncomplete {
                    objects_left: *left,
                    aws_error: first.clone(),
                }
            }
            AwsError::Denied { .. } | AwsError::Rejected { .. } | AwsError::Internal { .. } => {
                Self::internal(&format!("{context} failed"), e)
            }
        }
    }
}

/// A token not accepted: 401 with the reason, or 503 when the issuer's keys are unavailable.
impl From<AuthError> for Failure {
    fn from(e: AuthError) -> Self {
        use code::Unauthenticated as U;
        let code = match &e {
            AuthError::JwksUnavailable => return code::Unavailable::IssuerKeys.failure(),
            AuthError::MissingToken => U::MissingToken,
            AuthError::Invalid(_) | AuthError::MissingClaim(_) => U::InvalidToken,
            AuthError::Expired => U::TokenExpired,
            AuthError::NotYetValid => U::TokenNotYetValid,
            AuthError::WrongIssuer => U::InvalidIssuer,
            AuthError::WrongAudience => U::InvalidAudience,
            AuthError::UnknownKey => U::UnknownKey,
            AuthError::ClientCredentials => U::ClientCredentialsRefused,
        };
        Self::Unauthenticated {
            code,
            reason: e.to_string(),
        }
    }
}

/// A first login that could not be completed.
impl From<&ProvisionError> for Failure {
    fn from(e: &ProvisionError) -> Self {
        match e {
            ProvisionError::Aws(u) => Failure::aws("provisioning failed", u),
            ProvisionError::Store(e) if e.is_unavailable() => Failure::store("provisioning", e),
            ProvisionError::RateLimited(wait) => Failure::too_many(code::TooMany::ProvisioningRateLimited, *wait),
            ProvisionError::DailyLimit(wait) => Failure::too_many(code::TooMany::NewUserLimitReached, *wait),
            ProvisionError::BucketQuota => Failure::unavailable(code::Unavailable::BucketQuota),
            // Every random name taken: someone is registering names as fast as they are recorded.
            // A later attempt draws new ones.
            e @ ProvisionError::NamesExhausted(_) => {
                tracing::error!(error = %e, "provisioning failed");
                Failure::unavailable(code::Unavailable::AwsS3)
            }
            // Logged (user or org id and reason) and counted where the row was read.
            ProvisionError::Mapping { .. } | ProvisionError::OrgMapping { .. } => Failure::Internal,
            other @ (ProvisionError::Store(_) | ProvisionError::Identity(_)) => {
                Failure::internal("provisioning failed", other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_issuer_is_an_outage_and_a_bad_token_is_unauthenticated() {
        let down = Failure::from(AuthError::JwksUnavailable);
        assert_eq!(down.code(), "jwks_unavailable");
        assert!(!down.is_refusal());
        let expired = Failure::from(AuthError::Expired);
        assert_eq!(expired.code(), "token_expired");
        assert_eq!(expired.to_string(), "token has expired");
        assert!(expired.is_refusal());
    }

    #[test]
    fn sts_refusing_assume_role_is_an_outage_and_other_refusals_are_internal() {
        let refused = |service| AwsError::Denied {
            service,
            operation: "AssumeRole".to_owned(),
            detail: String::new(),
        };
        assert!(matches!(
            Failure::aws("test", &refused(Service::Sts)),
            Failure::Unavailable {
                what: code::Unavailable::AwsSts,
                ..
            }
        ));
        assert!(matches!(Failure::aws("test", &refused(Service::S3)), Failure::Internal));
    }
}
