//! Everything stsvend does to S3 buckets, for provisioning, the admin actions and the operator
//! commands: create and lock down (`setup`), the revocation statement in the bucket policy
//! (`policy`, `shared`, and an organisation's: `org_policy`), the quota Deny of writes
//! (`quota_policy`), empty and delete (`teardown`),
//! what `doctor` reads (`inspect`), URLs and forms signed with a user's own keys (`sign`), and
//! the event notifications S3 sends to the usage ledger's queue (`notify` sets them up,
//! `notification` reads what arrives). Callers decide
//! when; this module only knows how. Each public call takes its slot of the AWS gate itself.

mod inspect;
mod listing;
pub mod notification;
mod notify;
mod org_policy;
mod policy;
mod quota_policy;
mod setup;
mod shared;
mod sign;
mod teardown;

use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;

use super::calls::{ANSWERS, CallMetrics, PROBE_ANSWERS, RetryCounter};
use super::gate::AwsGate;
use super::{Error, Sdk, Service};
use crate::config::{AwsConfig, StorageConfig};
use crate::identity::AccountId;

pub use inspect::Lockdown;
pub use listing::ListedPage;
pub use notify::{NOTIFICATION_ID, NOTIFIED_EVENTS, Notifying};
pub use org_policy::{ORG_REVOKE_SID, OrgRevocations, render_org_policy};
pub use policy::{REVOKE_SID, merge_policy, revocation_statement};
pub use quota_policy::{
    QUOTA_POLICY_BYTES, QUOTA_SID, QUOTA_WRITE_ACTIONS, QuotaOwner, QuotaPolicy, quota_denied_ids, render_quota_policy,
};
pub use shared::{MAX_BUCKET_POLICY_BYTES, SharedPolicy, render_shared_policy, revocation_statements};
pub use sign::{PostSignature, presign, sign_policy, uri_encode};

/// A failed S3 call, classified.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(e: SdkError<E, Response>) -> Error {
    Error::from_sdk(Service::S3, e)
}

impl From<aws_sdk_s3::error::BuildError> for Error {
    fn from(e: aws_sdk_s3::error::BuildError) -> Self {
        Self::build(Service::S3, e)
    }
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
    /// The client a revocation probe is built from (with the probe's keys): its refusals are
    /// the answer it waits for, not failures.
    probe: aws_sdk_s3::config::Builder,
    region: String,
    /// The service's account: the admin calls on an existing bucket send it as
    /// `ExpectedBucketOwner`, so S3 refuses them on a bucket of the same name elsewhere.
    owner: AccountId,
    cors_origins: Vec<String>,
    kms_key_id: Option<String>,
    /// The `[quota]` queue every bucket's object events go to (`notify`); `None`: quotas off.
    queue_arn: Option<String>,
    gate: Arc<AwsGate>,
}

impl Buckets {
    pub fn new(sdk: &Sdk, storage: &StorageConfig, aws: &AwsConfig, gate: Arc<AwsGate>) -> Self {
        let metrics = Arc::clone(gate.metrics());
        let s3 = sdk
            .s3_config()
            .interceptor(RetryCounter(Arc::clone(&gate)))
            .interceptor(CallMetrics::new(Arc::clone(&metrics), ANSWERS))
            .build();
        Self {
            s3: Client::from_conf(s3),
            probe: sdk.s3_config().interceptor(CallMetrics::new(metrics, PROBE_ANSWERS)),
            region: aws.region.clone(),
            owner: aws.account_id(),
            cors_origins: storage.cors_allowed_origins.clone(),
            kms_key_id: storage.kms_key_id.clone(),
            queue_arn: None,
            gate,
        }
    }
}
