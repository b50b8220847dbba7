//! The AWS boundary: SDK configuration, the gate on calls (`gate`), STS (`sts`), S3 bucket set-up,
//! policies and teardown (`s3`), and how SDK errors are classified.

pub mod gate;
pub mod iam;
pub mod probe;
pub mod s3;
pub mod sts;

use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;

use self::gate::AwsGate;
use crate::config::AwsConfig;
use crate::runtime::metrics::Metrics;

/// Loads the SDK configuration: the standard credential chain, the configured region, and
/// timeouts short enough that an outage turns into a prompt 503 rather than a hung request.
pub async fn sdk_config(aws: &AwsConfig) -> aws_config::SdkConfig {
    let timeout = Duration::from_secs(aws.call_timeout_seconds);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(aws.region.clone()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2).min(timeout))
                .operation_attempt_timeout(timeout)
                .operation_timeout(timeout * 2)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    if let Some(url) = &aws.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

fn s3_conf(sdk: &aws_config::SdkConfig, aws: &AwsConfig) -> aws_sdk_s3::config::Builder {
    // Custom endpoints (MiniStack, VPC endpoints) are addressed path-style.
    aws_sdk_s3::config::Builder::from(sdk).force_path_style(aws.endpoint_url.is_some())
}

pub fn s3_client(sdk: &aws_config::SdkConfig, aws: &AwsConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_conf(sdk, aws).build())
}

pub fn sts_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(sdk)
}

/// The service's S3 client, with its retries counted by `gate`.
pub fn s3_client_counted(sdk: &aws_config::SdkConfig, aws: &AwsConfig, gate: &Arc<AwsGate>) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(s3_conf(sdk, aws).interceptor(RetryCounter(Arc::clone(gate))).build())
}

/// The service's STS client, with its retries counted by `gate` (and charged to the
/// `AssumeRole` budget).
pub fn sts_client_counted(sdk: &aws_config::SdkConfig, gate: &Arc<AwsGate>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .interceptor(RetryCounter(Arc::clone(gate)))
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// Tells the AWS gate of every attempt the SDK makes after the first.
struct RetryCounter(Arc<AwsGate>);

impl std::fmt::Debug for RetryCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryCounter")
    }
}

impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "stsvend-retry-counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let retry = cfg.load::<RequestAttempts>().is_some_and(|a| a.attempts() > 1);
        if retry && let Some(op) = cfg.load::<Metadata>() {
            self.0.note_retry(op.service(), op.name());
        }
        Ok(())
    }
}

/// Counts one AWS call and, if it failed, its failure kind; returns the classified result.
pub fn observe<T, E, R>(
    metrics: &Metrics,
    service: &'static str,
    operation: &'static str,
    result: Result<T, SdkError<E, R>>,
) -> Result<T, UpstreamError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    metrics.aws_calls.with_label_values(&[service, operation]).inc();
    result.map_err(|e| {
        let err = UpstreamError::classify(service, operation, &e);
        metrics
            .aws_errors
            .with_label_values(&[service, operation, err.kind()])
            .inc();
        err
    })
}

/// Like [`observe`], but a service error that `expected` accepts comes back as `Ok(Err(e))`:
/// an answer the caller handles (`NoSuchBucketPolicy`, `BucketAlreadyOwnedByYou`), counted as a
/// call and not as a failure.
pub fn observe_expected<T, E, R>(
    metrics: &Metrics,
    service: &'static str,
    operation: &'static str,
    result: Result<T, SdkError<E, R>>,
    expected: impl Fn(&E) -> bool,
) -> Result<Result<T, E>, UpstreamError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Err(SdkError::ServiceError(se)) if expected(se.err()) => {
            metrics.aws_calls.with_label_values(&[service, operation]).inc();
            Ok(Err(se.into_err()))
        }
        other => observe(metrics, service, operation, other).map(Ok),
    }
}

/// An AWS call that did not succeed, reduced to what the HTTP edge needs to decide.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Network failure, timeout, throttling or a 5xx: worth retrying later (503).
    #[error("{service} unavailable: {detail}")]
    Unavailable { service: &'static str, detail: String },
    /// AWS refused the call (permissions, validation): a configuration problem (500).
    #[error("{service} refused {operation}: {code}: {detail}")]
    Rejected {
        service: &'static str,
        operation: &'static str,
        code: String,
        detail: String,
    },
}

const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
];

impl UpstreamError {
    pub fn classify<E, R>(service: &'static str, operation: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match err {
            SdkError::ServiceError(se) => {
                let code = se.err().code().unwrap_or("Unknown").to_owned();
                let detail = se.err().message().unwrap_or_default().to_owned();
                if TRANSIENT_CODES.contains(&code.as_str()) {
                    Self::Unavailable {
                        service,
                        detail: format!("{operation}: {code}: {detail}"),
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
                    detail: format!("{operation}: {}", aws_sdk_s3::error::DisplayErrorContext(err)),
                }
            }
            // Construction failures and future variants are our own bugs, not outages.
            _ => Self::Rejected {
                service,
                operation,
                code: "ClientError".to_owned(),
                detail: aws_sdk_s3::error::DisplayErrorContext(err).to_string(),
            },
        }
    }

    /// True when AWS refused the call with `code`.
    pub fn is_rejected_with(&self, code: &str) -> bool {
        matches!(self, Self::Rejected { code: c, .. } if c == code)
    }

    /// `unavailable` or `rejected`, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::Rejected { .. } => "rejected",
        }
    }

    /// The AWS error code, when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            Self::Unavailable { .. } => None,
        }
    }
}
