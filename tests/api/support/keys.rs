//! The token helper: the test signing keys (PEM fixtures), their JWKs, and JWTs signed with
//! them or built raw for malformed cases.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

pub const AUDIENCE: &str = "https://stsvend.local/api";
pub const KID: &str = "test-key-1";
const SIGNING_PEM: &[u8] = include_bytes!("../../fixtures/signing_key.pem");
const OTHER_PEM: &[u8] = include_bytes!("../../fixtures/other_key.pem");
pub const SIGNING_PUBLIC_PEM: &[u8] = include_bytes!("../../fixtures/signing_key.pub.pem");

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(SIGNING_PEM).unwrap()
}

pub fn other_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(OTHER_PEM).unwrap()
}

pub fn jwk_for(key: &EncodingKey, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

/// Signs `claims` with `key` under an RS256 header carrying `kid` and `typ: JWT`.
pub fn sign(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// Raw JWT from a header and payload JSON and a signature segment, for malformed cases.
pub fn raw_jwt(header: &Value, payload: &Value, signature: &str) -> String {
    let b64 = |v: &Value| data_encoding::BASE64URL_NOPAD.encode(v.to_string().as_bytes());
    format!("{}.{}.{}", b64(header), b64(payload), signature)
}
