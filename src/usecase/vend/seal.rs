//! Sealing credentials for the shared credential table (`Store::publish_issued`): AES-256-GCM,
//! so the database never holds a usable secret. What the keys were issued for is the
//! associated data ([`Binding`]: the user, the template's identity, the user's bucket and
//! prefix, and for an org template the organisation and its storage) with their expiry: a row moved to another user, read for another template (another
//! name, or the same name with another body), or left from a bucket or prefix the user no
//! longer has, does not open.
//!
//! The key comes from `cache.sealing_keys` (every replica of a fleet has the same, from a
//! secret in its environment; never from the database), as `id:base64` entries: the first
//! seals, all open, so a new key can be put first while rows sealed under the old one expire.
//! Without configured keys a random key is drawn at start-up: rows are then this process's
//! alone (another replica cannot open them and asks STS itself).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::aws::sts::Credentials;
use crate::identity::{BucketName, TemplateId, UserId, UserPrefix};

/// The key id of a random per-process key (configured ids are 1-255, see
/// `config::parse_sealing_keys`).
const PROCESS_KEY_ID: u8 = 0;

/// Leads the associated data: rows sealed under another layout (before templates were bound
/// by identity) never open.
const AAD_LAYOUT: &[u8] = b"stsvend sealed keys v2";

/// What a set of keys was issued for; a row sealed for one binding opens for no other.
pub struct Binding<'a> {
    pub user_id: &'a UserId,
    pub template: &'a TemplateId,
    /// The user's bucket (the shared one in prefix mode) and their prefix of it.
    pub bucket: &'a BucketName,
    pub prefix: Option<&'a UserPrefix>,
    /// An org template's organisation and its storage: keys sealed for one organisation open
    /// for no other (nor for the same template without one).
    pub org: Option<crate::policy::OrgContext<'a>>,
}

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

    /// `key id ‖ nonce ‖ ciphertext ‖ tag` of the credentials issued for `to`. Nonces are
    /// random (96 bits): replicas sharing a key keep no counter in common.
    pub fn seal(&self, to: &Binding<'_>, credentials: &Credentials) -> Option<Vec<u8>> {
        let (id, key) = self.keys.first()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut body = credentials.to_bytes();
        let aad = associated(to, credentials.expiration);
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad[..]), &mut body)
            .ok()?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
        out.push(*id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Some(out)
    }

    /// The credentials sealed for `to` with this expiry; `None` for anything else (a key this
    /// process does not hold, another user's or template's row, a changed byte).
    pub fn open(&self, to: &Binding<'_>, expiration: OffsetDateTime, sealed: &[u8]) -> Option<Credentials> {
        let (id, rest) = sealed.split_first()?;
        let (_, key) = self.keys.iter().find(|(k, _)| k == id)?;
        let (nonce, body) = rest.split_first_chunk::<NONCE_LEN>()?;
        let mut body = body.to_vec();
        let aad = associated(to, expiration);
        let plain = key
            .open_in_place(Nonce::assume_unique_for_key(*nonce), Aad::from(&aad[..]), &mut body)
            .ok()?;
        Credentials::from_bytes(plain, expiration)
    }
}

/// The layout tag, then every field of the binding, each variable one length-prefixed so no
/// two bindings encode alike, then the expiry.
fn associated(to: &Binding<'_>, expiration: OffsetDateTime) -> Vec<u8> {
    fn field(aad: &mut Vec<u8>, bytes: &[u8]) {
        // Every field is far below 64 KiB (names of at most 64 to a few hundred characters).
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(bytes);
    }
    let mut aad = Vec::with_capacity(192);
    aad.extend_from_slice(AAD_LAYOUT);
    field(&mut aad, to.user_id.as_str().as_bytes());
    field(&mut aad, to.template.name().as_bytes());
    aad.extend_from_slice(to.template.digest());
    field(&mut aad, to.bucket.as_str().as_bytes());
    match to.prefix {
        Some(p) => {
            aad.push(1);
            field(&mut aad, p.as_str().as_bytes());
        }
        None => aad.push(0),
    }
    // Appended only for org templates: a personal template's data is what it always was.
    if let Some(org) = to.org {
        aad.extend_from_slice(b"org");
        field(&mut aad, org.id.as_str().as_bytes());
        field(&mut aad, org.bucket.as_str().as_bytes());
        field(
            &mut aad,
            org.prefix.map_or("", crate::identity::OrgPrefix::as_str).as_bytes(),
        );
    }
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

    /// The parts of a binding, owned, so a test can change one and keep the others.
    #[derive(Clone)]
    struct For {
        user: UserId,
        template: TemplateId,
        bucket: BucketName,
        prefix: Option<UserPrefix>,
    }

    impl For {
        fn new(subject: &str) -> Self {
            Self {
                user: UserId::derive("https://i/", subject),
                template: TemplateId::new("read-write", br#"{"Statement":[{"Effect":"Allow"}]}"#),
                bucket: BucketName::parse("stsvend-shared").unwrap(),
                prefix: None,
            }
        }

        fn binding(&self) -> Binding<'_> {
            Binding {
                user_id: &self.user,
                template: &self.template,
                bucket: &self.bucket,
                prefix: self.prefix.as_ref(),
                org: None,
            }
        }
    }

    #[test]
    fn sealed_credentials_open_only_for_their_user_template_expiry_and_key() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (a, b) = (For::new("a"), For::new("b"));
        let this_process = Sealer::new(&[]).unwrap();
        let sealed = this_process.seal(&a.binding(), &creds(at)).unwrap();
        assert!(
            !sealed.windows(10).any(|w| w == b"secret/key"),
            "the secret is not in the sealed bytes"
        );

        let back = this_process.open(&a.binding(), at, &sealed).unwrap();
        assert_eq!(
            (back.access_key_id(), back.secret_access_key(), back.session_token()),
            (
                "ASIAEXAMPLEEXAMPLE12",
                "secret/key",
                "FwoGZXIvYXdzEBAaDH+/TmFtZQ==".to_owned()
            )
        );
        assert!(
            this_process.open(&b.binding(), at, &sealed).is_none(),
            "another user's row"
        );
        let later = at + time::Duration::hours(1);
        assert!(
            this_process.open(&a.binding(), later, &sealed).is_none(),
            "a changed expiry"
        );
        assert!(
            Sealer::new(&[]).unwrap().open(&a.binding(), at, &sealed).is_none(),
            "another process's random key"
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(
            this_process.open(&a.binding(), at, &flipped).is_none(),
            "a changed byte"
        );
        assert_ne!(
            this_process.seal(&a.binding(), &creds(at)).unwrap(),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn a_row_sealed_for_one_template_opens_for_no_other_of_any_name_or_body() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let keys = Sealer::new(&[(1, key(1))]).unwrap();
        let x = For::new("a");
        let sealed = keys.seal(&x.binding(), &creds(at)).unwrap();
        assert!(keys.open(&x.binding(), at, &sealed).is_some());

        let edited = For {
            template: TemplateId::new("read-write", br#"{"Statement":[{"Effect":"Deny"}]}"#),
            ..x.clone()
        };
        assert!(
            keys.open(&edited.binding(), at, &sealed).is_none(),
            "the same name with another body"
        );
        let renamed = For {
            template: TemplateId::new("read-only", br#"{"Statement":[{"Effect":"Allow"}]}"#),
            ..x.clone()
        };
        assert!(
            keys.open(&renamed.binding(), at, &sealed).is_none(),
            "another name with the same body"
        );
    }

    #[test]
    fn a_row_sealed_for_one_bucket_or_prefix_opens_for_no_other() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let keys = Sealer::new(&[(1, key(1))]).unwrap();
        let user = UserId::derive("https://i/", "a");
        let in_prefix = For {
            prefix: Some(UserPrefix::for_user("users", &user).unwrap()),
            ..For::new("a")
        };
        let sealed = keys.seal(&in_prefix.binding(), &creds(at)).unwrap();
        assert!(keys.open(&in_prefix.binding(), at, &sealed).is_some());
        let whole_bucket = For {
            prefix: None,
            ..in_prefix.clone()
        };
        assert!(
            keys.open(&whole_bucket.binding(), at, &sealed).is_none(),
            "the bucket without the prefix"
        );
        let other_root = For {
            prefix: Some(UserPrefix::for_user("tenants", &user).unwrap()),
            ..in_prefix.clone()
        };
        assert!(
            keys.open(&other_root.binding(), at, &sealed).is_none(),
            "another prefix"
        );
        let other_bucket = For {
            bucket: BucketName::parse("stsvend-elsewhere").unwrap(),
            ..in_prefix.clone()
        };
        assert!(
            keys.open(&other_bucket.binding(), at, &sealed).is_none(),
            "another bucket"
        );
    }

    #[test]
    fn replicas_sharing_keys_open_each_others_rows_across_a_rotation() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let a = For::new("a");
        let a = a.binding();
        let old = Sealer::new(&[(1, key(1))]).unwrap();
        let sealed_old = old.seal(&a, &creds(at)).unwrap();
        assert!(Sealer::new(&[(1, key(1))]).unwrap().open(&a, at, &sealed_old).is_some());

        // Rotation: key 2 seals from now on; key 1 still opens what it sealed.
        let rotated = Sealer::new(&[(2, key(2)), (1, key(1))]).unwrap();
        assert!(rotated.open(&a, at, &sealed_old).is_some());
        let sealed_new = rotated.seal(&a, &creds(at)).unwrap();
        assert_eq!(sealed_new[0], 2);
        assert!(old.open(&a, at, &sealed_new).is_none(), "a replica without key 2");
        // Key 1 retired: its rows no longer open.
        assert!(Sealer::new(&[(2, key(2))]).unwrap().open(&a, at, &sealed_old).is_none());
        // Same id, other bytes: refused.
        assert!(Sealer::new(&[(1, key(9))]).unwrap().open(&a, at, &sealed_old).is_none());
    }

    #[test]
    fn a_row_sealed_for_one_organisation_opens_for_no_other_nor_without_one() {
        use crate::identity::OrgId;
        use crate::policy::OrgContext;
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let keys = Sealer::new(&[(1, key(1))]).unwrap();
        let x = For::new("a");
        let (org_a, org_b) = (OrgId::fresh().unwrap(), OrgId::fresh().unwrap());
        let bucket = BucketName::parse("stsvend-team").unwrap();
        let with = |id| Binding {
            org: Some(OrgContext {
                id,
                bucket: &bucket,
                prefix: None,
            }),
            ..x.binding()
        };
        let sealed = keys.seal(&with(&org_a), &creds(at)).unwrap();
        assert!(keys.open(&with(&org_a), at, &sealed).is_some());
        assert!(keys.open(&with(&org_b), at, &sealed).is_none(), "another organisation");
        assert!(keys.open(&x.binding(), at, &sealed).is_none(), "no organisation");
    }
}
