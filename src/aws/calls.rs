//! Call metrics, taken where every AWS call passes: interceptors on the SDK clients. Each
//! operation is counted once (`stsvend_aws_calls_total`), after its retries, and a failure once
//! by kind (`stsvend_aws_errors_total`, `unavailable` or `rejected`); each retry is counted and
//! a retried `AssumeRole` charged to the gate's budget (`stsvend_aws_retries_total`). The
//! service and operation labels come from the SDK's own operation metadata, so no call site
//! labels its call.

use std::sync::Arc;

use aws_sdk_s3::config::interceptors::{BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextMut};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::http::Response;

use super::error::{Operation, Service, TRANSIENT_CODES};
use super::gate::AwsGate;
use crate::runtime::metrics::Metrics;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Error answers stsvend asks for and acts on (`(operation, AWS error code)`): counted as calls,
/// not as failures. A bucket that exists already, or not at all; a bucket without a policy.
pub(crate) const ANSWERS: &[(&str, &str)] = &[
    ("CreateBucket", "BucketAlreadyOwnedByYou"),
    ("CreateBucket", "BucketAlreadyExists"),
    ("CreateBucket", "TooManyBuckets"),
    ("CreateBucket", "OperationAborted"),
    ("GetBucketPolicy", "NoSuchBucketPolicy"),
    ("HeadBucket", "NotFound"),
    ("ListObjectsV2", "NoSuchBucket"),
];

/// What a revocation probe waits for: its session refused.
pub(crate) const PROBE_ANSWERS: &[(&str, &str)] = &[("ListObjectsV2", "AccessDenied")];

/// Counts each operation and its failures in `metrics`, and names the operation on the
/// response (so `aws::Error` can say which call failed).
#[derive(Clone)]
pub(crate) struct CallMetrics {
    metrics: Arc<Metrics>,
    answers: &'static [(&'static str, &'static str)],
}

impl CallMetrics {
    pub(crate) fn new(metrics: Arc<Metrics>, answers: &'static [(&'static str, &'static str)]) -> Self {
        Self { metrics, answers }
    }

    /// `None` for a success or an answer in `answers`; otherwise the failure's kind.
    fn failure(&self, operation: &str, context: &FinalizerInterceptorContextMut<'_>) -> Option<&'static str> {
        let error = context.output_or_error()?.err()?;
        if !error.is_operation_error() {
            return Some(
                if error.is_timeout_error() || error.is_connector_error() || error.is_response_error() {
                    "unavailable"
                } else {
                    // An interceptor's or our own request's fault: not an outage.
                    "rejected"
                },
            );
        }
        let code = context.response().map(error_code).unwrap_or_default();
        if self.answers.contains(&(operation, code.as_str())) {
            None
        } else if TRANSIENT_CODES.contains(&code.as_str()) {
            Some("unavailable")
        } else {
            Some("rejected")
        }
    }
}

impl std::fmt::Debug for CallMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallMetrics")
    }
}

impl Intercept for CallMetrics {
    fn name(&self) -> &'static str {
        "stsvend-call-metrics"
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let operation = op.name().to_owned();
        if let Some(service) = Service::from_sdk(op.service()) {
            let labels = [service.as_str(), operation.as_str()];
            self.metrics.aws_calls.with_label_values(&labels).inc();
            if let Some(kind) = self.failure(&operation, context) {
                self.metrics
                    .aws_errors
                    .with_label_values(&[labels[0], labels[1], kind])
                    .inc();
            }
        }
        if let Some(response) = context.response_mut() {
            response.add_extension(Operation(operation));
        }
        Ok(())
    }
}

/// AWS's error code in a failed answer: the `<Code>` of its XML body (S3, STS and IAM all
/// answer so), or, for an answer without a body (`HEAD`), the one the SDK gives its status.
fn error_code(response: &Response) -> String {
    let body = response.body().bytes().and_then(|b| std::str::from_utf8(b).ok());
    if let Some(code) = body.and_then(|text| {
        let start = text.find("<Code>")? + "<Code>".len();
        let len = text[start..].find("</Code>")?;
        Some(text[start..start + len].trim().to_owned())
    }) {
        return code;
    }
    match response.status().as_u16() {
        404 => "NotFound",
        403 => "Forbidden",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        _ => "Unknown",
    }
    .to_owned()
}

/// Tells the AWS gate of every attempt the SDK makes after the first.
pub(crate) struct RetryCounter(pub(crate) Arc<AwsGate>);

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
    ) -> Result<(), BoxError> {
        let retry = cfg.load::<RequestAttempts>().is_some_and(|a| a.attempts() > 1);
        if retry
            && let Some(op) = cfg.load::<Metadata>()
            && let Some(service) = Service::from_sdk(op.service())
        {
            self.0.note_retry(service, op.name());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::primitives::SdkBody;

    fn answer(status: u16, body: &str) -> Response {
        Response::new(status.try_into().unwrap(), SdkBody::from(body.to_owned()))
    }

    #[test]
    fn the_error_code_is_read_from_the_body_or_the_status() {
        let s3 = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucketPolicy</Code><Message>m</Message></Error>";
        assert_eq!(error_code(&answer(404, s3)), "NoSuchBucketPolicy");
        let sts = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code></Error></ErrorResponse>";
        assert_eq!(error_code(&answer(403, sts)), "AccessDenied");
        assert_eq!(error_code(&answer(404, "")), "NotFound");
        assert_eq!(error_code(&answer(503, "")), "ServiceUnavailable");
    }
}
