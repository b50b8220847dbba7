//! `[orgs]`: organisations (team storage from the token's org claim). Absent: the feature is
//! off, templates using `{{org_*}}` cannot be granted, and nothing else changes.

use serde::Deserialize;

/// Auth0 Organizations puts the organisation in every access token as `org_id`.
pub const DEFAULT_CLAIM: &str = "org_id";
/// Auth0's organisation ids: `org_` and up to 64 letters and digits.
pub const DEFAULT_ID_PATTERN: &str = "^org_[A-Za-z0-9]{1,64}$";

#[derive(Debug, Clone, Deserialize)]
pub struct OrgsConfig {
    /// The claim naming the caller's organisation; namespaced names
    /// (`https://example.com/org`) are allowed.
    #[serde(default = "default_claim")]
    pub claim: String,
    /// What a claim value must match, whole (it is anchored at both ends whatever it says).
    /// Whatever it allows, a value with a control or non-ASCII character, or longer than 256
    /// bytes, is refused too.
    #[serde(default = "default_id_pattern")]
    pub id_pattern: String,
}

fn default_claim() -> String {
    DEFAULT_CLAIM.to_owned()
}

fn default_id_pattern() -> String {
    DEFAULT_ID_PATTERN.to_owned()
}

impl OrgsConfig {
    /// `id_pattern`, compiled to match a value whole.
    pub fn pattern(&self) -> Result<regex_lite::Regex, String> {
        regex_lite::Regex::new(&format!("^(?:{})$", self.id_pattern)).map_err(|e| e.to_string())
    }

    /// What is wrong with the section, if anything.
    pub(super) fn problems(&self, reserved: &[&str]) -> Vec<String> {
        let mut p = Vec::new();
        if self.claim.is_empty() || self.claim.len() > 256 || reserved.contains(&self.claim.as_str()) {
            p.push(format!(
                "orgs.claim: `{}` cannot name the organisation (1-256 characters, none of {})",
                self.claim,
                reserved.join(", ")
            ));
        }
        if let Err(e) = self.pattern() {
            p.push(format!("orgs.id_pattern: not a regular expression: {e}"));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::shipped as load;

    #[test]
    fn orgs_are_off_unless_the_section_is_set_and_take_auth0s_defaults() {
        let off = load(&[]).unwrap();
        assert!(off.orgs.is_none());
        assert_eq!(off.storage.org_prefix_root, "orgs");
        let on = load(&[("STSVEND_ORGS__CLAIM", "https://example.com/org")]).unwrap();
        let orgs = on.orgs.unwrap();
        assert_eq!(orgs.claim, "https://example.com/org");
        assert_eq!(orgs.id_pattern, super::DEFAULT_ID_PATTERN);
        let re = orgs.pattern().unwrap();
        assert!(re.is_match("org_abc"));
        assert!(!re.is_match("xorg_abc"), "the pattern is matched whole");
    }

    #[test]
    fn a_bad_pattern_a_reserved_claim_and_overlapping_roots_stop_start_up() {
        let err = load(&[
            ("STSVEND_ORGS__ID_PATTERN", "org_(["),
            ("STSVEND_ORGS__CLAIM", "sub"),
            ("STSVEND_STORAGE__ORG_PREFIX_ROOT", "users/orgs"),
        ])
        .unwrap_err();
        for want in ["orgs.id_pattern", "orgs.claim", "storage.org_prefix_root"] {
            assert!(err.contains(want), "{want} in {err}");
        }
        assert!(load(&[("STSVEND_STORAGE__ORG_PREFIX_ROOT", "users")]).is_err());
        assert!(load(&[("STSVEND_STORAGE__ORG_PREFIX_ROOT", "users-orgs")]).is_ok());
    }
}
