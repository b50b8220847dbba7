//! Limits that keep one user, or a burst of new users, from exhausting shared capacity: a
//! per-user rate of vends and a fleet-wide rate of new users. The gate on AWS calls that
//! protects the account's STS quota lives at the AWS boundary (`aws::gate`).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::identity::UserId;

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
}
