//! Emptying and deleting a user's bucket, or emptying a user's prefix of a shared bucket.
//! Every call names the service's account as the expected bucket owner.

use aws_sdk_s3::operation::head_bucket::HeadBucketError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::{Buckets, Emptied, failed};
use crate::aws::{Error, Service};
use crate::identity::BucketName;

/// Objects deleted per `DeleteObjects` call, and objects or uploads listed per page (S3's
/// maximum for each).
const PAGE: i32 = 1000;

impl Buckets {
    /// True when the bucket holds no object under `prefix` (`""`: none at all), or no longer
    /// exists.
    pub async fn is_empty(&self, bucket: &BucketName, prefix: &str) -> Result<bool, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        Ok(self
            .list_objects(bucket, prefix, 1, None)
            .await?
            .is_none_or(|out| out.contents().is_empty()))
    }

    /// True while the bucket exists (in the service's account).
    pub async fn exists(&self, bucket: &BucketName) -> Result<bool, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        match self
            .s3
            .head_bucket()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(HeadBucketError::is_not_found) => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    /// The first `max_keys` objects of the bucket under `prefix` (after the key `after`, if
    /// given); `None` when the bucket does not exist.
    async fn list_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        max_keys: i32,
        after: Option<String>,
    ) -> Result<Option<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output>, Error> {
        match self
            .s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .max_keys(max_keys)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
            .set_start_after(after)
            .send()
            .await
        {
            Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => Ok(None),
            other => Ok(Some(other.map_err(failed)?)),
        }
    }

    /// Deletes every object and every unfinished upload, then the bucket. A bucket that is
    /// already gone counts as deleted (with nothing removed). Objects S3 refuses to delete
    /// (`NotEmptied`) keep the bucket; everything else that can go is gone.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_and_delete(&self, bucket: &BucketName) -> Result<Emptied, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let pass = self.delete_objects(bucket, "").await?;
        if !pass.exists {
            return Ok(Emptied {
                objects: pass.deleted,
                uploads: 0,
            });
        }
        let uploads = self.abort_uploads(bucket, "").await?;
        pass.refused.into_result()?;
        self.s3
            .delete_bucket()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
            .map_err(failed)?;
        Ok(Emptied {
            objects: pass.deleted,
            uploads,
        })
    }

    /// Deletes every object and unfinished upload under `prefix` (a user's prefix of a shared
    /// bucket, ending in `/`); the bucket stays. Objects S3 refuses to delete: `NotEmptied`.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_prefix(&self, bucket: &BucketName, prefix: &str) -> Result<Emptied, Error> {
        debug_assert!(prefix.ends_with('/'), "a user prefix ends in /");
        let _slot = self.gate.call(Service::S3).await?;
        let pass = self.delete_objects(bucket, prefix).await?;
        let uploads = if pass.exists {
            self.abort_uploads(bucket, prefix).await?
        } else {
            0
        };
        pass.refused.into_result()?;
        Ok(Emptied {
            objects: pass.deleted,
            uploads,
        })
    }

    /// Deletes every object under `prefix`, a page at a time. Keys S3 refuses (per-key errors
    /// of `DeleteObjects`: an SCP, a bucket policy, object lock) are counted and passed over,
    /// so one locked object does not keep the rest.
    async fn delete_objects(&self, bucket: &BucketName, prefix: &str) -> Result<DeletePass, Error> {
        let b = bucket.as_str();
        let mut pass = DeletePass {
            deleted: 0,
            refused: Refused::default(),
            exists: true,
        };
        // Deleted keys leave the listing; refused ones stay, so each page starts after the
        // last key of the one before.
        let mut after = None;
        loop {
            let Some(listed) = self.list_objects(bucket, prefix, PAGE, after.take()).await? else {
                pass.exists = false;
                return Ok(pass);
            };
            let keys: Vec<ObjectIdentifier> = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            let Some(last) = keys.last().map(|k| k.key().to_owned()) else {
                return Ok(pass);
            };
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| Error::build(Service::S3, e))?;
            let count = delete.objects().len() as u64;
            let out = self
                .s3
                .delete_objects()
                .bucket(b)
                .expected_bucket_owner(self.owner.as_str())
                .delete(delete)
                .send()
                .await
                .map_err(failed)?;
            let refused = out.errors().len() as u64;
            if let Some(first) = out.errors().first() {
                tracing::warn!(
                    refused,
                    first_key = first.key().unwrap_or_default(),
                    code = first.code().unwrap_or_default(),
                    message = first.message().unwrap_or_default(),
                    "S3 refused to delete objects"
                );
                pass.refused.add(refused, first.code());
            }
            pass.deleted += count.saturating_sub(refused);
            if listed.is_truncated() != Some(true) {
                return Ok(pass);
            }
            after = Some(last);
        }
    }

    /// Aborts every unfinished multipart upload under `prefix`, following S3's paging (1000 a
    /// page).
    async fn abort_uploads(&self, bucket: &BucketName, prefix: &str) -> Result<u64, Error> {
        let b = bucket.as_str();
        let mut aborted = 0u64;
        let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .s3
                .list_multipart_uploads()
                .bucket(b)
                .expected_bucket_owner(self.owner.as_str())
                .max_uploads(PAGE)
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send()
                .await
                .map_err(failed)?;
            for u in page.uploads() {
                if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                    self.s3
                        .abort_multipart_upload()
                        .bucket(b)
                        .expected_bucket_owner(self.owner.as_str())
                        .key(key)
                        .upload_id(id)
                        .send()
                        .await
                        .map_err(failed)?;
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

/// What one pass of deleting objects did.
struct DeletePass {
    deleted: u64,
    refused: Refused,
    /// False when the bucket does not exist.
    exists: bool,
}

/// Objects S3 refused to delete: how many, and its error code for the first.
#[derive(Default)]
struct Refused {
    count: u64,
    first: Option<String>,
}

impl Refused {
    fn add(&mut self, count: u64, code: Option<&str>) {
        self.count += count;
        if self.first.is_none() {
            // An AWS error code (`AccessDenied`): letters and digits, kept short, since it
            // reaches the operator's answer.
            let code: String = code
                .unwrap_or("unknown")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(64)
                .collect();
            self.first = Some(if code.is_empty() { "unknown".to_owned() } else { code });
        }
    }

    fn into_result(self) -> Result<(), Error> {
        match self.first {
            Some(first) if self.count > 0 => Err(Error::NotEmptied {
                left: self.count,
                first,
            }),
            _ => Ok(()),
        }
    }
}
