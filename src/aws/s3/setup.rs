//! Creating and locking down one user bucket. Every call is idempotent.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use super::{Buckets, Created, failed};
use crate::aws::{Error, Service};
use crate::identity::BucketName;

/// S3's answer to `CreateBucket` once the account holds as many buckets as its quota allows.
const TOO_MANY_BUCKETS: &str = "TooManyBuckets";
/// S3's answer to `CreateBucket` while another operation on that name is in progress.
const OPERATION_ABORTED: &str = "OperationAborted";

/// Tag key naming the user (or organisation) a bucket belongs to.
pub(super) const OWNER_TAG: &str = "stsvend-owner";

/// Headers browsers must be able to read for uploads: `ETag` for multipart completion, plus the
/// x-amz headers the JS SDK inspects.
const CORS_EXPOSE: &[&str] = &[
    "ETag",
    "x-amz-version-id",
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-server-side-encryption",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-delete-marker",
];
const CORS_METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];
const CORS_MAX_AGE_SECONDS: i32 = 3000;

/// `CreateBucket`'s `LocationConstraint` for a bucket in `region`: none in us-east-1 (S3 refuses
/// one there with `InvalidLocationConstraint`), the region's own name everywhere else (S3
/// refuses a request without one outside us-east-1 with `IllegalLocationConstraintException`).
fn location_constraint(region: &str) -> Option<BucketLocationConstraint> {
    (region != "us-east-1").then(|| BucketLocationConstraint::from(region))
}

impl Buckets {
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn create(&self, bucket: &BucketName) -> Result<Created, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let mut req = self
            .s3
            .create_bucket()
            .bucket(bucket.as_str())
            .object_ownership(ObjectOwnership::BucketOwnerEnforced);
        if let Some(constraint) = location_constraint(&self.region) {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(constraint)
                    .build(),
            );
        }
        let Err(err) = req.send().await else {
            return Ok(Created::Yes);
        };
        Ok(match err.as_service_error() {
            // Ours from an earlier attempt.
            Some(e) if e.is_bucket_already_owned_by_you() => Created::Yes,
            Some(e) if e.is_bucket_already_exists() => Created::TakenByOther,
            Some(e) if e.code() == Some(TOO_MANY_BUCKETS) => Created::QuotaExhausted,
            Some(e) if e.code() == Some(OPERATION_ABORTED) => Created::Busy,
            _ => return Err(failed(err)),
        })
    }

    /// Blocks public access, sets default encryption, ownership, CORS, the owner tag and, with
    /// `[quota]`, the event notifications to the usage queue. The settings are independent, so
    /// they are sent together: one round trip of AWS latency instead of six. The bucket is used only once all are confirmed (the caller
    /// marks the user ready after this returns), and each is idempotent, so a crash or a
    /// failure part-way is repaired by the next attempt.
    #[tracing::instrument(skip(self, owner), fields(bucket = %bucket))]
    pub async fn configure(&self, bucket: &BucketName, owner: &str) -> Result<(), Error> {
        self.lock_down(bucket, Some(owner)).await
    }

    /// The shared bucket of prefix mode gets every setting of a user bucket but the owner tag
    /// (it has many owners); notifications it has besides stsvend's are kept. `bootstrap`
    /// calls this, on a new bucket or an existing one.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn configure_shared(&self, bucket: &BucketName) -> Result<(), Error> {
        self.lock_down(bucket, None).await
    }

    /// Every setting of a bucket stsvend makes, sent together, and the owner tag when it has
    /// one owner.
    async fn lock_down(&self, bucket: &BucketName, owner: Option<&str>) -> Result<(), Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let tag = async {
            match owner {
                Some(owner) => self.tag_owner(bucket, owner).await,
                None => Ok(()),
            }
        };
        // Boxed: six SDK calls in flight at once would make this future (and every caller's)
        // tens of kilobytes.
        futures::try_join!(
            Box::pin(self.block_public_access(bucket)),
            Box::pin(self.enforce_ownership(bucket)),
            Box::pin(self.encrypt_by_default(bucket)),
            Box::pin(self.allow_cors(bucket)),
            Box::pin(tag),
            Box::pin(self.notify(bucket, owner.is_none())),
        )?;
        Ok(())
    }

    async fn block_public_access(&self, bucket: &BucketName) -> Result<(), Error> {
        self.s3
            .put_public_access_block()
            .bucket(bucket.as_str())
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn enforce_ownership(&self, bucket: &BucketName) -> Result<(), Error> {
        let ownership = OwnershipControls::builder()
            .rules(
                OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()?,
            )
            .build()?;
        let result = self
            .s3
            .put_bucket_ownership_controls()
            .bucket(bucket.as_str())
            .ownership_controls(ownership)
            .send()
            .await;
        if let Err(err) = result.map_err(failed) {
            // S3-compatible stores without ownership controls: ACLs are moot there; go on.
            if !matches!(err.code(), Some("NotImplemented" | "MethodNotAllowed")) {
                return Err(err);
            }
            tracing::warn!("object ownership controls not supported by this endpoint");
        }
        Ok(())
    }

    async fn encrypt_by_default(&self, bucket: &BucketName) -> Result<(), Error> {
        let default = match &self.kms_key_id {
            Some(key) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key),
            None => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
        }
        .build()?;
        self.s3
            .put_bucket_encryption()
            .bucket(bucket.as_str())
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .bucket_key_enabled(self.kms_key_id.is_some())
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn allow_cors(&self, bucket: &BucketName) -> Result<(), Error> {
        if self.cors_origins.is_empty() {
            return Ok(());
        }
        let rule = CorsRule::builder()
            .set_allowed_origins(Some(self.cors_origins.clone()))
            .set_allowed_methods(Some(CORS_METHODS.iter().map(|m| (*m).to_owned()).collect()))
            .allowed_headers("*")
            .set_expose_headers(Some(CORS_EXPOSE.iter().map(|h| (*h).to_owned()).collect()))
            .max_age_seconds(CORS_MAX_AGE_SECONDS)
            .build()?;
        self.s3
            .put_bucket_cors()
            .bucket(bucket.as_str())
            .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn tag_owner(&self, bucket: &BucketName, owner: &str) -> Result<(), Error> {
        self.s3
            .put_bucket_tagging()
            .bucket(bucket.as_str())
            .tagging(
                Tagging::builder()
                    .tag_set(Tag::builder().key(OWNER_TAG).value(owner).build()?)
                    .tag_set(Tag::builder().key("managed-by").value("stsvend").build()?)
                    .build()?,
            )
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_us_east_1_creates_buckets_without_a_location_constraint() {
        assert_eq!(location_constraint("us-east-1"), None);
        for region in [
            "us-east-2",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-southeast-2",
            "sa-east-1",
            "af-south-1",
            "il-central-1",
            "us-gov-west-1",
            "cn-north-1",
        ] {
            let c = location_constraint(region).unwrap();
            assert_eq!(c.as_str(), region, "{region} names itself");
        }
    }
}
