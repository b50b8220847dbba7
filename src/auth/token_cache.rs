//! Tokens that passed verification, remembered until they expire, so a returning client's
//! token skips the signature check and claim parsing.
//!
//! The key is SHA-256 of the whole token (header, claims and signature): only the exact bytes
//! that were verified can hit an entry, so a token with another signature or any changed claim
//! is verified in full. An entry is used only
//! - before the token's `exp`, checked against the clock on every hit (an expired entry stays
//!   until newer ones push it out, but is never served). The leeway is not granted to cached tokens: a token inside its leeway
//!   window is verified in full and gets the answer it would get without the cache;
//! - while the issuer's key set is the one it was verified against (`JwksCache::generation`),
//!   so a key removed from the JWKS stops its tokens at the next refresh (periodic, every
//!   `auth.jwks_refresh_seconds`, or one an unknown kid asked for), as without the cache.
//!
//! Only accepted tokens are cached; a rejected one is checked in full every time.

use std::sync::Arc;

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use super::Caller;

/// Entries kept at most unless configured (`cache.token_entries`; least recently and least often
/// used go first).
pub const DEFAULT_CAPACITY: u64 = crate::config::DEFAULT_TOKEN_ENTRIES;

pub type TokenKey = [u8; 32];

/// The verified caller, shared with every request that presents the same token.
#[derive(Clone)]
struct Entry {
    caller: Arc<Caller>,
    /// The token's `exp` (seconds since the epoch).
    exp: u64,
    /// `JwksCache::generation` read before the token was verified.
    generation: u64,
}

pub struct TokenCache {
    /// `None` when disabled (capacity 0).
    cache: Option<Cache<TokenKey, Entry>>,
}

impl TokenCache {
    pub fn new(capacity: u64) -> Self {
        Self {
            // Expired entries are not served (see `get`) and make room for others as they age out.
            cache: (capacity > 0).then(|| Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX))),
        }
    }

    pub fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The caller of a token verified earlier, if it has not expired at `now` and the key set
    /// is still `generation`.
    pub fn get(&self, key: &TokenKey, generation: u64, now: u64) -> Option<Arc<Caller>> {
        let e = self.cache.as_ref()?.get(key)?;
        if now >= e.exp || e.generation != generation {
            return None;
        }
        Some(e.caller)
    }

    /// Remembers an accepted token until `exp`.
    pub fn insert(&self, key: TokenKey, caller: Arc<Caller>, exp: u64, generation: u64) {
        let Some(cache) = &self.cache else { return };
        cache.insert(
            key,
            Entry {
                caller,
                exp,
                generation,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::unix_now;
    use crate::identity::UserId;

    const ISSUER: &str = "https://issuer.example/";

    fn caller(sub: &str) -> Arc<Caller> {
        Arc::new(Caller {
            user_id: UserId::derive(ISSUER, sub),
            issuer: ISSUER.to_owned(),
            subject: sub.to_owned(),
            grants: ["read:files".into(), "write:files".into()].into(),
            permissions: ["read:files".into(), "write:files".into()].into(),
            client_id: Some("spa".to_owned()),
            machine: false,
            unmet_claim: None,
            org: crate::identity::TokenOrg::None,
            claims: crate::identity::TokenClaims::default(),
        })
    }

    #[test]
    fn a_cached_token_is_refused_from_its_exp_on() {
        let cache = TokenCache::new(10);
        let key = TokenCache::key("h.p.s");
        let now = unix_now();
        cache.insert(key, caller("auth0|a"), now + 60, 1);

        let hit = cache.get(&key, 1, now).expect("cached before exp");
        assert_eq!((hit.subject.as_str(), hit.issuer.as_str()), ("auth0|a", ISSUER));
        assert_eq!(hit.user_id, UserId::derive(ISSUER, "auth0|a"));
        assert!(hit.has_any(&["write:files".to_owned()]));
        assert_eq!(hit.client_id.as_deref(), Some("spa"));
        assert!(cache.get(&key, 1, now + 59).is_some());
        assert!(cache.get(&key, 1, now + 60).is_none(), "at exp");
        assert!(cache.get(&key, 1, now + 61).is_none(), "after exp");
    }

    #[test]
    fn an_already_expired_token_is_not_served() {
        let cache = TokenCache::new(10);
        let key = TokenCache::key("h.p.s");
        let now = unix_now();
        cache.insert(key, caller("auth0|a"), now - 1, 1);
        assert!(cache.get(&key, 1, now).is_none());
    }

    #[test]
    fn a_changed_key_set_or_another_token_misses() {
        let cache = TokenCache::new(10);
        let now = unix_now();
        cache.insert(TokenCache::key("h.p.sig1"), caller("auth0|a"), now + 60, 1);
        assert!(cache.get(&TokenCache::key("h.p.sig1"), 2, now).is_none());
        assert!(cache.get(&TokenCache::key("h.p.sig2"), 1, now).is_none());
    }

    #[test]
    fn capacity_zero_disables_the_cache() {
        let cache = TokenCache::new(0);
        let key = TokenCache::key("h.p.s");
        let now = unix_now();
        cache.insert(key, caller("auth0|a"), now + 60, 1);
        assert!(cache.get(&key, 1, now).is_none());
    }
}
