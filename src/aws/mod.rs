//! The AWS boundary: everything that talks to AWS, and the only code that names an SDK type.
//! SDK configuration (here), the gate on calls (`gate`, taken inside the boundary), the call
//! metrics (`calls`, interceptors on every client), STS (`sts`), SQS for the usage ledger's queue (`sqs`), IAM for `bootstrap` and
//! `doctor` (`iam`), S3 bucket set-up, policies, teardown and signing (`s3`), and the one
//! classified error callers see (`Error`, with the `Service` it concerns).

mod calls;
mod error;
pub mod gate;
pub mod iam;
pub mod probe;
pub mod s3;
pub mod sqs;
pub mod sts;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::config::AwsConfig;

pub use error::{Error, Service};

/// Log filter directives that keep the SDK's own logging to warnings (`RUST_LOG` overrides).
pub const LOG_DIRECTIVES: &[&str] = &["aws_config=warn", "aws_smithy_runtime=warn"];

/// The SDK set-up every client of the boundary is built from: the standard credential chain,
/// the configured region and endpoint, and timeouts short enough that an outage turns into a
/// prompt 503 rather than a hung request.
pub struct Sdk {
    config: aws_config::SdkConfig,
    /// Custom endpoints (`MiniStack`, VPC endpoints) are addressed path-style.
    path_style: bool,
    /// `aws.call_timeout_seconds`: a long poll waits this much beyond its own wait.
    call_timeout: Duration,
}

impl Sdk {
    pub async fn load(aws: &AwsConfig) -> Self {
        Self {
            config: sdk_config(aws).await,
            path_style: aws.endpoint_url.is_some(),
            call_timeout: Duration::from_secs(aws.call_timeout_seconds),
        }
    }

    fn s3_config(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::from(&self.config).force_path_style(self.path_style)
    }

    fn sts_config(&self) -> aws_sdk_sts::config::Builder {
        aws_sdk_sts::config::Builder::from(&self.config)
    }

    fn iam_config(&self) -> aws_sdk_iam::config::Builder {
        aws_sdk_iam::config::Builder::from(&self.config)
    }
}

async fn sdk_config(aws: &AwsConfig) -> aws_config::SdkConfig {
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
