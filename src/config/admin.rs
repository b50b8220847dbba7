//! `[admin]`: the admin API's permission and how long its revokes wait.

use serde::Deserialize;

use super::defaults;

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

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            permission: None,
            revoke_wait_seconds: defaults::revoke_wait_seconds(),
            policy_lease_seconds: defaults::policy_lease_seconds(),
        }
    }
}
