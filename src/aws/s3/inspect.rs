//! What `doctor` reads about the account's buckets: their names (against the bucket quota and
//! the users' mappings) and whether the shared bucket is locked down.

use super::{Buckets, failed};
use crate::aws::{Error, Service};
use crate::identity::BucketName;

/// Which of a user bucket's settings a bucket has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockdown {
    /// All four public access blocks are on.
    pub public_access_blocked: bool,
    pub encrypted_by_default: bool,
    pub has_cors_rules: bool,
}

impl Buckets {
    /// The names of every bucket of the account (every page of `ListBuckets`).
    pub async fn names(&self) -> Result<Vec<String>, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let (mut names, mut token) = (Vec::new(), None);
        loop {
            let page = self
                .s3
                .list_buckets()
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(failed)?;
            names.extend(page.buckets().iter().filter_map(|b| b.name().map(ToOwned::to_owned)));
            token = page.continuation_token().map(ToOwned::to_owned);
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// The settings `bucket` (the service account's) has; an error when it is not there or
    /// cannot be reached. A setting S3 will not show counts as missing.
    pub async fn lockdown(&self, bucket: &BucketName) -> Result<Lockdown, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let b = bucket.as_str();
        self.s3
            .head_bucket()
            .bucket(b)
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
            .map_err(failed)?;
        let block = self.s3.get_public_access_block().bucket(b).send().await;
        let public_access_blocked = block.is_ok_and(|out| {
            out.public_access_block_configuration().is_some_and(|c| {
                [
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                ]
                .iter()
                .all(|v| *v == Some(true))
            })
        });
        let encrypted_by_default = self.s3.get_bucket_encryption().bucket(b).send().await.is_ok();
        let has_cors_rules = self.s3.get_bucket_cors().bucket(b).send().await.is_ok();
        Ok(Lockdown {
            public_access_blocked,
            encrypted_by_default,
            has_cors_rules,
        })
    }
}
