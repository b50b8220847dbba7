//! A test issuer for the token targets: fixed keys, a JWKS served on loopback, and the crate's
//! real `Verifier` pointed at it.
//!
//! `JwksCache` only loads keys over HTTP, so a tiny HTTP server on 127.0.0.1:0 serves a fixed
//! JWKS to it once at start-up (plain http, `allow_insecure_http`). Unknown kids may fetch only
//! a day after the last fetch, so after that every `verify` (unknown kids included) runs
//! without I/O.

#![allow(dead_code)] // each target uses a different part

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use stsvend::auth::{Caller, JwksCache, Verifier};
use stsvend::config::AuthConfig;

pub const ISSUER: &str = "https://fuzz.example.auth0.com/";
pub const AUDIENCE: &str = "https://stsvend.fuzz/api";
/// JWK `kid`s of the test keys. The EC key's JWK pins `alg: ES256`; the RSA key's pins none,
/// so RS256 and PS256 (both configured) verify against it.
pub const KID_EC: &str = "fuzz-ec";
pub const KID_RSA: &str = "fuzz-rsa";
/// An `oct` key in the JWKS under this kid must be skipped by the cache (never HMAC).
pub const KID_HMAC: &str = "fuzz-hmac";
pub const LEEWAY_SECONDS: u64 = 30;
/// `auth.max_token_lifetime_seconds`: a century, so the committed seed tokens (exp in 2100)
/// stay valid. Unknown to an older `AuthConfig`, the key is then simply ignored.
pub const MAX_LIFETIME_SECONDS: u64 = 100 * 365 * 24 * 3600;
/// The algorithms the verifier is configured with.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256];

const EC_PEM: &[u8] = include_bytes!("../../fixtures/es256.pem");
const EC_OTHER_PEM: &[u8] = include_bytes!("../../fixtures/es256_other.pem");
const RSA_PEM: &[u8] = include_bytes!("../../fixtures/rs256.pem");

pub struct Issuer {
    pub verifier: Verifier,
    runtime: tokio::runtime::Runtime,
    pub ec: EncodingKey,
    pub ec_other: EncodingKey,
    pub rsa: EncodingKey,
    /// Public halves, as the JWKS publishes them, for the independent signature check.
    pub ec_public: DecodingKey,
    pub rsa_public: DecodingKey,
    /// The RSA public key as JWK `n` bytes: what an HS256 key-confusion attacker would use.
    pub rsa_public_bytes: Vec<u8>,
}

impl Issuer {
    /// The shared issuer; built once per fuzzing process.
    pub fn get() -> &'static Self {
        static ISSUER_ONCE: OnceLock<Issuer> = OnceLock::new();
        ISSUER_ONCE.get_or_init(Self::build)
    }

    fn build() -> Self {
        let ec = EncodingKey::from_ec_pem(EC_PEM).expect("fixture EC key");
        let ec_other = EncodingKey::from_ec_pem(EC_OTHER_PEM).expect("fixture EC key");
        let rsa = EncodingKey::from_rsa_pem(RSA_PEM).expect("fixture RSA key");

        let mut ec_jwk = Jwk::from_encoding_key(&ec, Algorithm::ES256).expect("EC JWK");
        ec_jwk.common.key_id = Some(KID_EC.to_owned());
        ec_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let mut rsa_jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256).expect("RSA JWK");
        rsa_jwk.common.key_id = Some(KID_RSA.to_owned());
        rsa_jwk.common.key_algorithm = None;
        let rsa_public_bytes = match &rsa_jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => {
                data_encoding::BASE64URL_NOPAD.decode(p.n.as_bytes()).expect("JWK n")
            }
            _ => unreachable!("an RSA key gives RSA parameters"),
        };
        let ec_public = DecodingKey::from_jwk(&ec_jwk).expect("EC public key");
        let rsa_public = DecodingKey::from_jwk(&rsa_jwk).expect("RSA public key");

        let mut jwks = serde_json::to_value(JwkSet {
            keys: vec![ec_jwk, rsa_jwk],
        })
        .expect("JWKS serializes");
        jwks["keys"]
            .as_array_mut()
            .expect("keys array")
            .push(serde_json::json!({"kty": "oct", "kid": KID_HMAC, "k": "c2VjcmV0", "alg": "HS256"}));
        let jwks_url = serve_forever(jwks.to_string());

        let config: AuthConfig = serde_json::from_value(serde_json::json!({
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_url": jwks_url,
            "leeway_seconds": LEEWAY_SECONDS,
            "algorithms": ALGORITHMS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
            "jwks_refetch_cooldown_seconds": 86_400,
            "max_token_lifetime_seconds": MAX_LIFETIME_SECONDS,
            "allow_client_credentials": false,
            // The JWKS is served over plain http on loopback.
            "allow_insecure_http": true,
        }))
        .expect("AuthConfig deserializes");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        // Unknown kids never fetch: no I/O after the first load.
        let cache = Arc::new(JwksCache::from_config(&config).with_unknown_kid_fetch_gap(Duration::from_secs(86_400)));
        runtime.block_on(cache.refresh()).expect("the loopback JWKS loads");
        let verifier = Verifier::new(&config, cache);
        Self {
            verifier,
            runtime,
            ec,
            ec_other,
            rsa,
            ec_public,
            rsa_public,
            rsa_public_bytes,
        }
    }

    pub fn verify(&self, token: &str) -> Result<std::sync::Arc<Caller>, stsvend::auth::AuthError> {
        self.runtime.block_on(self.verifier.verify(token))
    }

    /// The public key published under `kid`, if the JWKS has a usable one.
    pub fn public_key(&self, kid: &str) -> Option<&DecodingKey> {
        match kid {
            KID_EC => Some(&self.ec_public),
            KID_RSA => Some(&self.rsa_public),
            _ => None,
        }
    }
}

/// Serves `body` as JSON to every request on 127.0.0.1:0 from a background thread, for the
/// life of the process. Returns the URL.
fn serve_forever(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("local addr")
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// `STSVEND_FUZZ_DEBUG=1` makes the targets print each verdict (for checking seeds by hand).
pub fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("STSVEND_FUZZ_DEBUG").is_some())
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

pub fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// Decodes a base64url JWT segment as JSON, without any checks (for oracles only).
pub fn segment_json(segment: &str) -> Option<serde_json::Value> {
    let bytes = data_encoding::BASE64URL_NOPAD.decode(segment.as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}
