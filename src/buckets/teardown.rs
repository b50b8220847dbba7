//! Emptying and deleting a user's bucket, or emptying a user's prefix of a shared bucket.
//! Every call names the service's account as the expected bucket owner.

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::{BucketError, Buckets, Emptied};
use crate::aws::observe;
use crate::identity::BucketName;

/// Objects deleted per `DeleteObjects` call, and objects or uploads listed per page (S3's
/// maximum for each).
const PAGE: i32 = 1000;

impl Buckets {
    /// True when the bucket holds no object under `prefix` (`""`: none at all), or no longer
    /// exists.
    pub async fn is_empty(&self, bucket: &BucketName, prefix: &str) -> Result<bool, BucketError> {
        Ok(self
            .list_objects(bucket, prefix, 1)
            .await?
            .is_none_or(|out| out.contents().is_empty()))
    }

    /// The first `max_keys` objects of the bucket under `prefix`; `None` when the bucket does
    /// not exist.
    async fn list_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        max_keys: i32,
    ) -> Result<Option<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output>, BucketError> {
        match self
            .s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .max_keys(max_keys)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
            .send()
            .await
        {
            Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => Ok(None),
            other => Ok(Some(observe(&self.metrics, "s3", "ListObjectsV2", other)?)),
        }
    }

    /// Deletes every object and every unfinished upload, then the bucket. A bucket that is
    /// already gone counts as deleted (with nothing removed).
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_and_delete(&self, bucket: &BucketName) -> Result<Emptied, BucketError> {
        let (objects, exists) = self.delete_objects(bucket, "").await?;
        if !exists {
            return Ok(Emptied { objects, uploads: 0 });
        }
        let uploads = self.abort_uploads(bucket, "").await?;
        observe(
            &self.metrics,
            "s3",
            "DeleteBucket",
            self.s3
                .delete_bucket()
                .bucket(bucket.as_str())
                .expected_bucket_owner(self.owner.as_str())
                .send()
                .await,
        )?;
        Ok(Emptied { objects, uploads })
    }

    /// Deletes every object and unfinished upload under `prefix` (a user's prefix of a shared
    /// bucket, ending in `/`); the bucket stays.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_prefix(&self, bucket: &BucketName, prefix: &str) -> Result<Emptied, BucketError> {
        debug_assert!(prefix.ends_with('/'), "a user prefix ends in /");
        let (objects, exists) = self.delete_objects(bucket, prefix).await?;
        let uploads = if exists {
            self.abort_uploads(bucket, prefix).await?
        } else {
            0
        };
        Ok(Emptied { objects, uploads })
    }

    /// Deletes every object under `prefix`, a page at a time; returns how many, and whether
    /// the bucket still exists.
    async fn delete_objects(&self, bucket: &BucketName, prefix: &str) -> Result<(u64, bool), BucketError> {
        let b = bucket.as_str();
        let mut deleted = 0u64;
        loop {
            let Some(listed) = self.list_objects(bucket, prefix, PAGE).await? else {
                return Ok((deleted, false));
            };
            let keys: Vec<ObjectIdentifier> = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if keys.is_empty() {
                return Ok((deleted, true));
            }
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| BucketError::Request(e.to_string()))?;
            let count = delete.objects().len() as u64;
            let out = observe(
                &self.metrics,
                "s3",
                "DeleteObjects",
                self.s3
                    .delete_objects()
                    .bucket(b)
                    .expected_bucket_owner(self.owner.as_str())
                    .delete(delete)
                    .send()
                    .await,
            )?;
            if let Some(first) = out.errors().first() {
                return Err(BucketError::NotEmptied {
                    failed: out.errors().len(),
                    first: first.code().unwrap_or("unknown").to_owned(),
                });
            }
            deleted += count;
        }
    }

    /// Aborts every unfinished multipart upload under `prefix`, following S3's paging (1000 a
    /// page).
    async fn abort_uploads(&self, bucket: &BucketName, prefix: &str) -> Result<u64, BucketError> {
        let b = bucket.as_str();
        let mut aborted = 0u64;
        let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
        loop {
            let page = observe(
                &self.metrics,
                "s3",
                "ListMultipartUploads",
                self.s3
                    .list_multipart_uploads()
                    .bucket(b)
                    .expected_bucket_owner(self.owner.as_str())
                    .max_uploads(PAGE)
                    .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                    .set_key_marker(key_marker.take())
                    .set_upload_id_marker(upload_id_marker.take())
                    .send()
                    .await,
            )?;
            for u in page.uploads() {
                if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                    observe(
                        &self.metrics,
                        "s3",
                        "AbortMultipartUpload",
                        self.s3
                            .abort_multipart_upload()
                            .bucket(b)
                            .expected_bucket_owner(self.owner.as_str())
                            .key(key)
                            .upload_id(id)
                            .send()
                            .await,
                    )?;
                    aborted += 1;
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok(aborted);
            }
            // Without markers the next page starts over, which is right too: the uploads
            // aborted above are no longer listed.
            key_marker = page.next_key_marker().map(ToOwned::to_owned);
            upload_id_marker = page.next_upload_id_marker().map(ToOwned::to_owned);
        }
    }
}
