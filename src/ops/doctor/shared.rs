//! The shared bucket of prefix mode: there, locked down, and how full its policy is (every
//! revocation of its users lives in it).

use super::Status;
use crate::aws::s3::{Buckets, MAX_BUCKET_POLICY_BYTES, revocation_statements};
use crate::config::Config;
use crate::identity::BucketName;

/// `None` when no shared bucket is configured (bucket mode).
pub(super) async fn check_shared_bucket(buckets: &Buckets, config: &Config) -> Option<(Status, String)> {
    let bucket = config.storage.shared_bucket()?;
    Some(match settings(buckets, config, &bucket).await {
        Ok(fill) => (Status::Ok, format!("{bucket}: locked down; {fill}")),
        Err(reason) => (
            Status::Fail,
            format!("{bucket}: {reason}; `stsvend bootstrap` creates it and brings it in line"),
        ),
    })
}

async fn settings(buckets: &Buckets, config: &Config, bucket: &BucketName) -> Result<String, String> {
    let lockdown = buckets.lockdown(bucket).await.map_err(|e| e.to_string())?;
    if !lockdown.public_access_blocked {
        return Err("public access is not blocked on all four settings".to_owned());
    }
    if !lockdown.encrypted_by_default {
        return Err("no default encryption".to_owned());
    }
    if !config.storage.cors_allowed_origins.is_empty() && !lockdown.has_cors_rules {
        return Err("no CORS rules for storage.cors_allowed_origins (browsers cannot reach it)".to_owned());
    }
    let policy = buckets.current_policy(bucket).await.map_err(|e| e.to_string())?;
    let ours = revocation_statements(policy.as_deref()).map_err(|e| e.to_string())?;
    Ok(format!(
        "bucket policy {} of {MAX_BUCKET_POLICY_BYTES} bytes, {ours} revocation statements",
        policy.map_or(0, |p| p.len())
    ))
}
