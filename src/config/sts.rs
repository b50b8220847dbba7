//! `[sts]`: what every `AssumeRole` carries besides the policy: `session_tags`, session-tag
//! keys mapped to token claims, so bucket and role policies can read a claim as
//! `aws:PrincipalTag/<key>`.
//!
//! A tag's claim is declared in `[policies.claims]` too (the entry whose `claim` it names):
//! that gives the pattern and the length its values are checked against, in one place for
//! templates and tags. A token without the claim gets a session without the tag.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ClaimConfig;
use crate::identity::is_claim_char;

/// Session tag carrying the organisation's internal id on org-template sessions.
pub const ORG_TAG_KEY: &str = "stsvend-org";
/// STS takes at most this many session tags in one `AssumeRole`.
pub const MAX_SESSION_TAGS: usize = 50;
/// STS's longest session-tag key.
const MAX_TAG_KEY: usize = 128;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StsConfig {
    /// Session-tag key -> the token claim whose value it carries.
    #[serde(default)]
    pub session_tags: BTreeMap<String, String>,
}

impl StsConfig {
    /// Each tag key with the `[policies.claims]` name of its claim (checked at load).
    pub fn tags<'a>(&'a self, claims: &'a BTreeMap<String, ClaimConfig>) -> Vec<(&'a str, &'a str)> {
        self.session_tags
            .iter()
            .filter_map(|(key, claim)| {
                let (name, _) = claims.iter().find(|(_, c)| &c.claim == claim)?;
                Some((key.as_str(), name.as_str()))
            })
            .collect()
    }

    /// What is wrong with `session_tags`: STS's limits, the service's own tags, undeclared
    /// claims. `user_tag`: `aws.session_tag_key`.
    pub(super) fn problems(&self, claims: &BTreeMap<String, ClaimConfig>, user_tag: &str) -> Vec<String> {
        let mut p = Vec::new();
        // The user's tag and `stsvend-org` ride along on every session that may carry them.
        let own = [user_tag, ORG_TAG_KEY];
        if self.session_tags.len() + own.len() > MAX_SESSION_TAGS {
            p.push(format!(
                "sts.session_tags: {} tags, and {} of the service's own ({}); STS takes at most {MAX_SESSION_TAGS} in all",
                self.session_tags.len(),
                own.len(),
                own.join(", ")
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        for (key, claim) in &self.session_tags {
            let lower = key.to_ascii_lowercase();
            if key.is_empty() || key.chars().count() > MAX_TAG_KEY || !key.chars().all(is_claim_char) {
                p.push(format!(
                    "sts.session_tags: key `{}` must be 1-{MAX_TAG_KEY} ASCII letters, digits, spaces and _.:/=+-@",
                    key.chars().take(140).collect::<String>()
                ));
            }
            if lower.starts_with("aws:") {
                p.push(format!("sts.session_tags: key `{key}`: the `aws:` prefix is AWS's own"));
            }
            if own.iter().any(|o| o.eq_ignore_ascii_case(key)) {
                p.push(format!(
                    "sts.session_tags: key `{key}` is the service's own tag (aws.session_tag_key, {ORG_TAG_KEY})"
                ));
            }
            // STS refuses two keys that differ only in case.
            if seen.contains(&lower) {
                p.push(format!("sts.session_tags: key `{key}` repeats another but for case"));
            }
            seen.push(lower);
            if !claims.values().any(|c| &c.claim == claim) {
                p.push(format!(
                    "sts.session_tags.{key}: claim `{claim}` is not declared in [policies.claims] (its entry gives the pattern a value must match)"
                ));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::shipped as load;

    const TIER: [(&str, &str); 2] = [
        ("STSVEND_POLICIES__CLAIMS__TIER__CLAIM", "https://example.com/tier"),
        ("STSVEND_POLICIES__CLAIMS__TIER__PATTERN", "free|pro"),
    ];

    fn with_tier(more: &[(&str, &str)]) -> Result<crate::config::Config, String> {
        load(&[&TIER[..], more].concat())
    }

    #[test]
    fn a_tag_of_a_declared_claim_loads_and_names_the_claim() {
        let c = with_tier(&[("STSVEND_STS__SESSION_TAGS__TIER", "https://example.com/tier")]).unwrap();
        assert_eq!(c.sts.tags(&c.policies.claims), [("tier", "tier")]);
        assert_eq!(c.policies.claims["tier"].max_len(), Ok(4));
        assert!(
            load(&[]).unwrap().sts.session_tags.is_empty(),
            "no tags unless configured"
        );
    }

    #[test]
    fn tag_keys_beyond_stss_limits_or_the_services_own_stop_start_up() {
        let long = format!("STSVEND_STS__SESSION_TAGS__{}", "k".repeat(129));
        let cases: [(&str, &str); 5] = [
            (&long, "must be 1-128 ASCII letters"),
            ("STSVEND_STS__SESSION_TAGS__AWS:DEPT", "the `aws:` prefix is AWS's own"),
            ("STSVEND_STS__SESSION_TAGS__STSVEND-ORG", "is the service's own tag"),
            ("STSVEND_STS__SESSION_TAGS__STSVEND-USER", "is the service's own tag"),
            ("STSVEND_STS__SESSION_TAGS__A*B", "must be 1-128 ASCII letters"),
        ];
        for (var, want) in cases {
            let err = with_tier(&[(var, "https://example.com/tier")]).unwrap_err();
            assert!(err.contains(want), "{var}: {err}");
        }
        let err = with_tier(&[("STSVEND_STS__SESSION_TAGS__DEPT", "https://example.com/department")]).unwrap_err();
        assert!(
            err.contains("claim `https://example.com/department` is not declared in [policies.claims]"),
            "{err}"
        );
    }

    #[test]
    fn fifty_one_tags_with_the_services_own_stop_start_up_and_fifty_load() {
        let vars: Vec<String> = (0..49).map(|i| format!("STSVEND_STS__SESSION_TAGS__T{i}")).collect();
        let tags = |n: usize| -> Vec<(&str, &str)> {
            vars[..n]
                .iter()
                .map(|v| (v.as_str(), "https://example.com/tier"))
                .collect()
        };
        assert!(with_tier(&tags(48)).is_ok(), "48 and the 2 of the service");
        let err = with_tier(&tags(49)).unwrap_err();
        assert!(err.contains("49 tags, and 2 of the service's own"), "{err}");
        assert!(err.contains("at most 50 in all"), "{err}");
    }

    #[test]
    fn claims_with_unsafe_patterns_bad_names_or_reserved_claims_stop_start_up() {
        let err = load(&[
            ("STSVEND_POLICIES__CLAIMS__TIER__CLAIM", "https://example.com/tier"),
            ("STSVEND_POLICIES__CLAIMS__TIER__PATTERN", "(free|pro"),
            ("STSVEND_POLICIES__CLAIMS__ANY__CLAIM", "https://example.com/any"),
            ("STSVEND_POLICIES__CLAIMS__ANY__PATTERN", ".*"),
            ("STSVEND_POLICIES__CLAIMS__LONG__CLAIM", "https://example.com/long"),
            ("STSVEND_POLICIES__CLAIMS__LONG__PATTERN", "[a-z]+"),
            ("STSVEND_POLICIES__CLAIMS__WHO__CLAIM", "sub"),
            ("STSVEND_POLICIES__CLAIMS__WHO__PATTERN", "[a-z]{1,8}"),
            ("STSVEND_POLICIES__CLAIMS__TWICE__CLAIM", "https://example.com/long"),
            ("STSVEND_POLICIES__CLAIMS__TWICE__PATTERN", "[a-z]{1,8}"),
        ])
        .unwrap_err();
        for want in [
            "policies.claims.tier.pattern: not a regular expression",
            "policies.claims.any.pattern: admits characters outside ASCII",
            "policies.claims.long.pattern: admits values of any length",
            "policies.claims.who.claim: `sub` cannot be read here",
            "policies.claims.twice.claim: `https://example.com/long` is read by policies.claims.long too",
        ] {
            assert!(err.contains(want), "{want} in {err}");
        }
        let org = load(&[
            ("STSVEND_ORGS__CLAIM", "org_id"),
            ("STSVEND_POLICIES__CLAIMS__ORG__CLAIM", "org_id"),
            ("STSVEND_POLICIES__CLAIMS__ORG__PATTERN", "[a-z]{1,8}"),
        ])
        .unwrap_err();
        assert!(
            org.contains("policies.claims.org.claim: `org_id` cannot be read here"),
            "{org}"
        );
    }
}
