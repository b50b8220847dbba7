//! The issuer's signing keys, cached.
//!
//! Keys are loaded in the background at start-up (readiness waits for them) and refreshed
//! periodically. A token with an unknown `kid` triggers one refetch, at most once per cooldown,
//! so a flood of made-up kids cannot hammer the issuer. When the issuer is unreachable the last
//! good keys stay in use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AuthError;
use crate::metrics::Metrics;

/// A JWKS larger than this is refused; real ones are a few KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How often keys are refreshed even without an unknown kid, so removed keys stop working.
const PERIODIC_REFRESH: Duration = Duration::from_mins(15);
/// Retry interval while no keys have been loaded yet.
const INITIAL_RETRY: Duration = Duration::from_secs(2);

/// One verification key from the JWKS.
pub struct VerifyKey {
    pub key: DecodingKey,
    /// The JWK's `alg`, when it pins one; a token must then use exactly that algorithm.
    pub alg: Option<Algorithm>,
}

type KeyMap = HashMap<String, Arc<VerifyKey>>;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: reqwest::StatusCode },
    #[error("{url}: {reason}")]
    Body { url: String, reason: String },
}

pub struct JwksCache {
    http: reqwest::Client,
    issuer: String,
    configured_url: Option<String>,
    cooldown: Duration,
    keys: RwLock<Arc<KeyMap>>,
    loaded: AtomicBool,
    /// Changes whenever a fetched JWKS differs from the previous one (see `generation`).
    generation: AtomicU64,
    refresh: tokio::sync::Mutex<RefreshState>,
    metrics: Option<Arc<Metrics>>,
}

#[derive(Default)]
struct RefreshState {
    /// Last refetch caused by an unknown kid, and whether it succeeded.
    last_unknown_kid_fetch: Option<(Instant, bool)>,
    discovered_url: Option<String>,
    /// SHA-256 of the last JWKS document loaded.
    last_document: Option<[u8; 32]>,
}

impl JwksCache {
    pub fn new(issuer: &str, jwks_url: Option<&str>, cooldown: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()
            .expect("reqwest client builds with static settings");
        Self {
            http,
            issuer: issuer.to_owned(),
            configured_url: jwks_url.map(str::to_owned),
            cooldown,
            keys: RwLock::new(Arc::new(KeyMap::new())),
            loaded: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            metrics: None,
        }
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
        let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.get(kid).cloned()
    }

    /// The key for `kid`, refetching the JWKS once per cooldown when it is unknown.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        if let Some(k) = self.lookup(kid) {
            return Ok(k);
        }
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(k) = self.lookup(kid) {
            return Ok(k);
        }
        if let Some((at, ok)) = state.last_unknown_kid_fetch
            && at.elapsed() < self.cooldown
        {
            return Err(if ok || self.is_loaded() {
                AuthError::UnknownKey
            } else {
                AuthError::JwksUnavailable
            });
        }
        let outcome = self.refresh_locked(&mut state).await;
        state.last_unknown_kid_fetch = Some((Instant::now(), outcome.is_ok()));
        match outcome {
            Ok(()) => self.lookup(kid).ok_or(AuthError::UnknownKey),
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch for an unknown kid failed; keeping the last good keys");
                Err(AuthError::JwksUnavailable)
            }
        }
    }

    /// Fetches the JWKS now (discovering its address first if needed).
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await
    }

    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<(), FetchError> {
        let outcome = self.fetch_locked(state).await;
        if let Some(m) = &self.metrics {
            m.jwks_refreshes
                .with_label_values(&[if outcome.is_ok() { "ok" } else { "error" }])
                .inc();
        }
        outcome
    }

    async fn fetch_locked(&self, state: &mut RefreshState) -> Result<(), FetchError> {
        let url = match (&self.configured_url, &state.discovered_url) {
            (Some(u), _) | (None, Some(u)) => u.clone(),
            (None, None) => {
                let u = self.discover().await?;
                state.discovered_url = Some(u.clone());
                u
            }
        };
        let body = self.get(&url).await?;
        let keys = parse_jwks(&body).map_err(|reason| FetchError::Body {
            url: url.clone(),
            reason,
        })?;
        tracing::info!(keys = keys.len(), %url, "JWKS loaded");
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        // After the keys are in place: a reader that sees the new generation sees the new keys.
        let document: [u8; 32] = Sha256::digest(&body).into();
        if state.last_document != Some(document) {
            state.last_document = Some(document);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    async fn discover(&self) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!("{}.well-known/openid-configuration", self.issuer);
        let body = self.get(&url).await?;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|e| FetchError::Body {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if doc.issuer != self.issuer {
            return Err(FetchError::Body {
                url,
                reason: format!("discovery names issuer `{}`, configured `{}`", doc.issuer, self.issuer),
            });
        }
        Ok(doc.jwks_uri)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let http_err = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let resp = self.http.get(url).send().await.map_err(http_err)?;
        if !resp.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: resp.status(),
            });
        }
        let body = resp.bytes().await.map_err(http_err)?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(FetchError::Body {
                url: url.to_owned(),
                reason: "document too large".to_owned(),
            });
        }
        Ok(body.to_vec())
    }

    /// Keeps keys loaded: retries quickly until the first success, then refreshes periodically.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(cache) = weak.upgrade() else { return };
                let wait = match cache.refresh().await {
                    Ok(()) => PERIODIC_REFRESH,
                    Err(e) => {
                        tracing::warn!(error = %e, "JWKS fetch failed");
                        if cache.is_loaded() {
                            PERIODIC_REFRESH
                        } else {
                            INITIAL_RETRY
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
    fn a_set_without_usable_keys_is_an_error() {
        assert!(parse_jwks(br#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#).is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
