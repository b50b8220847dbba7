//! `[aws]`: the role whose sessions are vended, the session durations STS accepts, and the
//! timeouts of every AWS call.

use serde::Deserialize;

use super::defaults;

/// STS accepts `AssumeRole` durations in this range (seconds).
pub const STS_MIN_DURATION: u64 = 900;
pub const STS_MAX_DURATION: u64 = 43_200;

#[derive(Debug, Clone, Deserialize)]
pub struct AwsConfig {
    pub region: String,
    /// Custom AWS endpoint (`MiniStack`, `LocalStack`, a VPC endpoint); vended bodies carry it.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// The role whose sessions are vended, narrowed per user by the session policy.
    pub role_arn: String,
    #[serde(default = "defaults::session_duration_seconds")]
    pub session_duration_seconds: u64,
    /// Cached credentials are handed out again only while this much lifetime is left.
    #[serde(default = "defaults::min_remaining_seconds")]
    pub min_remaining_seconds: u64,
    /// Session tag carrying the user id (usable as `aws:PrincipalTag/<key>` in bucket policies).
    #[serde(default = "defaults::session_tag_key")]
    pub session_tag_key: String,
    /// Per-call timeout for STS and S3, so an outage answers 503 quickly instead of hanging.
    #[serde(default = "defaults::call_timeout_seconds")]
    pub call_timeout_seconds: u64,
    /// Allows session durations under STS's 900-second minimum. Only for local test stacks
    /// (`MiniStack` accepts them; AWS refuses them), to watch clients refresh within seconds.
    #[serde(default)]
    pub allow_short_sessions: bool,
}

impl AwsConfig {
    /// The account of `role_arn`: user buckets live in it, and policies pin them to it.
    ///
    /// # Panics
    /// Never on a loaded config: `validate` refuses a role ARN without a 12-digit account.
    pub fn account_id(&self) -> crate::identity::AccountId {
        crate::identity::AccountId::from_role_arn(&self.role_arn).expect("aws.role_arn is checked at load")
    }
}
