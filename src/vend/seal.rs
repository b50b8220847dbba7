//! Sealing credentials for the spill (`Store::spill`): AES-256-GCM under a key drawn at
//! start-up that never leaves this process's memory, so the database file never holds a usable
//! secret and a restarted service cannot read (or be fed) old rows. The user id, template and
//! expiry are the associated data: a row moved to another user or template does not open.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::identity::UserId;
use crate::sts::Credentials;

pub struct Sealer {
    key: LessSafeKey,
    /// Nonces are `prefix ‖ counter`: unique for this key without any bookkeeping.
    prefix: [u8; 4],
    counter: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
#[error("the system random source failed")]
pub struct RandomUnavailable;

impl Sealer {
    pub fn new() -> Result<Self, RandomUnavailable> {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        let mut prefix = [0u8; 4];
        rng.fill(&mut key).map_err(|_| RandomUnavailable)?;
        rng.fill(&mut prefix).map_err(|_| RandomUnavailable)?;
        let key = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| RandomUnavailable)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            prefix,
            counter: AtomicU64::new(0),
        })
    }

    /// `nonce ‖ ciphertext ‖ tag` of the credentials of (user, template).
    pub fn seal(&self, user_id: &UserId, template: u8, credentials: &Credentials) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.prefix);
        nonce[4..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut body = credentials.to_bytes();
        let aad = associated(user_id, template, credentials.expiration);
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad[..]), &mut body)
            .ok()?;
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Some(out)
    }

    /// The credentials sealed for (user, template) with this expiry; `None` for anything
    /// else (another process's key, another user's row, a changed byte).
    pub fn open(
        &self,
        user_id: &UserId,
        template: u8,
        expiration: OffsetDateTime,
        sealed: &[u8],
    ) -> Option<Credentials> {
        let (nonce, body) = sealed.split_first_chunk::<NONCE_LEN>()?;
        let mut body = body.to_vec();
        let aad = associated(user_id, template, expiration);
        let plain = self
            .key
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

    #[test]
    fn sealed_credentials_open_only_for_their_user_template_expiry_and_process() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (a, b) = (UserId::derive("https://i/", "a"), UserId::derive("https://i/", "b"));
        let this_process = Sealer::new().unwrap();
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
            Sealer::new().unwrap().open(&a, 0, at, &sealed).is_none(),
            "another process"
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
}
