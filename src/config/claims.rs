//! `[policies.claims.NAME]`: a token claim a template may name as `{{claims.NAME}}` (and
//! `[sts.session_tags]` may send as a session tag), with the pattern its value must match.
//!
//! A value reaches AWS, so the pattern is checked at start-up as well as compiled: every
//! character it admits must be one [`is_claim_char`] allows (no `.` or `[^...]`, which admit
//! `*`, `$`, `"` and non-ASCII), and the longest value it admits, or `max_length` when the
//! pattern is unbounded (or as a tighter bound), is at most STS's 256. That length is what
//! templates are trial-rendered with, so the size checks stay bounds.

use std::collections::BTreeMap;

use regex_syntax::hir::{Class, Hir, HirKind};
use serde::Deserialize;

use crate::identity::{MAX_CLAIM_VALUE, is_claim_char};

#[derive(Debug, Clone, Deserialize)]
pub struct ClaimConfig {
    /// The token's claim (namespaced names like `https://example.com/tier` allowed).
    pub claim: String,
    /// What a value must match, whole (anchored at both ends whatever it says).
    pub pattern: String,
    /// The longest value accepted: required when `pattern` has no bound of its own.
    #[serde(default)]
    pub max_length: Option<usize>,
}

impl ClaimConfig {
    /// `pattern`, compiled to match a value whole.
    pub fn regex(&self) -> Result<regex_lite::Regex, String> {
        regex_lite::Regex::new(&anchored(&self.pattern)).map_err(|e| e.to_string())
    }

    /// The longest value a token may carry: `max_length` or the pattern's own bound,
    /// whichever is smaller; an error when neither bounds it within STS's 256 characters, or
    /// when the pattern admits a character a value may not hold.
    pub fn max_len(&self) -> Result<usize, String> {
        // Without Unicode, as regex-lite reads it: `\w`, `\d` and `\s` are ASCII classes, and
        // a `.` or a negated class (which admit non-ASCII) fail here as "invalid UTF-8".
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .build()
            .parse(&anchored(&self.pattern))
            .map_err(|e| match e {
                regex_syntax::Error::Translate(t) if *t.kind() == regex_syntax::hir::ErrorKind::InvalidUtf8 => {
                    "admits characters outside ASCII letters, digits, space and _.:/=+-@ (a `.` or a `[^...]`); list the characters allowed".to_owned()
                }
                e => format!("not a regular expression: {e}"),
            })?;
        if let Some(c) = outside_char(&hir) {
            return Err(format!(
                "admits {c:?}, outside ASCII letters, digits, space and _.:/=+-@ (what AWS takes in a session tag and IAM reads as nothing special)"
            ));
        }
        let len = match (self.max_length, hir.properties().maximum_len()) {
            (Some(0), _) => return Err("max_length must be at least 1".to_owned()),
            (Some(m), Some(p)) => m.min(p),
            (Some(m), None) => m,
            (None, Some(p)) => p,
            (None, None) => {
                return Err("admits values of any length: bound it (e.g. `{1,64}`) or set max_length".to_owned());
            }
        };
        if len == 0 {
            return Err("admits only the empty value".to_owned());
        }
        if len > MAX_CLAIM_VALUE {
            return Err(format!(
                "admits values of up to {len} characters; a session tag value is at most {MAX_CLAIM_VALUE}: bound the pattern or set max_length"
            ));
        }
        Ok(len)
    }
}

fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// A character the expression admits that no claim value may hold, if any.
fn outside_char(hir: &Hir) -> Option<char> {
    let bytes = |from: u8, to: u8| (from..=to).map(char::from).find(|c| !is_claim_char(*c));
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(l) => l.0.iter().map(|b| char::from(*b)).find(|c| !is_claim_char(*c)),
        HirKind::Class(Class::Bytes(c)) => c.ranges().iter().find_map(|r| bytes(r.start(), r.end())),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .find_map(|r| (r.start()..=r.end()).find(|c| !is_claim_char(*c))),
        HirKind::Repetition(r) => outside_char(&r.sub),
        HirKind::Capture(c) => outside_char(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().find_map(outside_char),
    }
}

/// What is wrong with `[policies.claims]`: names, claims, patterns. `reserved`: claims no
/// entry may read (the ones the token checks read, and `orgs.claim`).
pub(super) fn problems(claims: &BTreeMap<String, ClaimConfig>, reserved: &[&str]) -> Vec<String> {
    let mut p = Vec::new();
    for (name, c) in claims {
        let key = format!("policies.claims.{name}");
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            p.push(format!("{key}: a claim's name is 1-64 characters of a-z, 0-9, _ and -"));
        }
        if c.claim.is_empty() || c.claim.len() > 256 || reserved.contains(&c.claim.as_str()) {
            p.push(format!(
                "{key}.claim: `{}` cannot be read here (1-256 characters, none of {})",
                c.claim,
                reserved.join(", ")
            ));
        }
        if let Some((other, _)) = claims.iter().find(|(n, o)| *n < name && o.claim == c.claim) {
            p.push(format!(
                "{key}.claim: `{}` is read by policies.claims.{other} too; declare a claim once",
                c.claim
            ));
        }
        match c.regex() {
            Err(e) => p.push(format!("{key}.pattern: not a regular expression: {e}")),
            Ok(_) => {
                if let Err(e) = c.max_len() {
                    p.push(format!("{key}.pattern: {e}"));
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(pattern: &str, max_length: Option<usize>) -> ClaimConfig {
        ClaimConfig {
            claim: "https://example.com/tier".to_owned(),
            pattern: pattern.to_owned(),
            max_length,
        }
    }

    #[test]
    fn a_bounded_pattern_of_safe_characters_gives_its_longest_value() {
        assert_eq!(claim("free|pro", None).max_len(), Ok(4));
        assert_eq!(claim("^(free|pro)$", None).max_len(), Ok(4));
        assert_eq!(claim(r"[a-z][a-z0-9_-]{0,31}", None).max_len(), Ok(32));
        assert_eq!(
            claim(r"\w{1,64}", None).max_len(),
            Ok(64),
            "\\w is ASCII, as regex-lite reads it"
        );
        assert_eq!(claim(r"[a-z]+", Some(40)).max_len(), Ok(40));
        assert_eq!(claim(r"[a-z]{1,10}", Some(40)).max_len(), Ok(10), "the tighter bound");
        assert_eq!(claim(r"(?i)pro", None).max_len(), Ok(3));
    }

    #[test]
    fn a_pattern_admitting_unsafe_characters_or_unbounded_values_is_refused() {
        for (pattern, want) in [
            (".{1,10}", "outside ASCII"),
            ("[^/]{1,10}", "outside ASCII"),
            (r"[a-z*]{1,10}", "'*'"),
            (r#"a"b"#, "'\"'"),
            (r"\$\{aws:username\}", "'$'"),
            (r"\S{1,4}", "outside ASCII"),
            ("[!-~]{1,4}", "'!'"),
            ("[a-z]+", "any length"),
            ("[a-z]{1,300}", "up to 300"),
            ("([a-z]", "not a regular expression"),
            ("", "only the empty value"),
        ] {
            let err = claim(pattern, None).max_len().unwrap_err();
            assert!(err.contains(want), "{pattern}: {err}");
        }
        assert!(claim("[a-z]+", Some(257)).max_len().unwrap_err().contains("257"));
        assert!(claim("[a-z]+", Some(0)).max_len().is_err());
    }
}
