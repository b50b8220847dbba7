//! Typed configuration: defaults -> `config.toml` -> `STSVEND_<SECTION>__<KEY>` environment.
//!
//! Start-up stops on any unknown key or invalid value, and the error lists every problem at
//! once so an operator fixes a file in one pass, not one complaint at a time.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod checks;
mod database;
mod defaults;
mod env;
mod orgs;
mod presign;
mod sealing;

pub use checks::ACCEPTED_ALGORITHMS;
pub use defaults::TOKEN_ENTRIES as DEFAULT_TOKEN_ENTRIES;
pub use sealing::parse_sealing_keys;

pub use database::DatabaseConfig;
pub use orgs::OrgsConfig;
pub use presign::PresignConfig;

/// Prefix of environment overrides, e.g. `STSVEND_AWS__ROLE_ARN`.
pub const ENV_PREFIX: &str = "STSVEND_";

const SECTIONS: [&str; 11] = [
    "server", "auth", "aws", "storage", "policies", "database", "limits", "admin", "cache", "presign", "orgs",
];

/// `auth.jwks_refresh_seconds` range: a second (test stacks watching a key rotation) to a day.
pub const JWKS_REFRESH_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

/// STS accepts `AssumeRole` durations in this range (seconds).
pub const STS_MIN_DURATION: u64 = 900;
pub const STS_MAX_DURATION: u64 = 43_200;

/// Unknown keys are collected by `serde_ignored` (not `deny_unknown_fields`, which would stop
/// at the first one), so every unknown key is reported together.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub aws: AwsConfig,
    pub storage: StorageConfig,
    pub policies: PoliciesConfig,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub presign: PresignConfig,
    /// Organisations; `None`: the feature is off.
    #[serde(default)]
    pub orgs: Option<OrgsConfig>,
}

/// How much the in-memory caches may hold. Beyond it, credentials are sealed and spilled to
/// the database, mappings are re-read from it, and tokens are checked in full again.
#[derive(Debug, Clone, Deserialize)]
pub struct CacheConfig {
    /// Memory for vended credentials, MiB (about 2.5 KiB per user and access level with AWS's
    /// session tokens).
    #[serde(default = "defaults::credentials_mib")]
    pub credentials_mib: u64,
    /// Users whose bucket mapping is kept in memory.
    #[serde(default = "defaults::mapping_entries")]
    pub mapping_entries: u64,
    /// Verified access tokens kept until their `exp` (skips the signature check on repeats).
    #[serde(default = "defaults::token_entries")]
    pub token_entries: u64,
    /// How often each process reads the change feed and drops what it cached about users an
    /// operator (or another process) changed: the bound on how long a disable, revoke or
    /// delete made elsewhere takes to hold here. `PostgreSQL` also notifies at once.
    #[serde(default = "defaults::coherence_poll_ms")]
    pub coherence_poll_ms: u64,
    /// How long the change feed keeps a change, seconds. A replica that could not read the
    /// feed for longer (database unreachable, process paused) may have missed changes: it then
    /// drops every cached mapping and credential. Short values are for tests.
    #[serde(default = "defaults::change_retention_seconds")]
    pub change_retention_seconds: u64,
    /// Keys sealing the credentials the fleet shares through the database: `id:base64` of 32
    /// random bytes, comma-separated; the first seals, all open. Give every replica the same,
    /// from the environment (`STSVEND_CACHE__SEALING_KEYS`). Empty: each process draws its own,
    /// and shares nothing.
    #[serde(default)]
    pub sealing_keys: Secret,
}

/// A secret from the configuration: `Debug` never shows it.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "<none>" } else { "<redacted>" })
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            permission: None,
            revoke_wait_seconds: defaults::revoke_wait_seconds(),
            policy_lease_seconds: defaults::policy_lease_seconds(),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            credentials_mib: defaults::credentials_mib(),
            mapping_entries: defaults::mapping_entries(),
            token_entries: defaults::token_entries(),
            coherence_poll_ms: defaults::coherence_poll_ms(),
            change_retention_seconds: defaults::change_retention_seconds(),
            sealing_keys: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    /// Address the HTTP API listens on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest request body accepted on the API, in bytes.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
    /// Where Prometheus metrics are served (`GET /metrics`), apart from the API; none if absent.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
    /// `text` (human) or `json` (one JSON object per line).
    #[serde(default)]
    pub log_format: LogFormat,
    /// Browser origins that may call the API (CORS); none by default. Never `*`: the API hands
    /// out keys.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// A second listener serving the same API over TLS (rustls), for clients that refuse plain
    /// HTTP to anything but loopback (the AWS SDKs' container-credentials provider).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Peers (CIDRs) whose `Forwarded` / `X-Forwarded-For` headers name the real client: the
    /// load balancers in front of the service. Requests from anyone else are taken as coming
    /// from their own address, whatever headers they send.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header a trusted proxy names the client in: `x-forwarded-for` (`HAProxy`'s
    /// `option forwardfor`, nginx, AWS ALB) or `forwarded` (RFC 7239). The other is never
    /// read: a balancer passes a client's own copy of it through untouched.
    #[serde(default)]
    pub client_address_header: ClientAddressHeader,
}

/// Where a trusted proxy puts the client's address (`server.client_address_header`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum ClientAddressHeader {
    /// `X-Forwarded-For`, appended to by every proxy on the way.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// `Forwarded: for=...` (RFC 7239).
    #[serde(rename = "forwarded")]
    Forwarded,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TlsConfig {
    pub bind: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

/// The admin API (`/admin/v1`): off unless a permission is configured.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminConfig {
    /// Token scope or permission that grants the admin API, e.g. `admin:users`.
    #[serde(default)]
    pub permission: Option<String>,
    /// How long `revoke` waits for AWS to apply the new bucket policy (a session issued before
    /// the cut-off refused) before answering 202 `propagating` instead of 200.
    #[serde(default = "defaults::revoke_wait_seconds")]
    pub revoke_wait_seconds: u64,
    /// Prefix mode: how long one write of the shared bucket's policy holds the fleet's lease
    /// on it. A writer that died frees it after this; one stalled past it finds the lease
    /// claimed since and writes again; a revoke waits this plus 5 s for it, then answers 503.
    #[serde(default = "defaults::policy_lease_seconds")]
    pub policy_lease_seconds: u32,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// Exact `iss` of accepted tokens. Auth0 issuers end with a slash, and so must this.
    pub issuer: String,
    /// The API identifier that must appear in `aud` (a string or an array).
    pub audience: String,
    /// JWKS address; when absent it is read from the issuer's OIDC discovery document.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "defaults::leeway_seconds")]
    pub leeway_seconds: u64,
    /// Signature algorithms accepted; anything else is refused before the key is looked up.
    #[serde(default = "defaults::algorithms")]
    pub algorithms: Vec<String>,
    /// How long a `kid` found missing from a fetched JWKS is answered `unknown_key` without
    /// another fetch. A `kid` not looked up before still triggers one (see `auth::jwks`).
    #[serde(default = "defaults::jwks_refetch_cooldown_seconds")]
    pub jwks_refetch_cooldown_seconds: u64,
    /// The JWKS is fetched again this often, whatever else happens: a key removed from the
    /// issuer stops verifying (cached tokens included) within about this long.
    #[serde(default = "defaults::jwks_refresh_seconds")]
    pub jwks_refresh_seconds: u64,
    /// Lets `issuer` and `jwks_url` (and so the discovered JWKS) be plain `http://`: only for a
    /// local test issuer. Loopback gets no exception; without this, `https://` is required.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Tokens whose `exp` lies further ahead than this are refused (Auth0 issues access tokens
    /// for at most 30 days), so a mis-issued "forever" token does not work forever.
    #[serde(default = "defaults::max_token_lifetime_seconds")]
    pub max_token_lifetime_seconds: u64,
    /// Client-credentials (machine) tokens have no user behind them; refused unless enabled.
    #[serde(default)]
    pub allow_client_credentials: bool,
    /// Claims a user's token must carry, with these exact values (a string, a boolean or an
    /// integer), before stsvend makes them a bucket or hands them keys: e.g.
    /// `email_verified = true`, or an organisation id. Anyone who can sign up at the issuer
    /// can otherwise have a bucket made.
    #[serde(default)]
    pub required_claims: std::collections::BTreeMap<String, serde_json::Value>,
}

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

#[derive(Debug, Clone, Deserialize)]
pub struct StorageConfig {
    /// Every user bucket is `<prefix>-<random part>`; the role's own policy is limited to it.
    pub bucket_prefix: String,
    /// Browser origins allowed by each bucket's CORS rules.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// SSE-KMS key for default encryption; SSE-S3 when absent.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// The account's bucket quota, for `doctor` to compare the buckets used with (AWS does not
    /// let the service read it without the Service Quotas API).
    #[serde(default = "defaults::bucket_quota")]
    pub bucket_quota: u32,
    /// Where new users' storage goes: a bucket each, or a prefix of `shared_bucket`. Existing
    /// users keep the mode recorded with them.
    #[serde(default)]
    pub mode: StorageMode,
    /// Prefix mode: the one bucket every new user gets a prefix of. Named `<bucket_prefix>-...`
    /// so the role's permissions (limited to `<bucket_prefix>-*`) reach it.
    #[serde(default)]
    pub shared_bucket: Option<String>,
    /// Prefix mode: each user's objects live under `<prefix_root>/<user id>/`.
    #[serde(default = "defaults::prefix_root")]
    pub prefix_root: String,
    /// Prefix mode: each organisation's objects live under `<org_prefix_root>/<org id>/` of
    /// the shared bucket (`[orgs]`). Must not overlap `prefix_root`.
    #[serde(default = "defaults::org_prefix_root")]
    pub org_prefix_root: String,
}

/// How a new user's storage is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// A locked-down bucket of the user's own (created on first login).
    #[default]
    Bucket,
    /// A prefix of `storage.shared_bucket` (no S3 call on first login).
    Prefix,
}

impl StorageConfig {
    /// The shared bucket, in prefix mode (checked at load).
    pub fn shared_bucket(&self) -> Option<crate::identity::BucketName> {
        self.shared_bucket
            .as_deref()
            .and_then(|b| crate::identity::BucketName::parse(b).ok())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct PoliciesConfig {
    pub dir: PathBuf,
    /// Template vended when the request names none.
    pub default: String,
    /// Template name -> the scopes or permissions of which a token needs at least one.
    pub grants: BTreeMap<String, Vec<String>>,
}

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

impl AwsConfig {
    /// The account of `role_arn`: user buckets live in it, and policies pin them to it.
    ///
    /// # Panics
    /// Never on a loaded config: `validate` refuses a role ARN without a 12-digit account.
    pub fn account_id(&self) -> crate::identity::AccountId {
        crate::identity::AccountId::from_role_arn(&self.role_arn).expect("aws.role_arn is checked at load")
    }
}

impl Config {
    /// The limit on first logins in any 24 hours that applies (`limits.new_users_per_day`):
    /// the configured one, or when absent [`defaults::NEW_USERS_PER_DAY`] in bucket mode and
    /// none in prefix mode. `None`: no limit (also when configured as 0).
    pub fn new_users_per_day(&self) -> Option<std::num::NonZeroU32> {
        match (self.limits.new_users_per_day, self.storage.mode) {
            (Some(n), _) => std::num::NonZeroU32::new(n),
            (None, StorageMode::Bucket) => std::num::NonZeroU32::new(defaults::NEW_USERS_PER_DAY),
            (None, StorageMode::Prefix) => None,
        }
    }
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

/// Every problem found in a configuration, reported together.
#[derive(Debug)]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({}):", self.source_name)?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `path`, applies `STSVEND_*` overrides from the process environment, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            problems: vec![format!("cannot read file: {e}")],
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::from_sources(&path.display().to_string(), &text, &env)
    }

    /// Parses TOML text with the given environment pairs applied on top; pure, for tests.
    pub fn from_sources(source_name: &str, text: &str, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let fail = |problems| ConfigError {
            source_name: source_name.to_owned(),
            problems,
        };
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| fail(vec![e.to_string()]))?;
        let mut problems = env::apply_env(&mut table, env);

        let mut unknown = Vec::new();
        let parsed: Result<Config, _> = serde_ignored::deserialize(toml::Value::Table(table), |path| {
            unknown.push(path.to_string());
        });
        problems.extend(unknown.into_iter().map(|k| format!("unknown key `{k}`")));
        match parsed {
            Ok(config) => {
                problems.extend(config.problems());
                if problems.is_empty() {
                    Ok(config)
                } else {
                    Err(fail(problems))
                }
            }
            Err(e) => {
                problems.push(e.to_string());
                Err(fail(problems))
            }
        }
    }
}

#[cfg(test)]
mod tests;
