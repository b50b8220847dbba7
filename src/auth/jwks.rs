//! The issuer's signing keys, cached.
//!
//! Keys are loaded in the background at start-up (readiness waits for them) and fetched again
//! every `auth.jwks_refresh_seconds`, on that schedule whatever else happens, so a key removed
//! from the issuer stops verifying within about that long (the verified-token cache follows
//! `generation`). When the issuer is unreachable or answers something unusable (a set without
//! usable keys included), the last good keys stay in use.
//!
//! A token whose `kid` is not cached asks for a fetch. Made-up kids must neither hammer the
//! issuer nor keep a genuinely new key from being fetched, and without the key the two look
//! alike, so:
//! - a kid missing from a successful fetch is remembered as missing for the cooldown
//!   (`auth.jwks_refetch_cooldown_seconds`) and answered `unknown_key` at once;
//! - any other unknown kid waits for the next fetch. Fetches are at least `UNKNOWN_KID_FETCH_GAP`
//!   apart, and a fetch that began after a request arrived answers it, so one fetch answers
//!   every request queued behind it.
//!
//! A flood of made-up kids thus costs the issuer at most one request per gap (plus the periodic
//! refresh), and a key published during the flood is found by the next fetch: within the gap
//! plus one fetch. Where the documents may come from is `fetch`'s concern.

mod fetch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use fetch::FetchError;
use fetch::Fetcher;

use super::AuthError;
use crate::config::AuthConfig;
use crate::runtime::metrics::Metrics;

/// Periodic refresh unless configured (`auth.jwks_refresh_seconds` defaults to the same).
const DEFAULT_REFRESH: Duration = Duration::from_mins(5);
/// Retry interval while no keys have been loaded yet.
const INITIAL_RETRY: Duration = Duration::from_secs(2);
/// Least time between the starts of two fetches when an unknown kid asks for one: the most a
/// flood of made-up kids can cost the issuer, and the most it can delay a new key.
pub const UNKNOWN_KID_FETCH_GAP: Duration = Duration::from_secs(1);
/// An unknown kid waits for the next fetch only if it can start within this long; with a longer
/// gap (fuzzing sets a day, to do no I/O) the request is answered at once.
const MAX_UNKNOWN_KID_WAIT: Duration = Duration::from_secs(2);
/// Kids remembered as missing, at most; beyond it the memory starts over (a forgotten kid costs
/// one gap-limited fetch, nothing more).
const MAX_ABSENT_KIDS: usize = 4096;

/// One verification key from the JWKS.
pub struct VerifyKey {
    pub key: DecodingKey,
    /// The JWK's `alg`, when it pins one; a token must then use exactly that algorithm.
    pub alg: Option<Algorithm>,
}

type KeyMap = HashMap<String, Arc<VerifyKey>>;

pub struct JwksCache {
    fetcher: Fetcher,
    cooldown: Duration,
    refresh_interval: Duration,
    unknown_kid_gap: Duration,
    keys: RwLock<Arc<KeyMap>>,
    loaded: AtomicBool,
    /// Changes whenever a fetched JWKS differs from the previous one (see `generation`).
    generation: AtomicU64,
    /// Kids missing from a successful fetch, with the time that fetch began.
    absent: Mutex<HashMap<String, Instant>>,
    refresh: tokio::sync::Mutex<RefreshState>,
    metrics: Option<Arc<Metrics>>,
}

#[derive(Default)]
struct RefreshState {
    /// The last fetch of any kind (periodic, unknown kid, start-up).
    last_fetch: Option<LastFetch>,
    discovered_url: Option<String>,
    /// SHA-256 of the last JWKS document loaded.
    last_document: Option<[u8; 32]>,
}

#[derive(Clone, Copy)]
struct LastFetch {
    started: Instant,
    finished: Instant,
    ok: bool,
}

impl JwksCache {
    /// Keys of `issuer`, from `jwks_url` or else discovery, over https only; see the builder
    /// methods for the rest, or [`JwksCache::from_config`].
    pub fn new(issuer: &str, jwks_url: Option<&str>, cooldown: Duration) -> Self {
        Self {
            fetcher: Fetcher::new(issuer, jwks_url, false),
            cooldown,
            refresh_interval: DEFAULT_REFRESH,
            unknown_kid_gap: UNKNOWN_KID_FETCH_GAP,
            keys: RwLock::new(Arc::new(KeyMap::new())),
            loaded: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            absent: Mutex::new(HashMap::new()),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            metrics: None,
        }
    }

    /// Everything as `auth` configures it.
    pub fn from_config(auth: &AuthConfig) -> Self {
        Self::new(
            &auth.issuer,
            auth.jwks_url.as_deref(),
            Duration::from_secs(auth.jwks_refetch_cooldown_seconds),
        )
        .with_refresh_interval(Duration::from_secs(auth.jwks_refresh_seconds))
        .allow_insecure_http(auth.allow_insecure_http)
    }

    /// Lets the issuer and JWKS be plain `http://` (`auth.allow_insecure_http`).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        if allow != self.fetcher.allows_insecure_http() {
            self.fetcher = Fetcher::new(self.fetcher.issuer(), self.fetcher.configured_url(), allow);
        }
        self
    }

    /// How often `spawn_refresher` fetches once keys are loaded.
    #[must_use]
    pub fn with_refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every;
        self
    }

    /// Least time between fetches asked for by unknown kids (default `UNKNOWN_KID_FETCH_GAP`).
    /// Longer than two seconds, unknown kids never wait and never fetch (for fuzzing).
    #[must_use]
    pub fn with_unknown_kid_fetch_gap(mut self, gap: Duration) -> Self {
        self.unknown_kid_gap = gap;
        self
    }

    /// Counts fetches in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// True once a JWKS has been fetched successfully.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Identifies the key set in use: it changes after the keys are replaced by a different
    /// JWKS (a key added, removed or changed), never before. The verified-token cache keeps
    /// an entry only while this is the value read before the token was checked.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lookup(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(kid).cloned()
    }

    /// The answer for a kid that no fetch can be asked about now.
    fn unknown(&self) -> AuthError {
        if self.is_loaded() {
            AuthError::UnknownKey
        } else {
            AuthError::JwksUnavailable
        }
    }

    fn known_absent(&self, kid: &str) -> bool {
        let absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
        absent.get(kid).is_some_and(|at| at.elapsed() < self.cooldown)
    }

    fn remember_absent(&self, kid: &str, fetch_started: Instant) {
        let mut absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
        if absent.len() >= MAX_ABSENT_KIDS {
            absent.retain(|_, at| at.elapsed() < self.cooldown);
            if absent.len() >= MAX_ABSENT_KIDS {
                absent.clear();
            }
        }
        absent.insert(kid.to_owned(), fetch_started);
    }

    /// The key for `kid`, fetching the JWKS when it is unknown (see the module comment for
    /// when that happens and how long it may wait).
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        if let Some(k) = self.lookup(kid) {
            return Ok(k);
        }
        if self.known_absent(kid) {
            return Err(self.unknown());
        }
        let asked = Instant::now();
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(k) = self.lookup(kid) {
            return Ok(k);
        }
        if let Some(last) = state.last_fetch {
            // A fetch that began after this request arrived has answered it.
            if last.started >= asked {
                return Err(if last.ok {
                    self.remember_absent(kid, last.started);
                    AuthError::UnknownKey
                } else {
                    AuthError::JwksUnavailable
                });
            }
            // The issuer failed while this request waited: no second fetch queued behind it.
            if !last.ok && last.finished >= asked {
                return Err(AuthError::JwksUnavailable);
            }
            let wait = last
                .started
                .checked_add(self.unknown_kid_gap)
                .map_or(Duration::MAX, |next| next.saturating_duration_since(Instant::now()));
            if wait > MAX_UNKNOWN_KID_WAIT {
                return Err(self.unknown());
            }
            // Still holding the lock: requests queued behind this one are answered by its fetch.
            tokio::time::sleep(wait).await;
        }
        match self.refresh_locked(&mut state).await {
            Ok(started) => self.lookup(kid).ok_or_else(|| {
                self.remember_absent(kid, started);
                AuthError::UnknownKey
            }),
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch for an unknown kid failed; keeping the last good keys");
                Err(AuthError::JwksUnavailable)
            }
        }
    }

    /// Fetches the JWKS now (discovering its address first if needed).
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await.map(|_| ())
    }

    /// One fetch, recorded in `state.last_fetch`; returns when it began.
    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<Instant, FetchError> {
        let started = Instant::now();
        let outcome = self.fetch_locked(state).await;
        state.last_fetch = Some(LastFetch {
            started,
            finished: Instant::now(),
            ok: outcome.is_ok(),
        });
        if let Some(m) = &self.metrics {
            m.jwks_refreshes
                .with_label_values(&[if outcome.is_ok() { "ok" } else { "error" }])
                .inc();
        }
        outcome.map(|()| started)
    }

    async fn fetch_locked(&self, state: &mut RefreshState) -> Result<(), FetchError> {
        let url = self.fetcher.jwks_url(&mut state.discovered_url).await?;
        let body = self.fetcher.jwks(&url).await?;
        let keys = parse_jwks(&body).map_err(|reason| FetchError::Body {
            url: url.clone(),
            reason,
        })?;
        tracing::info!(keys = keys.len(), %url, "JWKS loaded");
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        // After the keys are in place: a reader that sees the new generation sees the new keys.
        let document: [u8; 32] = Sha256::digest(&body).into();
        if state.last_document != Some(document) {
            state.last_document = Some(document);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Keeps keys loaded: retries quickly until the first success, then refreshes every
    /// `refresh_interval`, whether or not unknown kids fetched in between.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(cache) = weak.upgrade() else { return };
                let wait = match cache.refresh().await {
                    Ok(()) => cache.refresh_interval,
                    Err(e) => {
                        tracing::warn!(error = %e, "JWKS fetch failed; keeping the last good keys");
                        if cache.is_loaded() {
                            cache.refresh_interval
                        } else {
                            INITIAL_RETRY.min(cache.refresh_interval)
                        }
                    }
                };
                drop(cache);
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// Keeps the usable asymmetric signing keys of a JWKS, skipping (not failing on) the rest.
/// Symmetric (`oct`) keys are never accepted from a JWKS.
fn parse_jwks(body: &[u8]) -> Result<KeyMap, String> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let set: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut out = KeyMap::new();
    for raw in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        if matches!(
            jwk.algorithm,
            AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
        ) {
            continue;
        }
        let alg = match jwk.common.key_algorithm {
            Some(ka) => match ka.to_string().parse::<Algorithm>() {
                Ok(a) => Some(a),
                Err(_) => continue,
            },
            None => None,
        };
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            out.insert(kid, Arc::new(VerifyKey { key, alg }));
        }
    }
    if out.is_empty() {
        return Err("no usable signing keys".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_kidless_keys_are_skipped() {
        let body = br#"{"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","kid":"r","alg":"RS256","use":"sig","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"},
            {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["r"]);
        assert_eq!(keys["r"].alg, Some(Algorithm::RS256));
    }

    #[test]
    fn missing_kids_are_remembered_for_the_cooldown_within_a_bound() {
        let cache = JwksCache::new("https://issuer.example/", None, Duration::from_secs(30));
        let now = Instant::now();
        cache.remember_absent("gone", now);
        assert!(cache.known_absent("gone"));
        assert!(!cache.known_absent("never-seen"));
        let long_ago = now.checked_sub(Duration::from_secs(31)).unwrap();
        cache.remember_absent("stale", long_ago);
        assert!(!cache.known_absent("stale"), "remembered only for the cooldown");
        for i in 0..3 * MAX_ABSENT_KIDS {
            cache.remember_absent(&format!("made-up-{i}"), now);
            assert!(cache.absent.lock().unwrap().len() <= MAX_ABSENT_KIDS);
        }
        assert!(cache.known_absent(&format!("made-up-{}", 3 * MAX_ABSENT_KIDS - 1)));
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        assert!(parse_jwks(br#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
