//! The global gate on AWS calls, taken inside the boundary: at most
//! `limits.max_concurrent_aws_calls` in flight, and `AssumeRole` within the account's STS quota
//! (AWS allows 600 `AssumeRole` requests per second per account and region).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::aws::{Error, Service};
use crate::config::{AwsConfig, LimitsConfig};
use crate::runtime::metrics::Metrics;

/// Global gate on AWS calls: at most `max_concurrent_aws_calls` in flight, and `AssumeRole` at
/// most `assume_role_per_second`. A call that cannot get through within the wait limit is
/// answered 503 rather than queued without bound.
pub struct AwsGate {
    in_flight: Semaphore,
    assume_role: DefaultDirectRateLimiter,
    max_wait: Duration,
    metrics: Arc<Metrics>,
}

impl AwsGate {
    pub fn new(config: &LimitsConfig, max_wait: Duration, metrics: Arc<Metrics>) -> Self {
        let per_second = NonZeroU32::new(config.share(config.assume_role_per_second)).unwrap_or(NonZeroU32::MIN);
        Self {
            in_flight: Semaphore::new(config.max_concurrent_aws_calls as usize),
            assume_role: RateLimiter::direct(Quota::per_second(per_second)),
            max_wait,
            metrics,
        }
    }

    /// A gate of its own for a one-off command (`bootstrap`, `doctor`, a test's set-up): the
    /// configured limits, and metrics no one serves.
    pub fn for_command(aws: &AwsConfig, limits: &LimitsConfig) -> Arc<Self> {
        Arc::new(Self::new(
            limits,
            Duration::from_secs(aws.call_timeout_seconds),
            Arc::new(Metrics::new()),
        ))
    }

    /// Where the calls behind this gate are counted.
    pub(in crate::aws) fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A slot for one S3 or STS call (or a run of them: a bucket's settings, a teardown).
    pub(in crate::aws) async fn call(&self, service: Service) -> Result<SemaphorePermit<'_>, Error> {
        tokio::time::timeout(self.max_wait, self.in_flight.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| Error::Unavailable {
                service,
                detail: "all AWS call slots busy (limits.max_concurrent_aws_calls)".to_owned(),
            })
    }

    /// Counts an attempt the SDK made again; a retried `AssumeRole` is charged to the
    /// per-second budget like a first attempt (without waiting: the retry is already under
    /// way), so retries cannot push STS past the configured rate unnoticed.
    pub(in crate::aws) fn note_retry(&self, service: Service, operation: &str) {
        self.metrics
            .aws_retries
            .with_label_values(&[service.as_str(), operation])
            .inc();
        if service == Service::Sts && operation == "AssumeRole" {
            let _charged = self.assume_role.check();
        }
    }

    /// A slot for one `AssumeRole` call, within the per-second budget.
    pub(in crate::aws) async fn assume_role(&self) -> Result<SemaphorePermit<'_>, Error> {
        tokio::time::timeout(self.max_wait, self.assume_role.until_ready())
            .await
            .map_err(|_| Error::Unavailable {
                service: Service::Sts,
                detail: "AssumeRole budget exhausted (limits.assume_role_per_second)".to_owned(),
            })?;
        self.call(Service::Sts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retried_assume_role_is_charged_to_the_budget_and_counted() {
        let config = LimitsConfig {
            assume_role_per_second: 1,
            ..LimitsConfig::default()
        };
        let gate = AwsGate::new(&config, Duration::from_secs(1), Arc::new(Metrics::new()));
        gate.note_retry(Service::S3, "PutBucketCors");
        assert!(
            gate.assume_role.check().is_ok(),
            "an S3 retry costs no AssumeRole budget"
        );
        let fresh = AwsGate::new(&config, Duration::from_secs(1), Arc::new(Metrics::new()));
        fresh.note_retry(Service::Sts, "AssumeRole");
        assert!(
            fresh.assume_role.check().is_err(),
            "the retry used this second's AssumeRole"
        );
        let retries = |g: &AwsGate, s: &str, o: &str| g.metrics.aws_retries.with_label_values(&[s, o]).get();
        assert_eq!(retries(&gate, "s3", "PutBucketCors"), 1);
        assert_eq!(retries(&fresh, "sts", "AssumeRole"), 1);
    }

    #[tokio::test]
    async fn the_gate_refuses_when_every_slot_stays_busy() {
        let config = LimitsConfig {
            max_concurrent_aws_calls: 1,
            ..LimitsConfig::default()
        };
        let gate = AwsGate::new(&config, Duration::from_millis(50), Arc::default());
        let held = gate.call(Service::S3).await.unwrap();
        assert!(matches!(gate.call(Service::S3).await, Err(Error::Unavailable { .. })));
        drop(held);
        assert!(gate.call(Service::S3).await.is_ok());
    }
}
