//! Token claims in templates (`{{claims.NAME}}`, declared in `[policies.claims]`) and in
//! session tags: the longest value each may take, which the trial renders use so the size
//! checks stay bounds, and the values one session is made with.

use std::collections::BTreeMap;

use crate::config::ClaimConfig;
use crate::identity::ClaimValue;

/// The placeholder naming claim `NAME` begins with this: `{{claims.NAME}}`.
pub const CLAIM_PLACEHOLDER: &str = "claims.";

/// The claims templates may name, with the longest value of each (`ClaimConfig::max_len`).
#[derive(Debug, Clone, Default)]
pub struct DeclaredClaims(BTreeMap<String, usize>);

impl DeclaredClaims {
    /// `[policies.claims]`; a claim whose pattern failed its checks (refused at load) is left
    /// out, so a template naming it is refused too.
    pub fn of(config: &BTreeMap<String, ClaimConfig>) -> Self {
        Self(
            config
                .iter()
                .filter_map(|(name, c)| Some((name.clone(), c.max_len().ok()?)))
                .collect(),
        )
    }

    /// Declared claims with their longest values, for tests and tools.
    pub fn from_lengths(lengths: &[(&str, usize)]) -> Self {
        Self(lengths.iter().map(|(n, l)| ((*n).to_owned(), *l)).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Every declared claim with a value of its longest length.
    pub fn longest_values(&self) -> Vec<(Box<str>, ClaimValue)> {
        self.0
            .iter()
            .filter_map(|(n, l)| Some((n.as_str().into(), longest(*l)?)))
            .collect()
    }
}

/// A value of `len` characters that STS cannot pack smaller than real values: letters and
/// digits in a fixed pseudo-random order (a run of one letter would compress to nothing).
/// `None` for 0 or more than STS's 256.
pub fn longest(len: usize) -> Option<ClaimValue> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state: u32 = 0x9E37_79B9;
    let text: String = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(ALPHABET[state as usize % ALPHABET.len()])
        })
        .collect();
    ClaimValue::parse(&text, len, |_| true).ok()
}

/// The claim values one session is made with: those its template names (by NAME) and its
/// session tags (by key). Part of the session's identity: keys made for one set of values are
/// never handed out for another (`TemplateId::for_claims`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionClaims {
    pub placeholders: Vec<(Box<str>, ClaimValue)>,
    pub tags: Vec<(Box<str>, ClaimValue)>,
}

impl SessionClaims {
    pub fn is_empty(&self) -> bool {
        self.placeholders.is_empty() && self.tags.is_empty()
    }
}
