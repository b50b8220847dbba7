//! A user's prefix of the shared bucket (prefix mode), and the configured root it hangs from.

use std::fmt;

use super::{IdentityError, UserId};

/// Where a user's objects live in prefix mode: `<root>/<user id>/` inside the shared bucket.
/// It always ends in `/`, so a policy on `users/abc/*` never reaches `users/abcd/`. The root is
/// checked at start-up ([`validate_prefix_root`]); the user id is derived, never a claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserPrefix(String);

/// Longest `storage.prefix_root`: keeps every rendered template and ARN short.
pub const MAX_PREFIX_ROOT: usize = 64;

impl UserPrefix {
    /// The prefix of `user` under `root` (a root already checked by [`validate_prefix_root`]).
    pub fn for_user(root: &str, user: &UserId) -> Result<Self, IdentityError> {
        Self::parse(&format!("{root}/{user}/"))
    }

    /// Accepts a stored prefix: a valid root, then a user id, then `/`.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::Prefix(s.chars().take(128).collect());
        let inner = s.strip_suffix('/').ok_or_else(bad)?;
        let (root, id) = inner.rsplit_once('/').ok_or_else(bad)?;
        validate_prefix_root(root).map_err(|_| bad())?;
        UserId::parse(id).map_err(|_| bad())?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `storage.prefix_root`: 1-64 characters of `[a-z0-9-]` in `/`-separated segments, no
/// empty, `.` or `..` segment, and no leading or trailing `/`. Only characters that need no
/// escaping in an ARN, a policy's `s3:prefix` value or a URL path are allowed.
pub fn validate_prefix_root(root: &str) -> Result<(), String> {
    let segments_ok = root
        .split('/')
        .all(|seg| !seg.is_empty() && seg.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-')));
    if root.is_empty() || root.len() > MAX_PREFIX_ROOT || !segments_ok {
        return Err(format!(
            "must be 1..={MAX_PREFIX_ROOT} characters of [a-z0-9-] in `/`-separated segments, no leading, trailing or double `/`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://tenant.auth0.com/";

    #[test]
    fn user_prefixes_end_in_a_slash_after_the_user_id() {
        let id = UserId::derive(ISS, "auth0|alice");
        let p = UserPrefix::for_user("users", &id).unwrap();
        assert_eq!(p.as_str(), format!("users/{id}/"));
        assert_eq!(UserPrefix::parse(p.as_str()).unwrap(), p);
        assert!(UserPrefix::for_user("tenants/acme/users", &id).is_ok());
        for bad in [
            format!("users/{id}"),
            format!("users/{id}//"),
            format!("/{id}/"),
            format!("users/x{id}/"),
            format!("../{id}/"),
            format!("Users/{id}/"),
            format!("{id}/"),
        ] {
            assert!(UserPrefix::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_roots_are_checked() {
        for ok in ["users", "a/b-c/d0"] {
            assert!(validate_prefix_root(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/users",
            "users/",
            "a//b",
            "a/./b",
            "a/../b",
            "Users",
            "u*",
            "u?",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(validate_prefix_root(bad).is_err(), "{bad}");
        }
    }
}
