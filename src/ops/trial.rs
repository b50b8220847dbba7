//! A made-up user's storage (and a made-up organisation's), named as the service would name
//! them, so `doctor` and `selftest` can render every template as a vend would without touching
//! a real user.

use crate::config::Config;
use crate::identity::{AccountId, BucketName, IdentityError, OrgId, OrgPrefix, UserId, UserPrefix};
use crate::policy::{OrgContext, RenderContext};

pub struct TrialStorage {
    pub user: UserId,
    pub org: OrgId,
    bucket: BucketName,
    account: AccountId,
    prefix: UserPrefix,
    org_bucket: BucketName,
    org_prefix: OrgPrefix,
}

impl TrialStorage {
    /// Storage for the made-up user `(issuer, subject)` and a fresh organisation, under the
    /// configured bucket-name prefix and prefix roots.
    pub fn new(config: &Config, issuer: &str, subject: &str) -> Result<Self, IdentityError> {
        let user = UserId::derive(issuer, subject);
        let storage = &config.storage;
        let org = OrgId::fresh()?;
        Ok(Self {
            bucket: BucketName::fresh(&storage.bucket_name_prefix)?,
            account: config.aws.account_id(),
            prefix: UserPrefix::for_user(&storage.prefix_root, &user)?,
            org_bucket: BucketName::fresh(&storage.bucket_name_prefix)?,
            org_prefix: OrgPrefix::for_org(&storage.org_prefix_root, &org)?,
            user,
            org,
        })
    }

    /// Every placeholder filled, so prefix-mode variants and org templates render too.
    pub fn context(&self) -> RenderContext<'_> {
        RenderContext {
            bucket: &self.bucket,
            user_id: &self.user,
            account_id: &self.account,
            prefix: Some(&self.prefix),
            org: Some(OrgContext {
                id: &self.org,
                bucket: &self.org_bucket,
                prefix: Some(&self.org_prefix),
            }),
        }
    }
}
