//! A made-up user's storage (and a made-up organisation's), named as the service would name
//! them, for rendering templates without a real user: the size bound at load (with the longest
//! names), the start-up trial `AssumeRole`, and `doctor`'s and `selftest`'s renderings.

use super::{OrgContext, RenderContext};
use crate::config::StorageConfig;
use crate::identity::ClaimValue;
use crate::identity::{AccountId, BucketName, IdentityError, OrgId, OrgPrefix, UserId, UserPrefix};

pub struct TrialStorage {
    pub user: UserId,
    pub org: OrgId,
    bucket: BucketName,
    account: AccountId,
    prefix: UserPrefix,
    org_bucket: BucketName,
    org_prefix: OrgPrefix,
}

/// Where the trial storage is named from: `storage.bucket_name_prefix`, `storage.prefix_root`
/// and `storage.org_prefix_root`, or stand-ins for them.
pub struct TrialNames<'a> {
    pub bucket_name_prefix: &'a str,
    pub prefix_root: &'a str,
    pub org_prefix_root: &'a str,
}

impl<'a> TrialNames<'a> {
    /// The configured names, as a real user's storage is named.
    pub fn of(storage: &'a StorageConfig) -> Self {
        Self {
            bucket_name_prefix: &storage.bucket_name_prefix,
            prefix_root: &storage.prefix_root,
            org_prefix_root: &storage.org_prefix_root,
        }
    }
}

impl TrialStorage {
    /// Storage for `user` and a fresh organisation in `account`, named from `names`.
    pub fn new(user: UserId, account: AccountId, names: &TrialNames<'_>) -> Result<Self, IdentityError> {
        let org = OrgId::fresh()?;
        Ok(Self {
            bucket: BucketName::fresh(names.bucket_name_prefix)?,
            account,
            prefix: UserPrefix::for_user(names.prefix_root, &user)?,
            org_bucket: BucketName::fresh(names.bucket_name_prefix)?,
            org_prefix: OrgPrefix::for_org(names.org_prefix_root, &org)?,
            user,
            org,
        })
    }

    /// Every placeholder filled, so prefix-mode variants and org templates render too; the
    /// claims with `claims` (`PolicySet::trial_claims`: each at its longest).
    pub fn context<'a>(&'a self, claims: &'a [(Box<str>, ClaimValue)]) -> RenderContext<'a> {
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
            claims,
        }
    }
}
