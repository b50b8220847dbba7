//! Limits that keep one user, or a burst of new users, from exhausting shared capacity:
//! a per-user rate of vends, and a global gate on STS/S3 calls that protects the account's
//! STS quota (AWS allows 600 `AssumeRole` requests per second per account and region).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::aws::UpstreamError;
use crate::config::LimitsConfig;
use crate::identity::UserId;
use crate::metrics::Metrics;

/// Per-user rate of vends.
pub struct VendRate {
    limiter: DefaultKeyedRateLimiter<UserId>,
}

impl VendRate {
    pub fn new(config: &LimitsConfig) -> Self {
        let per_minute = NonZeroU32::new(config.share(config.vends_per_minute)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.share(config.vend_burst)).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
        }
    }

    /// `Err(wait)` when `user` has used up their allowance; `wait` is when to retry.
    pub fn check(&self, user: &UserId) -> Result<(), Duration> {
        self.limiter
            .check_key(user)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets users whose allowance is full again, so memory follows active users only.
    pub fn spawn_pruner(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_mins(1)).await;
                let Some(rate) = weak.upgrade() else { return };
                rate.limiter.retain_recent();
                rate.limiter.shrink_to_fit();
            }
        })
    }
}

/// First logins per minute across the service (this replica's share of
/// `limits.new_users_per_minute`); a whole minute's worth may arrive at once.
pub struct NewUserRate {
    limiter: DefaultDirectRateLimiter,
}

impl NewUserRate {
    pub fn new(config: &LimitsConfig) -> Self {
        let per_minute = config.share(config.new_users_per_minute);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// `Err(wait)` when another first login now would exceed the rate.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

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

    /// Where the callers behind this gate count their AWS calls.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A slot for one S3 or STS call.
    pub async fn call(&self, service: &'static str) -> Result<SemaphorePermit<'_>, UpstreamError> {
        tokio::time::timeout(self.max_wait, self.in_flight.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| UpstreamError::Unavailable {
                service,
                detail: "all AWS call slots busy (limits.max_concurrent_aws_calls)".to_owned(),
            })
    }

    /// Counts an attempt the SDK made again; a retried `AssumeRole` is charged to the
    /// per-second budget like a first attempt (without waiting: the retry is already under
    /// way), so retries cannot push STS past the configured rate unnoticed.
    pub fn note_retry(&self, service: &str, operation: &str) {
        let service = service.to_ascii_lowercase();
        self.metrics
            .aws_retries
            .with_label_values(&[service.as_str(), operation])
            .inc();
        if service == "sts" && operation == "AssumeRole" {
            let _charged = self.assume_role.check();
        }
    }

    /// A slot for one `AssumeRole` call, within the per-second budget.
    pub async fn assume_role(&self) -> Result<SemaphorePermit<'_>, UpstreamError> {
        tokio::time::timeout(self.max_wait, self.assume_role.until_ready())
            .await
            .map_err(|_| UpstreamError::Unavailable {
                service: "sts",
                detail: "AssumeRole budget exhausted (limits.assume_role_per_second)".to_owned(),
            })?;
        self.call("sts").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, burst: u32) -> LimitsConfig {
        LimitsConfig {
            vends_per_minute: per_minute,
            vend_burst: burst,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn a_retried_assume_role_is_charged_to_the_budget_and_counted() {
        let config = LimitsConfig {
            assume_role_per_second: 1,
            ..LimitsConfig::default()
        };
        let gate = AwsGate::new(&config, Duration::from_secs(1), Arc::new(Metrics::new()));
        gate.note_retry("S3", "PutBucketCors");
        assert!(
            gate.assume_role.check().is_ok(),
            "an S3 retry costs no AssumeRole budget"
        );
        let fresh = AwsGate::new(&config, Duration::from_secs(1), Arc::new(Metrics::new()));
        fresh.note_retry("STS", "AssumeRole");
        assert!(
            fresh.assume_role.check().is_err(),
            "the retry used this second's AssumeRole"
        );
        let retries = |g: &AwsGate, s: &str, o: &str| g.metrics.aws_retries.with_label_values(&[s, o]).get();
        assert_eq!(retries(&gate, "s3", "PutBucketCors"), 1);
        assert_eq!(retries(&fresh, "sts", "AssumeRole"), 1);
    }

    #[test]
    fn a_user_gets_the_burst_then_waits_while_others_are_unaffected() {
        let rate = VendRate::new(&limits(60, 3));
        let alice = UserId::derive("i", "alice");
        for _ in 0..3 {
            assert!(rate.check(&alice).is_ok());
        }
        let wait = rate.check(&alice).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(rate.check(&UserId::derive("i", "bob")).is_ok());
    }

    #[test]
    fn three_replicas_round_robin_hold_a_users_fleet_wide_burst() {
        // Each replica of three enforces a third; a user whose requests the balancer spreads
        // over them gets the configured burst from the fleet, not three times it.
        let config = LimitsConfig {
            replicas: 3,
            ..limits(60, 9)
        };
        let fleet: Vec<VendRate> = (0..3).map(|_| VendRate::new(&config)).collect();
        let alice = UserId::derive("i", "alice");
        let allowed = (0..30).filter(|i| fleet[i % 3].check(&alice).is_ok()).count();
        assert_eq!(allowed, 9);
        assert_eq!(config.share(300), 100);
        assert_eq!(config.share(1), 1, "never below one");
        assert_eq!(LimitsConfig { replicas: 4, ..config }.share(10), 3, "rounded up");
    }

    #[tokio::test]
    async fn the_gate_refuses_when_every_slot_stays_busy() {
        let config = LimitsConfig {
            max_concurrent_aws_calls: 1,
            ..LimitsConfig::default()
        };
        let gate = AwsGate::new(&config, Duration::from_millis(50), Arc::default());
        let held = gate.call("s3").await.unwrap();
        assert!(matches!(gate.call("s3").await, Err(UpstreamError::Unavailable { .. })));
        drop(held);
        assert!(gate.call("s3").await.is_ok());
    }
}
