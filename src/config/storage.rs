//! `[storage]`: where users' (and organisations') objects live: a bucket each, named
//! `<bucket_name_prefix>-<random part>`, or a prefix of one shared bucket.

use serde::Deserialize;

use super::defaults;

#[derive(Debug, Clone, Deserialize)]
pub struct StorageConfig {
    /// Every bucket stsvend makes is `<bucket_name_prefix>-<random part>`; the role's own
    /// policy is limited to those. Also read as `bucket_prefix`, its name before the user's
    /// storage prefix (`prefix_root`) existed, so older files and environments still load.
    pub bucket_name_prefix: String,
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
    /// Prefix mode: the one bucket every new user gets a prefix of. Named `<bucket_name_prefix>-...`
    /// so the role's permissions (limited to `<bucket_name_prefix>-*`) reach it.
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
