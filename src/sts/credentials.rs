//! Cached keys, stored compactly: one allocation per entry holding the key id, the secret and
//! the session token, the token base64-decoded when it is canonical base64 (AWS's are), which
//! keeps 3 bytes of every 4. With ~1 KiB AWS session tokens and one entry per active user and
//! template, this is most of the service's memory.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

/// Short-lived keys. `Debug` never shows the secret or the session token.
pub struct Credentials {
    /// `access_key_id ‖ secret_access_key ‖ session token (decoded or as is)`.
    packed: Box<[u8]>,
    key_len: u8,
    secret_len: u8,
    /// The token part is base64-decoded and must be re-encoded when handed out.
    token_decoded: bool,
    pub expiration: OffsetDateTime,
}

impl Credentials {
    /// `None` when the key id or the secret is longer than 255 bytes (AWS's are 20 and 40).
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: &str,
        expiration: OffsetDateTime,
    ) -> Option<Self> {
        let key_len = u8::try_from(access_key_id.len()).ok()?;
        let secret_len = u8::try_from(secret_access_key.len()).ok()?;
        let decoded = decode_canonical(session_token);
        let token: &[u8] = decoded.as_deref().unwrap_or(session_token.as_bytes());
        let mut packed = Vec::with_capacity(access_key_id.len() + secret_access_key.len() + token.len());
        packed.extend_from_slice(access_key_id.as_bytes());
        packed.extend_from_slice(secret_access_key.as_bytes());
        packed.extend_from_slice(token);
        Some(Self {
            packed: packed.into_boxed_slice(),
            key_len,
            secret_len,
            token_decoded: decoded.is_some(),
            expiration,
        })
    }

    pub fn access_key_id(&self) -> &str {
        self.text(0, usize::from(self.key_len))
    }

    pub fn secret_access_key(&self) -> &str {
        let start = usize::from(self.key_len);
        self.text(start, start + usize::from(self.secret_len))
    }

    /// The session token exactly as STS returned it.
    pub fn session_token(&self) -> String {
        let start = usize::from(self.key_len) + usize::from(self.secret_len);
        if self.token_decoded {
            encode(&self.packed[start..])
        } else {
            self.text(start, self.packed.len()).to_owned()
        }
    }

    /// Lifetime left now.
    pub fn remaining(&self) -> Duration {
        let left = self.expiration - OffsetDateTime::now_utc();
        left.try_into().unwrap_or(Duration::ZERO)
    }

    fn text(&self, start: usize, end: usize) -> &str {
        // The parts were copied from `&str`s at their boundaries; this never fails.
        std::str::from_utf8(&self.packed[start..end]).unwrap_or_default()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id())
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Standard base64 with padding.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of `s` if it is standard padded base64 that [`encode`] gives back exactly.
fn decode_canonical(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let last = s.len() / 4 - 1;
    for (i, quad) in s.chunks(4).enumerate() {
        let pad = if i == last {
            quad.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | sextet(c)?;
        }
        n <<= 6 * pad;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    // Non-canonical forms (stray bits before the padding) would not round-trip: keep them as is.
    (encode(&out).as_bytes() == s).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: &str) -> Credentials {
        Credentials::new(
            "ASIAEXAMPLEEXAMPLE12",
            "secret/with+chars/0123456789abcdefghijkl",
            token,
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap()
    }

    #[test]
    fn every_part_comes_back_exactly() {
        for token in [
            "FwoGZXIvYXdzEBAaDH+/TmFtZQ==",
            "FwoGZXIvYXdzEBAaDH+/TmFtZQ=",
            "FwoGZXIvYXdzEBAaDH+/TmFtZ",
            "FwoGZXIvYXdzEBAaDH+/TmFt",
            "FwoGZXIvYXdzEBAaDH+/TmE=",
            "QQ==",
            "QR==",
            "not base64 at all!",
            "",
            "ñ-token",
        ] {
            let c = creds(token);
            assert_eq!(c.access_key_id(), "ASIAEXAMPLEEXAMPLE12");
            assert_eq!(c.secret_access_key(), "secret/with+chars/0123456789abcdefghijkl");
            assert_eq!(c.session_token(), token);
        }
    }

    #[test]
    fn a_base64_token_is_kept_in_three_quarters_of_its_length() {
        let token = "FwoGZXIvYXdzE0123456789ABCDEF".repeat(40)[..1024].to_owned();
        let c = creds(&token);
        assert!(c.token_decoded);
        assert_eq!(c.packed.len(), 20 + 40 + 768);
        assert_eq!(c.session_token(), token);
    }

    #[test]
    fn debug_hides_the_secrets() {
        let shown = format!("{:?}", creds("FwoGZXIvYXdz"));
        assert!(shown.contains("ASIAEXAMPLEEXAMPLE12"));
        assert!(!shown.contains("secret/") && !shown.contains("FwoG"));
    }
}
