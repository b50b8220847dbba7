//! Everything stsvend does to S3 buckets, for provisioning and for the admin actions: create
//! and lock down (`setup`), the revocation statement in the bucket policy (`policy`), empty and
//! delete (`teardown`). Callers decide when; this module only knows how. Every call is counted
//! in the AWS metrics; callers hold a slot of the AWS gate around them.

mod policy;
mod setup;
mod shared;
mod sign;
mod teardown;

use std::sync::Arc;

use aws_sdk_s3::Client;

use crate::aws::UpstreamError;
use crate::config::{AwsConfig, StorageConfig};
use crate::identity::AccountId;
use crate::runtime::metrics::Metrics;

pub use policy::{REVOKE_SID, merge_policy, revocation_statement};
pub use shared::{MAX_BUCKET_POLICY_BYTES, SharedPolicy, render_shared_policy, revocation_statements};
pub use sign::{PostSignature, SignError, presign, sign_policy, uri_encode};

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("the bucket's existing policy is not a JSON policy document: {0}")]
    ExistingPolicy(String),
    #[error("request could not be built: {0}")]
    Request(String),
    /// S3 refused to delete `left` objects (per-key errors of `DeleteObjects`); `first` is
    /// AWS's error code for the first of them (`AccessDenied`: an SCP, a bucket policy or
    /// object lock).
    #[error("{left} objects could not be deleted (AWS: {first})")]
    NotEmptied { left: u64, first: String },
    /// The shared bucket's policy cannot hold one more revocation: every user revoked within
    /// a session's lifetime in one statement would be `bytes` long (S3 allows 20 KiB).
    #[error(
        "the shared bucket's policy is full: {users} users revoked within a session's lifetime need {bytes} bytes (S3 allows 20480)"
    )]
    PolicyFull { users: usize, bytes: usize },
}

/// What emptying and deleting a bucket removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Emptied {
    pub objects: u64,
    pub uploads: u64,
}

/// What `CreateBucket` found.
pub enum Created {
    /// The bucket exists and is ours (just created, or from an earlier attempt).
    Yes,
    /// Another account owns this name.
    TakenByOther,
    /// S3 has an operation in progress on this name (`OperationAborted`: a recent deletion, a
    /// concurrent create); it may stay so for a while.
    Busy,
    /// The account holds as many buckets as its quota allows (`TooManyBuckets`).
    QuotaExhausted,
}

/// The S3 client with the settings every user bucket gets.
pub struct Buckets {
    s3: Client,
    region: String,
    /// The service's account: the admin calls on an existing bucket send it as
    /// `ExpectedBucketOwner`, so S3 refuses them on a bucket of the same name elsewhere.
    owner: AccountId,
    cors_origins: Vec<String>,
    kms_key_id: Option<String>,
    metrics: Arc<Metrics>,
}

impl Buckets {
    pub fn new(s3: Client, storage: &StorageConfig, aws: &AwsConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            s3,
            region: aws.region.clone(),
            owner: aws.account_id(),
            cors_origins: storage.cors_allowed_origins.clone(),
            kms_key_id: storage.kms_key_id.clone(),
            metrics,
        }
    }
}
