//! `[limits]`: rates and bounds on vends, AWS calls and first logins, shared across replicas.

use serde::Deserialize;

use super::defaults;

#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    /// Sustained vends per user per minute; over it the answer is 429 with Retry-After.
    #[serde(default = "defaults::vends_per_minute")]
    pub vends_per_minute: u32,
    /// Vends a user may make in a burst above the sustained rate.
    #[serde(default = "defaults::vend_burst")]
    pub vend_burst: u32,
    /// STS and S3 calls in flight at once, across all users.
    #[serde(default = "defaults::max_concurrent_aws_calls")]
    pub max_concurrent_aws_calls: u32,
    /// `AssumeRole` calls per second, across all users (AWS's default quota is 600 per account
    /// and region, shared with everything else in the account).
    #[serde(default = "defaults::assume_role_per_second")]
    pub assume_role_per_second: u32,
    /// First logins (new users provisioned) per minute across the service; beyond it a new
    /// user gets 429 `provisioning_rate_limited` (anyone who can sign up makes a bucket).
    #[serde(default = "defaults::new_users_per_minute")]
    pub new_users_per_minute: u32,
    /// First logins in any 24 hours across the fleet (counted in the database, so every
    /// replica sees the same figure); beyond it a new user gets 429 `new_user_limit_reached`
    /// with Retry-After, and returning users are unaffected. The rate above only slows sign-up
    /// bots; this bounds the buckets they can use up. `0`: no limit. Absent: 2,000 in bucket
    /// mode, no limit in prefix mode (a prefix costs no bucket); see
    /// [`Config::new_users_per_day`].
    #[serde(default)]
    pub new_users_per_day: Option<u32>,
    /// Replicas sharing these limits behind one load balancer: each enforces its share
    /// (the rates above divided by this, rounded up), so the fleet as a whole holds them.
    #[serde(default = "defaults::replicas")]
    pub replicas: u32,
}

impl LimitsConfig {
    /// This replica's share of a fleet-wide `limit`: at least 1.
    pub fn share(&self, limit: u32) -> u32 {
        limit.div_ceil(self.replicas.max(1)).max(1)
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            vends_per_minute: defaults::vends_per_minute(),
            vend_burst: defaults::vend_burst(),
            max_concurrent_aws_calls: defaults::max_concurrent_aws_calls(),
            assume_role_per_second: defaults::assume_role_per_second(),
            replicas: defaults::replicas(),
            new_users_per_minute: defaults::new_users_per_minute(),
            new_users_per_day: None,
        }
    }
}
