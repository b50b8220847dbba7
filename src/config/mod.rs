//! Typed configuration: defaults -> `config.toml` -> `STSVEND_<SECTION>__<KEY>` environment.
//!
//! Start-up stops on any unknown key or invalid value, and the error lists every problem at
//! once so an operator fixes a file in one pass, not one complaint at a time.
//!
//! `Config` and its loading live here; each section's types in the file of its name
//! (`server`, `auth`, `aws`, `storage`, `policies`, `database`, `limits`, `admin`, `cache`,
//! `presign`, `orgs`, `sts`, `quota`; `claims` for `[policies.claims]`); `defaults` the default values, `env` the environment layer, `renamed` the keys
//! also read under an earlier name, `checks`
//! the checks serde cannot express, `sealing` the sealing-key format.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

mod admin;
mod auth;
mod aws;
mod cache;
mod checks;
mod claims;
mod database;
mod defaults;
mod env;
mod limits;
mod orgs;
mod policies;
mod presign;
mod quota;
mod renamed;
mod sealing;
mod server;
mod storage;
mod sts;

pub use admin::AdminConfig;
pub use auth::{AuthConfig, JWKS_REFRESH_RANGE};
pub use aws::{AwsConfig, STS_MAX_DURATION, STS_MIN_DURATION};
pub use cache::{CacheConfig, Secret};
pub use checks::ACCEPTED_ALGORITHMS;
pub use claims::ClaimConfig;
pub use database::DatabaseConfig;
pub use defaults::TOKEN_ENTRIES as DEFAULT_TOKEN_ENTRIES;
pub use limits::LimitsConfig;
pub use orgs::OrgsConfig;
pub use policies::PoliciesConfig;
pub use presign::PresignConfig;
pub use quota::{DEFAULT_RECONCILE_HOURS, QuotaConfig};
pub use sealing::parse_sealing_keys;
pub use server::{ClientAddressHeader, LogFormat, ServerConfig, TlsConfig};
pub use storage::{StorageConfig, StorageMode};
pub use sts::{MAX_SESSION_TAGS, ORG_TAG_KEY, StsConfig};

/// Prefix of environment overrides, e.g. `STSVEND_AWS__ROLE_ARN`.
pub const ENV_PREFIX: &str = "STSVEND_";

const SECTIONS: [&str; 13] = [
    "server", "auth", "aws", "storage", "policies", "database", "limits", "admin", "cache", "presign", "orgs", "sts",
    "quota",
];

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
    /// Session tags from token claims.
    #[serde(default)]
    pub sts: StsConfig,
    /// Storage quotas and usage; `None`: the feature is off.
    #[serde(default)]
    pub quota: Option<QuotaConfig>,
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
        let mut problems = renamed::in_file(&mut table);
        problems.extend(env::apply_env(&mut table, env));

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
