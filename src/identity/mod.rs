//! Who a caller is, and the AWS names derived from it.
//!
//! A user is the pair (issuer, subject). The user id, session name and source identity are
//! derived from a SHA-256 of that pair, so no claim text ever reaches AWS or a policy. Bucket
//! names are random instead ([`BucketName::fresh`]): they are public, so they must not be
//! computable. Each name is a parsed newtype that meets AWS's rules.

use std::fmt;

use sha2::{Digest, Sha256};

mod claim;
mod ledger;
mod org;
mod prefix;
mod revocation;
mod template;

pub use claim::{ClaimValue, MAX_CLAIM_VALUE, TokenClaim, TokenClaims, is_claim_char};
pub use ledger::{Notification, ObjectChange, ObjectEvent, Owner, OwnerStorage, SEQUENCER_WIDTH, Sequencer};
pub use org::{MAX_ORG_CLAIM, OrgClaim, OrgId, OrgPrefix, TokenOrg, prefix_roots_overlap};
pub use prefix::{MAX_PREFIX_ROOT, UserPrefix, validate_prefix_root};
pub use revocation::PrefixRevocation;
pub use template::TemplateId;

/// Characters of the lowercase base32 hash used in names (26 chars = 130 bits).
const HASH_CHARS: usize = 26;
/// Characters of the random part of a bucket name (lowercase base32: 130 bits).
const BUCKET_RANDOM_CHARS: usize = 26;
/// Names tried for one user before giving up: a fresh random name is taken only when another
/// account learnt it and registered it first.
pub const MAX_BUCKET_ATTEMPTS: u32 = 8;
/// Longest bucket-name prefix (`storage.bucket_name_prefix`) that still leaves room for `-<random part>` in 63 characters.
pub const MAX_BUCKET_NAME_PREFIX: usize = 63 - 1 - BUCKET_RANDOM_CHARS;

/// Held inline (26 bytes, no allocation): it keys every per-user cache.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId([u8; HASH_CHARS]);

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserId").field(&self.as_str()).finish()
    }
}

impl UserId {
    /// The deterministic id of the user (issuer, subject).
    pub fn derive(issuer: &str, subject: &str) -> Self {
        let mut h = Sha256::new();
        h.update(issuer.as_bytes());
        h.update([0u8]);
        h.update(subject.as_bytes());
        let digest = h.finalize();
        let encoded = data_encoding::BASE32_NOPAD.encode(&digest);
        let mut id = [0u8; HASH_CHARS];
        id.copy_from_slice(&encoded.as_bytes()[..HASH_CHARS]);
        id.make_ascii_lowercase();
        Self(id)
    }

    /// Accepts a stored or administrator-supplied id; it must have the derived shape.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        match <[u8; HASH_CHARS]>::try_from(s.as_bytes()) {
            Ok(id) if id.iter().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) => Ok(Self(id)),
            _ => Err(IdentityError::UserId),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only lowercase base32 characters are ever stored (`derive`, `parse`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// `RoleSessionName`: appears in `CloudTrail` and in the assumed-role ARN.
    pub fn role_session_name(&self) -> RoleSessionName {
        RoleSessionName::parse(&format!("stsvend-{self}")).expect("derived name is valid")
    }

    /// `SourceIdentity`: persists across role chaining, so it is set once, from the user id.
    pub fn source_identity(&self) -> SourceIdentity {
        SourceIdentity::parse(&format!("stsvend-{self}")).expect("derived identity is valid")
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An S3 general-purpose bucket name of the restricted form stsvend creates: 3-63 characters
/// of `[a-z0-9-]`, starting and ending with a letter or digit, and none of S3's reserved
/// prefixes and suffixes. Dots are excluded: they break virtual-hosted TLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketName(String);

impl BucketName {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let b = s.as_bytes();
        let charset = b.iter().all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-'));
        let ends = b.first().is_some_and(u8::is_ascii_alphanumeric) && b.last().is_some_and(u8::is_ascii_alphanumeric);
        let reserved = ["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|p| s.starts_with(p))
            || ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"]
                .iter()
                .any(|p| s.ends_with(p));
        if (3..=63).contains(&b.len()) && charset && ends && !reserved {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::BucketName(s.to_owned()))
        }
    }

    /// A new name for a user bucket: `<name_prefix>-<26 random base32 characters>`. Bucket names are
    /// public and global, so they are never computed from the user's identity: nobody can
    /// register a user's name before the user's first login, and a deleted user's name is
    /// never handed out again (to them or anyone).
    pub fn fresh(name_prefix: &str) -> Result<Self, IdentityError> {
        let mut random = [0u8; 17];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| IdentityError::Random)?;
        let mut part = data_encoding::BASE32_NOPAD.encode(&random);
        part.truncate(BUCKET_RANDOM_CHARS);
        part.make_ascii_lowercase();
        Self::parse(&format!("{name_prefix}-{part}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The AWS account the service's role (and so every user bucket) belongs to: 12 digits.
/// Session and role policies pin `s3:ResourceAccount` to it, so keys can never reach a bucket
/// of the same name in another account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::AccountId(s.to_owned()))
        }
    }

    /// The account of `arn:<partition>:iam::<account>:role/...`.
    pub fn from_role_arn(arn: &str) -> Result<Self, IdentityError> {
        Self::parse(arn.split(':').nth(4).unwrap_or_default())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_sts_name(s: &str) -> bool {
    (2..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// `AssumeRole` `RoleSessionName`: 2-64 characters of `[\w+=,.@-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSessionName(String);

impl RoleSessionName {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        if is_sts_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::SessionName)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `AssumeRole` `SourceIdentity`: 2-64 characters of `[\w+=,.@-]`, not starting with `aws:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIdentity(String);

impl SourceIdentity {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        if is_sts_name(s) && !s.to_ascii_lowercase().starts_with("aws:") {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::SourceIdentity)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a configured bucket-name prefix: it must leave every derived name valid.
pub fn validate_bucket_name_prefix(name_prefix: &str) -> Result<(), String> {
    if name_prefix.is_empty() || name_prefix.len() > MAX_BUCKET_NAME_PREFIX {
        return Err(format!("must be 1..={MAX_BUCKET_NAME_PREFIX} characters"));
    }
    // Every name is `<name_prefix>-<random part>`; the part itself is always valid.
    BucketName::parse(&format!("{name_prefix}-{}", "a".repeat(BUCKET_RANDOM_CHARS)))
        .map(|_| ())
        .map_err(|_| {
            format!("`{name_prefix}` makes invalid bucket names (use [a-z0-9-], start with a letter or digit, no xn--/sthree- prefix)")
        })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("not a user id")]
    UserId,
    #[error("`{0}` is not a valid bucket name")]
    BucketName(String),
    #[error("not a valid role session name")]
    SessionName,
    #[error("not a valid source identity")]
    SourceIdentity,
    #[error("the system random number generator failed")]
    Random,
    #[error("`{0}` is not an AWS account id (12 digits)")]
    AccountId(String),
    #[error("`{0}` is not a user prefix (<root>/<user id>/)")]
    Prefix(String),
    #[error("the organisation claim does not match orgs.id_pattern or holds characters outside printable ASCII")]
    OrgClaim,
    #[error("not an organisation id")]
    OrgId,
    #[error("`{0}` is not an S3 event sequencer (1-32 hex digits)")]
    Sequencer(String),
    #[error("`{0}` is not an owner kind (user, org)")]
    OwnerKind(String),
    #[error("a claim value does not match its pattern, is too long or holds a character AWS or IAM would read")]
    Claim,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://tenant.auth0.com/";

    #[test]
    fn user_id_is_deterministic_and_separates_issuers() {
        let a = UserId::derive(ISS, "auth0|alice");
        assert_eq!(a, UserId::derive(ISS, "auth0|alice"));
        assert_ne!(a, UserId::derive(ISS, "auth0|bob"));
        assert_ne!(a, UserId::derive("https://other.auth0.com/", "auth0|alice"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(UserId::derive("ab", "c"), UserId::derive("a", "bc"));
        assert_eq!(UserId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn hostile_subjects_still_yield_valid_aws_names() {
        for sub in [
            "auth0|x",
            "\"}],*",
            "${aws:username}",
            "../../etc",
            "",
            "é✓",
            &"z".repeat(5000),
        ] {
            let id = UserId::derive(ISS, sub);
            assert!(
                id.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            );
            assert!(id.role_session_name().as_str().len() <= 64);
            assert!(id.source_identity().as_str().starts_with("stsvend-"));
        }
    }

    #[test]
    fn fresh_bucket_names_are_random_valid_and_never_repeat() {
        let names: std::collections::HashSet<String> = (0..1000)
            .map(|_| BucketName::fresh("stsvend").unwrap().to_string())
            .collect();
        assert_eq!(names.len(), 1000);
        for n in &names {
            let part = n.strip_prefix("stsvend-").unwrap();
            assert_eq!(part.len(), BUCKET_RANDOM_CHARS);
            assert!(part.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')), "{n}");
        }
        let longest = "a".repeat(MAX_BUCKET_NAME_PREFIX);
        assert_eq!(BucketName::fresh(&longest).unwrap().as_str().len(), 63);
    }

    #[test]
    fn account_ids_are_twelve_digits_from_the_role_arn() {
        let a = AccountId::from_role_arn("arn:aws:iam::123456789012:role/path/r").unwrap();
        assert_eq!(a.as_str(), "123456789012");
        for bad in [
            "arn:aws:iam::1234:role/r",
            "arn:aws:iam::12345678901x:role/r",
            "nonsense",
            "",
        ] {
            assert!(AccountId::from_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket-1", &"a".repeat(63)] {
            assert!(BucketName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "-abc",
            "abc-",
            "ABC",
            "a.b.c",
            "a_b",
            "xn--abc",
            "sthree-x",
            "abc-s3alias",
            "abc--ol-s3",
            "",
        ] {
            assert!(BucketName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names_follow_sts_rules() {
        assert!(RoleSessionName::parse("a").is_err());
        assert!(RoleSessionName::parse(&"a".repeat(65)).is_err());
        assert!(RoleSessionName::parse("a|b").is_err());
        assert!(RoleSessionName::parse("user+=,.@-_1").is_ok());
        assert!(SourceIdentity::parse("aws:me").is_err());
        assert!(SourceIdentity::parse("me@example.com").is_ok());
    }

    #[test]
    fn bucket_name_prefixes_are_checked() {
        assert!(validate_bucket_name_prefix("stsvend").is_ok());
        assert!(validate_bucket_name_prefix("").is_err());
        assert!(validate_bucket_name_prefix("Bad").is_err());
        assert!(validate_bucket_name_prefix("xn--x").is_err());
        assert!(validate_bucket_name_prefix("-x").is_err());
        assert!(validate_bucket_name_prefix(&"a".repeat(MAX_BUCKET_NAME_PREFIX + 1)).is_err());
    }
}
