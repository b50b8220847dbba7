//! Organisations: the org claim of a token, checked once at the edge, and the names stsvend
//! derives for an organisation's storage.
//!
//! The claim value (Auth0's `org_id`, or whatever `orgs.claim` names) only ever keys the
//! database row that maps it to an internal id. That id is random ([`OrgId::fresh`]), drawn at
//! the org's first vend: it is what reaches AWS (session tag, prefix) and policy text, so no
//! claim text ever does, and a deleted and re-created organisation gets a new id and new
//! storage.

use std::fmt;

use super::{IdentityError, validate_prefix_root};

/// Longest claim value accepted whatever `orgs.id_pattern` allows: keeps rows and logs small.
pub const MAX_ORG_CLAIM: usize = 256;
/// Random characters of an internal org id (lowercase base32: 130 bits), after its `o`.
const ORG_RANDOM_CHARS: usize = 26;
const ORG_ID_LEN: usize = ORG_RANDOM_CHARS + 1;

/// A token's org claim value that matched `orgs.id_pattern` and holds only printable ASCII.
/// Never used in a policy or an AWS name: only as the key of the org's row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgClaim(Box<str>);

impl OrgClaim {
    /// The value, when it holds no control or non-ASCII character (fullwidth letters and
    /// homoglyphs fail here even under a lax pattern), is at most [`MAX_ORG_CLAIM`] bytes, and
    /// `matches` (the compiled `orgs.id_pattern`) accepts it whole.
    pub fn parse(value: &str, matches: impl Fn(&str) -> bool) -> Result<Self, IdentityError> {
        let printable = value.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if value.is_empty() || value.len() > MAX_ORG_CLAIM || !printable || !matches(value) {
            return Err(IdentityError::OrgClaim);
        }
        Ok(Self(value.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a token says about the caller's organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenOrg {
    /// No org claim (or `[orgs]` is not configured).
    #[default]
    None,
    /// A claim that passed every check.
    Valid(OrgClaim),
    /// A claim that failed them (not a string, pattern, characters, length): such a caller is
    /// refused any vend (403 `claim_invalid`), nothing is created for it.
    Invalid,
}

/// An organisation's internal id: `o` and 26 random lowercase base32 characters. Held inline;
/// it keys the per-org caches and is the value of the `stsvend-org` session tag.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId([u8; ORG_ID_LEN]);

impl OrgId {
    /// A new id, never derived from the claim.
    pub fn fresh() -> Result<Self, IdentityError> {
        let mut random = [0u8; 17];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| IdentityError::Random)?;
        let encoded = data_encoding::BASE32_NOPAD.encode(&random);
        let mut id = [b'o'; ORG_ID_LEN];
        id[1..].copy_from_slice(&encoded.as_bytes()[..ORG_RANDOM_CHARS]);
        id.make_ascii_lowercase();
        Ok(Self(id))
    }

    /// Accepts a stored or administrator-supplied id; it must have the shape `fresh` makes.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        match <[u8; ORG_ID_LEN]>::try_from(s.as_bytes()) {
            Ok(id) if id[0] == b'o' && id[1..].iter().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) => Ok(Self(id)),
            _ => Err(IdentityError::OrgId),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only `o` and lowercase base32 characters are ever stored (`fresh`, `parse`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OrgId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an organisation's objects live in prefix mode: `<org root>/<org id>/` of the shared
/// bucket. Like a user's prefix it ends in `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgPrefix(String);

impl OrgPrefix {
    /// The prefix of `org` under `root` (a root already checked at start-up).
    pub fn for_org(root: &str, org: &OrgId) -> Result<Self, IdentityError> {
        Self::parse(&format!("{root}/{org}/"))
    }

    /// Accepts a stored prefix: a valid root, then an org id, then `/`.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::Prefix(s.chars().take(128).collect());
        let inner = s.strip_suffix('/').ok_or_else(bad)?;
        let (root, id) = inner.rsplit_once('/').ok_or_else(bad)?;
        validate_prefix_root(root).map_err(|_| bad())?;
        OrgId::parse(id).map_err(|_| bad())?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True when prefixes under the two roots could meet: one root is the other, or lies under it
/// segment by segment (`users` and `users/orgs`). `users` and `users-orgs` never meet: every
/// prefix continues its root with `/`.
pub fn prefix_roots_overlap(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x == y || x.strip_prefix(y).is_some_and(|rest| rest.starts_with('/'));
    under(a, b) || under(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_pattern(v: &str) -> bool {
        let re = regex_lite::Regex::new("^(?:^org_[A-Za-z0-9]{1,64}$)$").unwrap();
        re.is_match(v)
    }

    #[test]
    fn org_claims_pass_only_printable_ascii_that_the_pattern_accepts() {
        assert_eq!(
            OrgClaim::parse("org_abc123", default_pattern).unwrap().as_str(),
            "org_abc123"
        );
        let hostile = [
            "*",
            "../x",
            "org_a\"b",
            "${aws:username}",
            &format!("org_{}", "a".repeat(65)),
            "org_\u{ff41}\u{ff42}\u{ff43}",
            "org_\u{430}bc",
            "org_abc\n",
            "",
        ];
        for bad in hostile {
            assert_eq!(
                OrgClaim::parse(bad, default_pattern),
                Err(IdentityError::OrgClaim),
                "{bad:?}"
            );
        }
        // A lax operator pattern still never lets a control or non-ASCII character through.
        for bad in [
            "org_\u{ff41}",
            "org_\u{7}",
            "org_\u{430}bc",
            &"a".repeat(MAX_ORG_CLAIM + 1),
        ] {
            assert!(OrgClaim::parse(bad, |_| true).is_err(), "{bad:?}");
        }
        assert!(OrgClaim::parse("anything goes/here", |_| true).is_ok());
    }

    #[test]
    fn org_ids_are_random_and_round_trip() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| OrgId::fresh().unwrap().to_string()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), ORG_ID_LEN);
            assert_eq!(OrgId::parse(id).unwrap().as_str(), id);
        }
        for bad in [
            "",
            "o",
            "xaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "oAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "oaaaaaaaaaaaaaaaaaaaaaaaaa1",
        ] {
            assert!(OrgId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn org_prefixes_end_in_a_slash_after_the_org_id() {
        let id = OrgId::fresh().unwrap();
        let p = OrgPrefix::for_org("orgs", &id).unwrap();
        assert_eq!(p.as_str(), format!("orgs/{id}/"));
        assert_eq!(OrgPrefix::parse(p.as_str()).unwrap(), p);
        for bad in [
            format!("orgs/{id}"),
            format!("../{id}/"),
            format!("orgs/x{id}/"),
            format!("{id}/"),
        ] {
            assert!(OrgPrefix::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roots_overlap_when_one_lies_under_the_other() {
        assert!(prefix_roots_overlap("users", "users"));
        assert!(prefix_roots_overlap("users", "users/orgs"));
        assert!(prefix_roots_overlap("a/b/c", "a/b"));
        assert!(!prefix_roots_overlap("users", "orgs"));
        assert!(!prefix_roots_overlap("users", "users-orgs"));
        assert!(!prefix_roots_overlap("tenants/users", "tenants/orgs"));
    }
}
