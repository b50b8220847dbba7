//! What a stored mapping must agree with before anything is vended from it. The database is
//! not trusted to keep a row as stsvend wrote it: a row changed behind its back (a restore, a
//! bad migration, someone with write access) could name the shared bucket as a user's own, a
//! bucket stsvend does not manage, another user's prefix, or another user's row moved to this
//! user's id; vending it would widen a session policy. Such a row is refused, logged with its
//! user id and counted (`stsvend_mapping_rejected_total{reason}`), never used.

use crate::config::StorageConfig;
use crate::identity::{BucketName, OrgPrefix, UserId, UserPrefix};
use crate::store::{OrgRecord, UserRecord};

/// Why a stored mapping was refused; the label of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// The row's user id is not the one derived from its issuer and subject.
    UserId,
    /// A bucket-mode row names the shared bucket as the user's own.
    SharedBucket,
    /// A bucket-mode row names a bucket outside `storage.bucket_name_prefix`.
    BucketNamePrefix,
    /// A prefix-mode row's prefix is not the user's own under `storage.prefix_root`.
    Prefix,
    /// A prefix-mode row names a bucket other than the shared bucket.
    PrefixBucket,
}

impl Violation {
    pub fn label(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::SharedBucket => "shared_bucket",
            Self::BucketNamePrefix => "bucket_prefix",
            Self::Prefix => "prefix",
            Self::PrefixBucket => "prefix_bucket",
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::UserId => "its user id is not derived from its issuer and subject",
            Self::SharedBucket => "a bucket-mode row names the shared bucket (storage.shared_bucket)",
            Self::BucketNamePrefix => "its bucket is not under storage.bucket_name_prefix",
            Self::Prefix => "its prefix is not the user's own under storage.prefix_root",
            Self::PrefixBucket => "a prefix-mode row names a bucket other than storage.shared_bucket",
        })
    }
}

/// The configuration a stored mapping is checked against.
pub struct MappingRules {
    /// `<storage.bucket_name_prefix>-`: every bucket stsvend names starts with it.
    bucket_start: String,
    /// `storage.shared_bucket`, whatever the mode of new users: rows keep the mode they were
    /// written in.
    shared: Option<BucketName>,
    prefix_root: String,
    /// `storage.org_prefix_root`.
    org_prefix_root: String,
}

impl MappingRules {
    pub fn new(storage: &StorageConfig) -> Self {
        Self {
            bucket_start: format!("{}-", storage.bucket_name_prefix),
            shared: storage.shared_bucket(),
            prefix_root: storage.prefix_root.clone(),
            org_prefix_root: storage.org_prefix_root.clone(),
        }
    }

    /// `Ok` when `row` is a mapping stsvend could have written under this configuration.
    pub fn check(&self, row: &UserRecord) -> Result<(), Violation> {
        if UserId::derive(&row.issuer, &row.subject) != row.user_id {
            return Err(Violation::UserId);
        }
        let own = || {
            UserPrefix::for_user(&self.prefix_root, &row.user_id)
                .map(|p| p.as_str().to_owned())
                .map_err(|_| Violation::Prefix)
        };
        self.check_storage(&row.bucket, row.prefix.as_ref().map(UserPrefix::as_str), own)
    }

    /// `Ok` when `row` is an organisation's mapping stsvend could have written under this
    /// configuration: its own bucket under `storage.bucket_name_prefix`, or its own prefix (under
    /// `storage.org_prefix_root`) of the shared bucket.
    pub fn check_org(&self, row: &OrgRecord) -> Result<(), Violation> {
        let own = || {
            OrgPrefix::for_org(&self.org_prefix_root, &row.org_id)
                .map(|p| p.as_str().to_owned())
                .map_err(|_| Violation::Prefix)
        };
        self.check_storage(&row.bucket, row.prefix.as_ref().map(OrgPrefix::as_str), own)
    }

    /// The storage columns of a row whose own prefix (prefix mode) is `own()`.
    fn check_storage(
        &self,
        bucket: &BucketName,
        prefix: Option<&str>,
        own: impl FnOnce() -> Result<String, Violation>,
    ) -> Result<(), Violation> {
        let managed = bucket
            .as_str()
            .strip_prefix(&self.bucket_start)
            .is_some_and(|rest| !rest.is_empty());
        match prefix {
            None if self.shared.as_ref() == Some(bucket) => Err(Violation::SharedBucket),
            None if !managed => Err(Violation::BucketNamePrefix),
            None => Ok(()),
            Some(prefix) => {
                if prefix != own()? {
                    return Err(Violation::Prefix);
                }
                // Without a configured shared bucket (back in bucket mode), the bucket can only
                // be held to the prefix every bucket of stsvend's has.
                match &self.shared {
                    Some(shared) if shared != bucket => Err(Violation::PrefixBucket),
                    None if !managed => Err(Violation::PrefixBucket),
                    _ => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::store::ProvisionState;

    const ISS: &str = "https://tenant.auth0.com/";

    fn rules(shared: Option<&str>) -> MappingRules {
        MappingRules {
            bucket_start: "stsvend-".to_owned(),
            shared: shared.map(|b| BucketName::parse(b).unwrap()),
            prefix_root: "users".to_owned(),
            org_prefix_root: "orgs".to_owned(),
        }
    }

    fn row(subject: &str, bucket: &str, prefix: Option<&str>) -> UserRecord {
        UserRecord {
            user_id: UserId::derive(ISS, subject),
            issuer: ISS.to_owned(),
            subject: subject.to_owned(),
            bucket: BucketName::parse(bucket).unwrap(),
            candidate: 0,
            region: "us-east-1".to_owned(),
            state: ProvisionState::Ready,
            created_at: OffsetDateTime::UNIX_EPOCH,
            disabled_at: None,
            revoked_before: None,
            prefix: prefix.map(|p| UserPrefix::parse(p).unwrap()),
        }
    }

    #[test]
    fn rows_as_stsvend_writes_them_pass() {
        let id = UserId::derive(ISS, "a");
        let own = format!("users/{id}/");
        for r in [rules(Some("stsvend-shared")), rules(None)] {
            assert_eq!(r.check(&row("a", "stsvend-abc", None)), Ok(()));
            assert_eq!(r.check(&row("a", "stsvend-shared", Some(&own))), Ok(()));
        }
    }

    #[test]
    fn each_kind_of_tampered_row_is_named() {
        let id = UserId::derive(ISS, "a");
        let other = UserId::derive(ISS, "b");
        let own = format!("users/{id}/");
        let r = rules(Some("stsvend-shared"));
        let mut moved = row("b", "stsvend-abc", None);
        moved.user_id = id.clone();
        let cases = [
            (moved, Violation::UserId),
            (row("a", "stsvend-shared", None), Violation::SharedBucket),
            (row("a", "payroll", None), Violation::BucketNamePrefix),
            (row("a", "stsvend", None), Violation::BucketNamePrefix),
            (row("a", "stsvendx-abc", None), Violation::BucketNamePrefix),
            (
                row("a", "stsvend-shared", Some(&format!("other/{id}/"))),
                Violation::Prefix,
            ),
            (
                row("a", "stsvend-shared", Some(&format!("users/{other}/"))),
                Violation::Prefix,
            ),
            (row("a", "stsvend-abc", Some(&own)), Violation::PrefixBucket),
        ];
        for (row, why) in cases {
            assert_eq!(r.check(&row), Err(why), "{row:?}");
        }
        assert_eq!(
            rules(None).check(&row("a", "payroll", Some(&own))),
            Err(Violation::PrefixBucket),
            "without a shared bucket configured, a prefix row's bucket is still held to the prefix"
        );
    }

    fn org_row(bucket: &str, prefix: Option<&str>, id: crate::identity::OrgId) -> OrgRecord {
        OrgRecord {
            org_id: id,
            issuer: ISS.to_owned(),
            claim: "org_a".to_owned(),
            bucket: BucketName::parse(bucket).unwrap(),
            candidate: 0,
            region: "us-east-1".to_owned(),
            state: ProvisionState::Ready,
            created_at: OffsetDateTime::UNIX_EPOCH,
            prefix: prefix.map(|p| OrgPrefix::parse(p).unwrap()),
            disabled_at: None,
            revoked_before: None,
            members_revoked: Vec::new(),
        }
    }

    #[test]
    fn org_rows_are_held_to_their_own_bucket_or_their_own_prefix_under_the_org_root() {
        let id = crate::identity::OrgId::fresh().unwrap();
        let other = crate::identity::OrgId::fresh().unwrap();
        let r = rules(Some("stsvend-shared"));
        assert_eq!(r.check_org(&org_row("stsvend-abc", None, id)), Ok(()));
        assert_eq!(
            r.check_org(&org_row("stsvend-shared", Some(&format!("orgs/{id}/")), id)),
            Ok(())
        );
        let cases = [
            (org_row("stsvend-shared", None, id), Violation::SharedBucket),
            (org_row("payroll", None, id), Violation::BucketNamePrefix),
            (
                org_row("stsvend-shared", Some(&format!("orgs/{other}/")), id),
                Violation::Prefix,
            ),
            (
                org_row("stsvend-shared", Some(&format!("users/{id}/")), id),
                Violation::Prefix,
            ),
            (
                org_row("stsvend-abc", Some(&format!("orgs/{id}/")), id),
                Violation::PrefixBucket,
            ),
        ];
        for (row, why) in cases {
            assert_eq!(r.check_org(&row), Err(why), "{row:?}");
        }
    }
}
