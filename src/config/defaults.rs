//! Default values of the optional settings (serde `default = "defaults::..."`).
pub fn replicas() -> u32 {
    1
}
pub fn new_users_per_minute() -> u32 {
    600
}
/// `limits.new_users_per_day` in bucket mode when absent: a fifth of AWS's default bucket
/// quota (10,000), so sign-up bots need five days to use it up and the quota alert fires first.
pub const NEW_USERS_PER_DAY: u32 = 2_000;
pub fn credentials_mib() -> u64 {
    // ~6.5k users' AWS-sized credentials and response bodies; the rest wait sealed in the
    // spill table.
    16
}
pub fn mapping_entries() -> u64 {
    20_000
}
pub fn coherence_poll_ms() -> u64 {
    250
}
pub fn change_retention_seconds() -> u64 {
    3600
}
/// `cache.token_entries`: verified tokens kept at most. An entry takes about 400 bytes, so a full
/// cache stays under 10 MiB.
pub const TOKEN_ENTRIES: u64 = 20_000;
pub fn token_entries() -> u64 {
    TOKEN_ENTRIES
}
pub fn vends_per_minute() -> u32 {
    60
}
pub fn vend_burst() -> u32 {
    30
}
pub fn max_concurrent_aws_calls() -> u32 {
    64
}
pub fn assume_role_per_second() -> u32 {
    300
}
pub fn max_body_bytes() -> usize {
    4096
}
pub fn leeway_seconds() -> u64 {
    30
}
pub fn algorithms() -> Vec<String> {
    vec!["RS256".to_owned()]
}
pub fn max_token_lifetime_seconds() -> u64 {
    30 * 24 * 3600
}
pub fn revoke_wait_seconds() -> u64 {
    15
}
pub fn policy_lease_seconds() -> u32 {
    30
}
pub fn prefix_root() -> String {
    "users".to_owned()
}
pub fn org_prefix_root() -> String {
    "orgs".to_owned()
}
pub fn bucket_quota() -> u32 {
    10_000
}
pub fn jwks_refetch_cooldown_seconds() -> u64 {
    30
}
pub fn jwks_refresh_seconds() -> u64 {
    300
}
pub fn session_duration_seconds() -> u64 {
    3600
}
pub fn min_remaining_seconds() -> u64 {
    // boto3 and the AWS CLI refresh 15 minutes before expiry; 20 leaves them headroom.
    1200
}
pub fn session_tag_key() -> String {
    "stsvend-user".to_owned()
}
pub fn call_timeout_seconds() -> u64 {
    5
}
