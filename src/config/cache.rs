//! `[cache]`: what the in-memory caches may hold, how replicas stay coherent through the
//! change feed, and the keys sealing credentials shared through the database.

use serde::Deserialize;

use super::defaults;

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
