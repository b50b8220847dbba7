//! Listing an owner's storage page by page, for the usage ledger's reconciliation: each page's
//! keys and sizes, and where the next page starts. Each page takes its own slot of the AWS
//! gate, so a long listing never holds one while the caller stages a page.

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;

use super::{Buckets, failed};
use crate::aws::{Error, Service};
use crate::identity::BucketName;

/// Objects per page (S3's maximum).
const PAGE: i32 = 1000;

/// One page of a listing.
#[derive(Debug, Default)]
pub struct ListedPage {
    /// (key, size in bytes).
    pub objects: Vec<(String, u64)>,
    /// Pass to the next call; `None` on the last page.
    pub next: Option<String>,
}

impl Buckets {
    /// The page of `bucket`'s objects under `prefix` (`""`: all) that `token` (from the previous
    /// page; `None`: the first) names. A bucket that does not exist holds nothing.
    pub async fn list_page(
        &self,
        bucket: &BucketName,
        prefix: &str,
        token: Option<String>,
    ) -> Result<ListedPage, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let out = match self
            .s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .max_keys(PAGE)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
            .set_continuation_token(token)
            .send()
            .await
        {
            Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => {
                return Ok(ListedPage::default());
            }
            other => other.map_err(failed)?,
        };
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| {
                let key = o.key()?.to_owned();
                Some((key, u64::try_from(o.size().unwrap_or(0)).unwrap_or(0)))
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_owned)
        } else {
            None
        };
        Ok(ListedPage { objects, next })
    }
}
