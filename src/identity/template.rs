//! A session-policy template's identity: its name and a SHA-256 of its parsed body. Keys are
//! shared, leased and sealed under it (`vend::keys`, `vend::seal`), never under a template's
//! position in the folder, so a template added, renamed or edited cannot take over the keys
//! issued under another: an edited template is a new identity, with keys of its own.

use std::fmt;

use sha2::{Digest, Sha256};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TemplateId {
    name: String,
    digest: [u8; 32],
}

impl TemplateId {
    /// The identity of template `name` whose canonical body (the parsed document, serialized
    /// without whitespace) is `body`.
    pub fn new(name: &str, body: &[u8]) -> Self {
        Self {
            name: name.to_owned(),
            digest: Sha256::digest(body).into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The identity of this template's sessions for organisation `org`: the same name, with
    /// a digest that also covers the org, so keys shared, leased and sealed for one
    /// organisation are never found under another's. `cut_off` (unix nanoseconds) is the
    /// org's revocation cut-off for the member, if any: keys made before a revocation (of the
    /// org, or of the member in it) are never found under the identity made after it.
    #[must_use]
    pub fn for_org(&self, org: &super::OrgId, cut_off: Option<i128>) -> Self {
        let mut h = Sha256::new();
        h.update(self.digest);
        h.update(b"org");
        h.update(org.as_str().as_bytes());
        if let Some(t) = cut_off {
            h.update(b"cut");
            h.update(t.to_be_bytes());
        }
        Self {
            name: self.name.clone(),
            digest: h.finalize().into(),
        }
    }

    /// The identity of this template's sessions made with these claim values (the
    /// `{{claims.NAME}}` substituted, by NAME, and the session tags, by key): the same name,
    /// with a digest that also covers every value, so keys made for one token's claims are
    /// never found, leased or unsealed for another's.
    #[must_use]
    pub fn for_claims(
        &self,
        placeholders: &[(Box<str>, super::ClaimValue)],
        tags: &[(Box<str>, super::ClaimValue)],
    ) -> Self {
        let mut h = Sha256::new();
        h.update(self.digest);
        h.update(b"claims");
        for (section, pairs) in [(b'p', placeholders), (b't', tags)] {
            h.update([section]);
            h.update((pairs.len() as u64).to_be_bytes());
            // Length-prefixed, so no two different lists hash the same bytes.
            for (name, value) in pairs {
                for part in [name.as_bytes(), value.as_str().as_bytes()] {
                    h.update((part.len() as u64).to_be_bytes());
                    h.update(part);
                }
            }
        }
        Self {
            name: self.name.clone(),
            digest: h.finalize().into(),
        }
    }

    /// A compact key for in-memory caches: 64 bits of a hash of the name and digest, so it
    /// stays with the template (not its position) when the folder changes.
    pub fn short(&self) -> u64 {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update([0]);
        h.update(self.digest);
        let full: [u8; 32] = h.finalize().into();
        let mut first = [0u8; 8];
        first.copy_from_slice(&full[..8]);
        u64::from_be_bytes(first)
    }
}

impl fmt::Debug for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TemplateId({}@", self.name)?;
        for b in &self.digest[..6] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_and_body_is_the_same_identity_and_any_change_another() {
        let a = TemplateId::new("read-only", br#"{"Statement":[]}"#);
        assert_eq!(a, TemplateId::new("read-only", br#"{"Statement":[]}"#));
        assert_eq!(a.short(), TemplateId::new("read-only", br#"{"Statement":[]}"#).short());
        let edited = TemplateId::new("read-only", br#"{"Statement":[{}]}"#);
        let renamed = TemplateId::new("archive", br#"{"Statement":[]}"#);
        assert_ne!(a, edited);
        assert_ne!(a, renamed);
        assert_ne!(a.short(), edited.short());
        assert_ne!(a.short(), renamed.short());
        assert!(format!("{a:?}").starts_with("TemplateId(read-only@"), "{a:?}");
        let (org_a, org_b) = (
            super::super::OrgId::fresh().unwrap(),
            super::super::OrgId::fresh().unwrap(),
        );
        assert_eq!(a.for_org(&org_a, None), a.for_org(&org_a, None));
        assert_ne!(a.for_org(&org_a, None), a.for_org(&org_b, None));
        assert_ne!(a.for_org(&org_a, None), a);
        assert_eq!(a.for_org(&org_a, None).name(), "read-only");
        // A revocation of the org (or of the member in it) moves the cut-off: a new identity.
        assert_ne!(a.for_org(&org_a, Some(1)), a.for_org(&org_a, None));
        assert_ne!(a.for_org(&org_a, Some(1)), a.for_org(&org_a, Some(2)));
        assert_eq!(a.for_org(&org_a, Some(2)), a.for_org(&org_a, Some(2)));
    }

    #[test]
    fn each_set_of_claim_values_is_its_own_identity() {
        let a = TemplateId::new("tiered", br#"{"Statement":[]}"#);
        let v = |s: &str| super::super::ClaimValue::parse(s, 64, |_| true).unwrap();
        let pro = [("tier".into(), v("pro"))];
        let free = [("tier".into(), v("free"))];
        assert_eq!(a.for_claims(&pro, &[]), a.for_claims(&pro, &[]));
        assert_ne!(a.for_claims(&pro, &[]), a.for_claims(&free, &[]));
        assert_ne!(a.for_claims(&pro, &[]).short(), a.for_claims(&free, &[]).short());
        assert_ne!(
            a.for_claims(&pro, &[]),
            a.for_claims(&[], &pro),
            "a placeholder is not a tag"
        );
        assert_ne!(a.for_claims(&[], &[]), a);
        let split = [("ab".into(), v("c"))];
        let joined = [("a".into(), v("bc"))];
        assert_ne!(a.for_claims(&split, &[]), a.for_claims(&joined, &[]));
    }
}
