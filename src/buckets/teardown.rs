//! Emptying and deleting a user's bucket.

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::{BucketError, Buckets};
use crate::aws::observe;
use crate::identity::BucketName;

/// Objects deleted per `DeleteObjects` call (S3's maximum).
const DELETE_BATCH: usize = 1000;

impl Buckets {
    /// True when the bucket holds no object (or no longer exists).
    pub async fn is_empty(&self, bucket: &BucketName) -> Result<bool, BucketError> {
        let out = match self
            .s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .max_keys(1)
            .send()
            .await
        {
            Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => return Ok(true),
            other => observe(&self.metrics, "s3", "ListObjectsV2", other)?,
        };
        Ok(out.contents().is_empty())
    }

    /// Deletes every object and unfinished upload, then the bucket; returns the objects
    /// deleted. A bucket that is already gone counts as deleted.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_and_delete(&self, bucket: &BucketName) -> Result<u64, BucketError> {
        let b = bucket.as_str();
        let mut deleted = 0u64;
        loop {
            let listed = match self.s3.list_objects_v2().bucket(b).max_keys(1000).send().await {
                Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => {
                    return Ok(deleted);
                }
                other => observe(&self.metrics, "s3", "ListObjectsV2", other)?,
            };
            let keys: Vec<ObjectIdentifier> = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if keys.is_empty() {
                break;
            }
            for batch in keys.chunks(DELETE_BATCH) {
                let delete = Delete::builder()
                    .set_objects(Some(batch.to_vec()))
                    .quiet(true)
                    .build()
                    .map_err(|e| BucketError::Request(e.to_string()))?;
                let out = observe(
                    &self.metrics,
                    "s3",
                    "DeleteObjects",
                    self.s3.delete_objects().bucket(b).delete(delete).send().await,
                )?;
                if let Some(first) = out.errors().first() {
                    return Err(BucketError::NotEmptied {
                        failed: out.errors().len(),
                        first: first.code().unwrap_or("unknown").to_owned(),
                    });
                }
                deleted += batch.len() as u64;
            }
        }
        let uploads = observe(
            &self.metrics,
            "s3",
            "ListMultipartUploads",
            self.s3.list_multipart_uploads().bucket(b).send().await,
        )?;
        for u in uploads.uploads() {
            if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                observe(
                    &self.metrics,
                    "s3",
                    "AbortMultipartUpload",
                    self.s3
                        .abort_multipart_upload()
                        .bucket(b)
                        .key(key)
                        .upload_id(id)
                        .send()
                        .await,
                )?;
            }
        }
        observe(
            &self.metrics,
            "s3",
            "DeleteBucket",
            self.s3.delete_bucket().bucket(b).send().await,
        )?;
        Ok(deleted)
    }
}
