//! The shared bucket of prefix mode: there, locked down, and how full its policy is (every
//! revocation of its users lives in it).

use std::sync::Arc;

use super::Status;
use crate::aws::UpstreamError;
use crate::aws::s3::{Buckets, MAX_BUCKET_POLICY_BYTES, revocation_statements};
use crate::config::Config;
use crate::identity::BucketName;
use crate::runtime::metrics::Metrics;

/// `None` when no shared bucket is configured (bucket mode).
pub(super) async fn check_shared_bucket(s3: &aws_sdk_s3::Client, config: &Config) -> Option<(Status, String)> {
    let bucket = config.storage.shared_bucket()?;
    Some(match settings(s3, config, &bucket).await {
        Ok(fill) => (Status::Ok, format!("{bucket}: locked down; {fill}")),
        Err(reason) => (
            Status::Fail,
            format!("{bucket}: {reason}; `stsvend bootstrap` creates it and brings it in line"),
        ),
    })
}

async fn settings(s3: &aws_sdk_s3::Client, config: &Config, bucket: &BucketName) -> Result<String, String> {
    let b = bucket.as_str();
    let owner = config.aws.account_id();
    s3.head_bucket()
        .bucket(b)
        .expected_bucket_owner(owner.as_str())
        .send()
        .await
        .map_err(|e| UpstreamError::classify("s3", "HeadBucket", &e).to_string())?;
    let block = s3
        .get_public_access_block()
        .bucket(b)
        .send()
        .await
        .map_err(|_| "public access is not blocked".to_owned())?;
    let all_blocked = block.public_access_block_configuration().is_some_and(|c| {
        [
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ]
        .iter()
        .all(|v| *v == Some(true))
    });
    if !all_blocked {
        return Err("public access is not blocked on all four settings".to_owned());
    }
    s3.get_bucket_encryption()
        .bucket(b)
        .send()
        .await
        .map_err(|_| "no default encryption".to_owned())?;
    if !config.storage.cors_allowed_origins.is_empty() {
        s3.get_bucket_cors()
            .bucket(b)
            .send()
            .await
            .map_err(|_| "no CORS rules for storage.cors_allowed_origins (browsers cannot reach it)".to_owned())?;
    }
    let buckets = Buckets::new(s3.clone(), &config.storage, &config.aws, Arc::new(Metrics::new()));
    let policy = buckets.current_policy(bucket).await.map_err(|e| e.to_string())?;
    let ours = revocation_statements(policy.as_deref()).map_err(|e| e.to_string())?;
    Ok(format!(
        "bucket policy {} of {MAX_BUCKET_POLICY_BYTES} bytes, {ours} revocation statements",
        policy.map_or(0, |p| p.len())
    ))
}
