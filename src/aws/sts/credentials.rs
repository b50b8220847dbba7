//! Cached keys, stored compactly: one allocation per entry holding the key id, the secret and
//! the session token, the token base64-decoded when it is canonical base64 (AWS's are), which
//! keeps 3 bytes of every 4. With ~1 KiB AWS session tokens and one entry per active user and
//! template, this is most of the service's memory.

use std::fmt;
use std::time::Duration;

use data_encoding::BASE64;
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
        Some(Self::assemble(
            packed.into_boxed_slice(),
            key_len,
            secret_len,
            decoded.is_some(),
            expiration,
        ))
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
            BASE64.encode(&self.packed[start..])
        } else {
            self.text(start, self.packed.len()).to_owned()
        }
    }

    /// Bytes of memory these keys hold: the packed parts and the struct.
    pub fn heap_bytes(&self) -> usize {
        self.packed.len() + std::mem::size_of::<Self>()
    }

    /// Bytes of the session token as handed out (base64 when it was decoded).
    pub fn token_len(&self) -> usize {
        let start = usize::from(self.key_len) + usize::from(self.secret_len);
        let stored = self.packed.len() - start;
        if self.token_decoded {
            stored.div_ceil(3) * 4
        } else {
            stored
        }
    }

    /// The keys as bytes for sealing (see `vend::seal`): both lengths, whether the token is
    /// decoded, then the packed parts.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.packed.len());
        out.extend_from_slice(&[self.key_len, self.secret_len, u8::from(self.token_decoded)]);
        out.extend_from_slice(&self.packed);
        out
    }

    /// The inverse of [`Credentials::to_bytes`]; `None` for anything it did not produce.
    pub(crate) fn from_bytes(bytes: &[u8], expiration: OffsetDateTime) -> Option<Self> {
        let (&[key_len, secret_len, decoded], packed) = bytes.split_first_chunk::<3>()?;
        let texts = usize::from(key_len) + usize::from(secret_len);
        let text_ok = packed.get(..texts).is_some_and(|t| std::str::from_utf8(t).is_ok());
        let token_ok =
            decoded == 1 || (decoded == 0 && std::str::from_utf8(&packed[texts.min(packed.len())..]).is_ok());
        (text_ok && token_ok).then(|| Self::assemble(packed.into(), key_len, secret_len, decoded == 1, expiration))
    }

    /// The keys from their parts.
    fn assemble(
        packed: Box<[u8]>,
        key_len: u8,
        secret_len: u8,
        token_decoded: bool,
        expiration: OffsetDateTime,
    ) -> Self {
        Self {
            packed,
            key_len,
            secret_len,
            token_decoded,
            expiration,
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

/// The canonical base64 of `s` decoded, or `None` when re-encoding would not give `s` back.
fn decode_canonical(s: &str) -> Option<Vec<u8>> {
    let out = BASE64.decode(s.as_bytes()).ok()?;
    (!out.is_empty() && BASE64.encode(&out) == s).then_some(out)
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

    #[test]
    fn bytes_round_trip_and_foreign_bytes_are_refused() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for token in ["FwoGZXIvYXdzEBAaDH+/TmFtZQ==", "not base64 at all!"] {
            let c = Credentials::new("ASIAEXAMPLEEXAMPLE12", "secret", token, at).unwrap();
            let back = Credentials::from_bytes(&c.to_bytes(), at).unwrap();
            assert_eq!(
                (
                    back.access_key_id(),
                    back.secret_access_key(),
                    back.session_token(),
                    back.expiration
                ),
                ("ASIAEXAMPLEEXAMPLE12", "secret", token.to_owned(), at)
            );
        }
        for bad in [
            &b""[..],
            b"\x01",
            b"\x05\x00\x00abc",
            b"\x01\x01\x02ab",
            b"\x01\x00\x00a\xff",
        ] {
            assert!(Credentials::from_bytes(bad, at).is_none(), "{bad:?}");
        }
    }
}
