//! Sealing credentials for the shared credential table (`Store::publish_issued`): AES-256-GCM,
//! so the database never holds a usable secret. The user id, template and expiry are the
//! associated data: a row moved to another user or template does not open.
//!
//! The key comes from `cache.sealing_keys` (every replica of a fleet has the same, from a
//! secret in its environment; never from the database), as `id:base64` entries: the first
//! seals, all open, so a new key can be put first while rows sealed under the old one expire.
//! Without configured keys a random key is drawn at start-up: rows are then this process's
//! alone (another replica cannot open them and asks STS itself).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::identity::UserId;
use crate::sts::Credentials;

/// The key id of a random per-process key (configured ids are 1-255, see
/// `config::parse_sealing_keys`).
const PROCESS_KEY_ID: u8 = 0;

pub struct Sealer {
    /// (id, key); the first seals.
    keys: Vec<(u8, LessSafeKey)>,
    rng: SystemRandom,
}

#[derive(Debug, thiserror::Error)]
pub enum SealerError {
    #[error("the system random source failed")]
    Random,
    #[error("cache.sealing_keys: {0}")]
    Keys(String),
}

impl Sealer {
    /// A sealer over the configured keys, or over a fresh random key when there are none.
    pub fn new(configured: &[(u8, [u8; 32])]) -> Result<Self, SealerError> {
        let rng = SystemRandom::new();
        let bind = |id: u8, bytes: &[u8; 32]| {
            UnboundKey::new(&AES_256_GCM, bytes)
                .map(|k| (id, LessSafeKey::new(k)))
                .map_err(|_| SealerError::Keys(format!("key {id} is not an AES-256 key")))
        };
        let keys = if configured.is_empty() {
            let mut bytes = [0u8; 32];
            rng.fill(&mut bytes).map_err(|_| SealerError::Random)?;
            vec![bind(PROCESS_KEY_ID, &bytes)?]
        } else {
            configured
                .iter()
                .map(|(id, k)| bind(*id, k))
                .collect::<Result<_, _>>()?
        };
        Ok(Self { keys, rng })
    }

    /// `key id ‖ nonce ‖ ciphertext ‖ tag` of the credentials of (user, template). Nonces are
    /// random (96 bits): replicas sharing a key keep no counter in common.
    pub fn seal(&self, user_id: &UserId, template: u8, credentials: &Credentials) -> Option<Vec<u8>> {
        let (id, key) = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut body = credentials.to_bytes();
        let aad = associated(user_id, template, credentials.expiration);
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad[..]), &mut body)
            .ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(*id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Some(out)
    }

    /// The credentials sealed for (user, template) with this expiry; `None` for anything
    /// else (a key this process does not hold, another user's row, a changed byte).
    pub fn open(
        &self,
        user_id: &UserId,
        template: u8,
        expiration: OffsetDateTime,
        sealed: &[u8],
    ) -> Option<Credentials> {
        let (id, rest) = sealed.split_first()?;
        let (_, key) = self.keys.iter().find(|(k, _)| k == id)?;
        let (nonce, body) = rest.split_first_chunk::<NONCE_LEN>()?;
        let mut body = body.to_vec();
        let aad = associated(user_id, template, expiration);
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(&aad[..]), &mut body)
            .ok()?;
        Credentials::from_bytes(plain, expiration)
    }
}

fn associated(user_id: &UserId, template: u8, expiration: OffsetDateTime) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(user_id.as_str().as_bytes());
    aad.push(template);
    aad.extend_from_slice(&expiration.unix_timestamp().to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(at: OffsetDateTime) -> Credentials {
        Credentials::new("ASIAEXAMPLEEXAMPLE12", "secret/key", "FwoGZXIvYXdzEBAaDH+/TmFtZQ==", at).unwrap()
    }

    fn key(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    #[test]
    fn sealed_credentials_open_only_for_their_user_template_expiry_and_key() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (a, b) = (UserId::derive("https://i/", "a"), UserId::derive("https://i/", "b"));
        let this_process = Sealer::new(&[]).unwrap();
        let sealed = this_process.seal(&a, 0, &creds(at)).unwrap();
        assert!(
            !sealed.windows(10).any(|w| w == b"secret/key"),
            "the secret is not in the sealed bytes"
        );

        let back = this_process.open(&a, 0, at, &sealed).unwrap();
        assert_eq!(
            (back.access_key_id(), back.secret_access_key(), back.session_token()),
            (
                "ASIAEXAMPLEEXAMPLE12",
                "secret/key",
                "FwoGZXIvYXdzEBAaDH+/TmFtZQ==".to_owned()
            )
        );
        assert!(this_process.open(&b, 0, at, &sealed).is_none(), "another user's row");
        assert!(this_process.open(&a, 1, at, &sealed).is_none(), "another template");
        let later = at + time::Duration::hours(1);
        assert!(this_process.open(&a, 0, later, &sealed).is_none(), "a changed expiry");
        assert!(
            Sealer::new(&[]).unwrap().open(&a, 0, at, &sealed).is_none(),
            "another process's random key"
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(this_process.open(&a, 0, at, &flipped).is_none(), "a changed byte");
        assert_ne!(
            this_process.seal(&a, 0, &creds(at)).unwrap(),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn replicas_sharing_keys_open_each_others_rows_across_a_rotation() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let a = UserId::derive("https://i/", "a");
        let old = Sealer::new(&[(1, key(1))]).unwrap();
        let sealed_old = old.seal(&a, 0, &creds(at)).unwrap();
        assert!(
            Sealer::new(&[(1, key(1))])
                .unwrap()
                .open(&a, 0, at, &sealed_old)
                .is_some()
        );

        // Rotation: key 2 seals from now on; key 1 still opens what it sealed.
        let rotated = Sealer::new(&[(2, key(2)), (1, key(1))]).unwrap();
        assert!(rotated.open(&a, 0, at, &sealed_old).is_some());
        let sealed_new = rotated.seal(&a, 0, &creds(at)).unwrap();
        assert_eq!(sealed_new[0], 2);
        assert!(old.open(&a, 0, at, &sealed_new).is_none(), "a replica without key 2");
        // Key 1 retired: its rows no longer open.
        assert!(
            Sealer::new(&[(2, key(2))])
                .unwrap()
                .open(&a, 0, at, &sealed_old)
                .is_none()
        );
        // Same id, other bytes: refused.
        assert!(
            Sealer::new(&[(1, key(9))])
                .unwrap()
                .open(&a, 0, at, &sealed_old)
                .is_none()
        );
    }
}
