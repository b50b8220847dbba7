//! Token claims declared in `[policies.claims]`: checked once at the edge, then substituted
//! into policy strings (`{{claims.NAME}}`) and sent as session tags (`[sts.session_tags]`).
//!
//! A value reaches AWS, so whatever its configured pattern allows, it must also be a value
//! STS takes as a session tag and one that means nothing to IAM's policy language: only ASCII
//! letters, digits, space and `_ . : / = + - @` (AWS's tag characters, less every non-ASCII
//! letter), so no `*`, `?`, `$`, `{`, `"` or fullwidth look-alike, and at most 256 characters.

use std::fmt;

use super::IdentityError;

/// STS's longest session-tag value; no claim value may be longer.
pub const MAX_CLAIM_VALUE: usize = 256;

/// True for the characters a claim value may hold (see the module's comment).
pub fn is_claim_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)
}

/// A claim value that passed every check: its pattern, its length, its characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimValue(Box<str>);

impl ClaimValue {
    /// The value, when it is 1 to `max_len` (at most [`MAX_CLAIM_VALUE`]) characters of
    /// [`is_claim_char`], does not start with AWS's reserved `aws:` (in any case), and
    /// `matches` (the compiled pattern) accepts it whole.
    pub fn parse(value: &str, max_len: usize, matches: impl Fn(&str) -> bool) -> Result<Self, IdentityError> {
        let len_ok = !value.is_empty() && value.len() <= max_len.min(MAX_CLAIM_VALUE);
        let reserved = value.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
        if !len_ok || reserved || !value.chars().all(is_claim_char) || !matches(value) {
            return Err(IdentityError::Claim);
        }
        Ok(Self(value.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Claim values can be personal (a department, a customer name): kept out of debug output.
impl fmt::Debug for ClaimValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimValue({} chars)", self.0.len())
    }
}

/// What a token says for one declared claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenClaim {
    /// Not in the token (or `null`).
    #[default]
    Absent,
    Valid(ClaimValue),
    /// Present but not a string, or a string that fails the checks: a session that needs it
    /// is refused (403 `claim_invalid`).
    Invalid,
}

/// Every declared claim of one token, by its name in `[policies.claims]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims(Box<[(Box<str>, TokenClaim)]>);

impl TokenClaims {
    pub fn new(claims: Vec<(Box<str>, TokenClaim)>) -> Self {
        Self(claims.into_boxed_slice())
    }

    /// What the token says for the declared claim `name` (absent when not declared).
    pub fn get(&self, name: &str) -> &TokenClaim {
        static ABSENT: TokenClaim = TokenClaim::Absent;
        self.0.iter().find(|(n, _)| &**n == name).map_or(&ABSENT, |(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(v: &str) -> Result<ClaimValue, IdentityError> {
        let re = regex_lite::Regex::new("^(?:[a-z]+)$").unwrap();
        ClaimValue::parse(v, 300, |v| re.is_match(v))
    }

    #[test]
    fn claim_values_pass_only_the_pattern_within_aws_tag_characters_and_length() {
        assert_eq!(tier("pro").unwrap().as_str(), "pro");
        let lax = |v: &str| ClaimValue::parse(v, 300, |_| true);
        assert!(lax("a b_c.d:e/f=g+h-i@j").is_ok());
        for hostile in [
            "",
            "*",
            "a*",
            "../x",
            "a\"b",
            "${aws:username}",
            "a?",
            "a\nb",
            "ｐｒｏ",
            "pro\u{200b}",
            "a,b",
            "a\\b",
        ] {
            assert!(lax(hostile).is_err() || hostile == "../x", "{hostile:?}");
            assert!(tier(hostile).is_err(), "{hostile:?}");
        }
        assert!(lax("AWS:x").is_err() && lax("aws:").is_err(), "AWS's reserved prefix");
        assert!(lax("awsx").is_ok() && lax("a:aws:").is_ok());
        assert!(lax(&"a".repeat(256)).is_ok());
        assert!(
            lax(&"a".repeat(257)).is_err(),
            "STS's tag-value limit, whatever max_len says"
        );
        assert!(
            ClaimValue::parse("abcd", 3, |_| true).is_err(),
            "the claim's own max_length"
        );
        assert_eq!(format!("{:?}", tier("pro").unwrap()), "ClaimValue(3 chars)");
    }

    #[test]
    fn an_undeclared_claim_reads_as_absent() {
        let claims = TokenClaims::new(vec![("tier".into(), TokenClaim::Valid(tier("pro").unwrap()))]);
        assert!(matches!(claims.get("tier"), TokenClaim::Valid(v) if v.as_str() == "pro"));
        assert_eq!(claims.get("department"), &TokenClaim::Absent);
    }
}
