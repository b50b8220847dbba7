//! Who a caller is, and the AWS names derived from it.
//!
//! A user is the pair (issuer, subject). Everything AWS sees is derived from a SHA-256 of that
//! pair, so no claim text ever reaches a bucket name, a session name or a policy, and the same
//! user always maps to the same names. Each name is a parsed newtype that meets AWS's rules.

use std::fmt;

use sha2::{Digest, Sha256};

/// Characters of the lowercase base32 hash used in names (26 chars = 130 bits).
const HASH_CHARS: usize = 26;
/// Bucket-name candidates per user: 0 is `<prefix>-<hash>`, then `<prefix>-<hash>-<n>`.
pub const MAX_BUCKET_CANDIDATES: u32 = 8;
/// Longest prefix that still leaves room for `-<hash>-<candidate digit>` in 63 characters.
pub const MAX_BUCKET_PREFIX: usize = 63 - 1 - HASH_CHARS - 2;

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

    /// The `candidate`-th deterministic bucket name for this user (0 first; the next one is
    /// tried only when S3 says a name is taken by another account).
    pub fn bucket_candidate(&self, prefix: &str, candidate: u32) -> Result<BucketName, IdentityError> {
        if candidate >= MAX_BUCKET_CANDIDATES {
            return Err(IdentityError::BucketName(format!("{prefix}-{self}-{candidate}")));
        }
        let name = if candidate == 0 {
            format!("{prefix}-{self}")
        } else {
            format!("{prefix}-{self}-{candidate}")
        };
        BucketName::parse(&name)
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BucketName {
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

/// Checks a configured bucket prefix: it must leave every derived name valid.
pub fn validate_bucket_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > MAX_BUCKET_PREFIX {
        return Err(format!("must be 1..={MAX_BUCKET_PREFIX} characters"));
    }
    // The shortest and longest derived names must both parse.
    let probe = "a".repeat(HASH_CHARS);
    for name in [
        format!("{prefix}-{probe}"),
        format!("{prefix}-{probe}-{}", MAX_BUCKET_CANDIDATES - 1),
    ] {
        BucketName::parse(&name).map_err(|_| {
            format!("`{prefix}` makes invalid bucket names (use [a-z0-9-], start with a letter or digit, no xn--/sthree- prefix)")
        })?;
    }
    Ok(())
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
            id.bucket_candidate("stsvend", 0).unwrap();
            id.bucket_candidate("stsvend", MAX_BUCKET_CANDIDATES - 1).unwrap();
            assert!(id.bucket_candidate("stsvend", MAX_BUCKET_CANDIDATES).is_err());
            assert!(id.role_session_name().as_str().len() <= 64);
            assert!(id.source_identity().as_str().starts_with("stsvend-"));
        }
    }

    #[test]
    fn bucket_candidates_are_distinct_and_stable() {
        let id = UserId::derive(ISS, "auth0|alice");
        let c0 = id.bucket_candidate("p", 0).unwrap();
        let c1 = id.bucket_candidate("p", 1).unwrap();
        assert_ne!(c0, c1);
        assert_eq!(c1, id.bucket_candidate("p", 1).unwrap());
        assert_eq!(c0.as_str(), format!("p-{id}"));
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
    fn bucket_prefixes_are_checked() {
        assert!(validate_bucket_prefix("stsvend").is_ok());
        assert!(validate_bucket_prefix("").is_err());
        assert!(validate_bucket_prefix("Bad").is_err());
        assert!(validate_bucket_prefix("xn--x").is_err());
        assert!(validate_bucket_prefix("-x").is_err());
        assert!(validate_bucket_prefix(&"a".repeat(MAX_BUCKET_PREFIX + 1)).is_err());
    }
}
