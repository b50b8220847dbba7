//! The one error the AWS boundary answers with, and which AWS service a call went to. Callers
//! match on what they must decide (retry later, a denial, a policy they must not overwrite,
//! objects S3 would not delete); the SDK's error types never leave `aws/`.

use std::fmt;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;

/// The AWS services stsvend calls. [`Service::as_str`] is the `service` label of the
/// `stsvend_aws_*` metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Sts,
    S3,
    Iam,
    Sqs,
}

impl Service {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::S3 => "s3",
            Self::Iam => "iam",
            Self::Sqs => "sqs",
        }
    }

    /// The service named by the SDK's operation metadata (`STS`, `S3`, `IAM`); `None` for one
    /// stsvend does not call.
    pub(crate) fn from_sdk(name: &str) -> Option<Self> {
        [Self::Sts, Self::S3, Self::Iam, Self::Sqs]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong on the way to AWS, reduced to what a caller decides on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Network failure, timeout, throttling, a 5xx, or every AWS call slot busy: worth
    /// retrying later (503).
    #[error("{service} unavailable: {detail}")]
    Unavailable { service: Service, detail: String },
    /// AWS refused the call with `AccessDenied`: the service's permissions, the role's trust,
    /// a bucket policy, or (just after a role change) IAM not having applied it yet.
    #[error("{service} refused {operation}: AccessDenied: {detail}")]
    Denied {
        service: Service,
        operation: String,
        detail: String,
    },
    /// AWS refused the call for another reason (validation, a limit): a configuration problem.
    #[error("{service} refused {operation}: {code}: {detail}")]
    Rejected {
        service: Service,
        operation: String,
        code: String,
        detail: String,
    },
    /// A bucket's existing policy is not a JSON policy document: it is never overwritten.
    #[error("the bucket's existing policy is not a JSON policy document: {0}")]
    ExistingPolicy(String),
    /// S3 refused to delete `left` objects (per-key errors of `DeleteObjects`); `first` is
    /// AWS's error code for the first of them (`AccessDenied`: an SCP, a bucket policy or
    /// object lock).
    #[error("{left} objects could not be deleted (AWS: {first})")]
    NotEmptied { left: u64, first: String },
    /// The shared bucket's policy cannot hold one more revocation: every user revoked within
    /// a session's lifetime in one statement would be `bytes` long (S3 allows 20 KiB).
    #[error(
        "the shared bucket's policy is full: {users} users revoked within a session's lifetime need {bytes} bytes (S3 allows 20480)"
    )]
    PolicyFull { users: usize, bytes: usize },
    /// A request stsvend could not build or an answer it could not read: a bug, not an outage.
    #[error("{service}: {detail}")]
    Internal { service: Service, detail: String },
}

/// AWS error codes that mean "try again later".
pub(crate) const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    // SQS's.
    "RequestThrottled",
    "InternalFailure",
];

/// The operation an answer belongs to, attached to the SDK's response by the call metrics
/// interceptor (`aws::calls`), so an error names its call without each caller labelling it.
#[derive(Debug, Clone)]
pub(crate) struct Operation(pub(crate) String);

fn operation_of(response: Option<&Response>) -> String {
    response
        .and_then(|r| r.extension::<Operation>())
        .map_or_else(|| "a call".to_owned(), |op| op.0.clone())
}

impl Error {
    /// Classifies a failed SDK call to `service`.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taken as `map_err` hands it over: the SDK error stays inside the boundary"
    )]
    pub(crate) fn from_sdk<E>(service: Service, err: SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let operation = operation_of(err.raw_response());
        match &err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().unwrap_or("Unknown").to_owned();
                let detail = se.err().message().unwrap_or_default().to_owned();
                if TRANSIENT_CODES.contains(&code.as_str()) {
                    Self::Unavailable {
                        service,
                        detail: format!("{operation}: {code}: {detail}"),
                    }
                } else if code == "AccessDenied" {
                    Self::Denied {
                        service,
                        operation,
                        detail,
                    }
                } else {
                    Self::Rejected {
                        service,
                        operation,
                        code,
                        detail,
                    }
                }
            }
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                Self::Unavailable {
                    service,
                    detail: format!("{operation}: {}", DisplayErrorContext(&err)),
                }
            }
            // Construction failures and future variants are our own bugs, not outages.
            _ => Self::Internal {
                service,
                detail: format!("{operation}: {}", DisplayErrorContext(&err)),
            },
        }
    }

    /// A request that could not be built.
    pub(crate) fn build(service: Service, e: impl fmt::Display) -> Self {
        Self::Internal {
            service,
            detail: format!("request could not be built: {e}"),
        }
    }

    /// The service the failed call went to; `None` for what S3 answered about a bucket's
    /// contents or policy.
    pub fn service(&self) -> Option<Service> {
        match self {
            Self::Unavailable { service, .. }
            | Self::Denied { service, .. }
            | Self::Rejected { service, .. }
            | Self::Internal { service, .. } => Some(*service),
            Self::ExistingPolicy(_) | Self::NotEmptied { .. } | Self::PolicyFull { .. } => None,
        }
    }

    /// The AWS error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            Self::Denied { .. } => Some("AccessDenied"),
            Self::Unavailable { .. }
            | Self::ExistingPolicy(_)
            | Self::NotEmptied { .. }
            | Self::PolicyFull { .. }
            | Self::Internal { .. } => None,
        }
    }

    /// True when AWS refused the call with `AccessDenied`.
    pub fn is_denied(&self) -> bool {
        matches!(self, Self::Denied { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_labels_stay_the_metric_label_values() {
        assert_eq!(
            [Service::Sts, Service::S3, Service::Iam, Service::Sqs].map(Service::as_str),
            ["sts", "s3", "iam", "sqs"]
        );
        assert_eq!(Service::from_sdk("STS"), Some(Service::Sts));
        assert_eq!(Service::from_sdk("S3"), Some(Service::S3));
        assert_eq!(Service::from_sdk("SSO"), None);
    }

    fn refused(code: &str, status: u16, op: Option<&str>) -> Error {
        use aws_sdk_s3::error::ErrorMetadata;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        let mut raw = Response::new(status.try_into().unwrap(), aws_sdk_s3::primitives::SdkBody::empty());
        if let Some(op) = op {
            raw.add_extension(Operation(op.to_owned()));
        }
        let err = AssumeRoleError::generic(ErrorMetadata::builder().code(code).message("m").build());
        Error::from_sdk(Service::Sts, SdkError::service_error(err, raw))
    }

    #[test]
    fn sdk_errors_are_classified_and_name_the_operation_the_interceptor_recorded() {
        let denied = refused("AccessDenied", 403, Some("AssumeRole"));
        assert!(denied.is_denied(), "{denied:?}");
        assert_eq!(denied.to_string(), "sts refused AssumeRole: AccessDenied: m");
        assert!(matches!(
            refused("Throttling", 400, Some("AssumeRole")),
            Error::Unavailable {
                service: Service::Sts,
                ..
            }
        ));
        let packed = refused("PackedPolicyTooLarge", 400, None);
        assert_eq!(packed.code(), Some("PackedPolicyTooLarge"));
        assert_eq!(packed.to_string(), "sts refused a call: PackedPolicyTooLarge: m");
    }
}
