//! The token's claims a session is made with: each `{{claims.NAME}}` its template names
//! (`[policies.claims]`) and each session tag (`[sts.session_tags]`), taken from the claims the
//! token verifier already checked against their patterns.
//!
//! A template naming a claim the token lacks, or carries invalid, is refused (403
//! `claim_invalid`) before anything is made. A tag's claim that is absent leaves the tag out
//! (bucket policies see no `aws:PrincipalTag/<key>`); one that is present but invalid refuses
//! the vend, whatever the template.

use super::VendError;
use crate::auth::Caller;
use crate::config::StorageMode;
use crate::identity::TokenClaim;
use crate::policy::{PolicySet, SessionClaims, Template};

/// `[sts.session_tags]`: each tag key with the `[policies.claims]` NAME of its claim.
#[derive(Debug, Clone, Default)]
pub struct SessionTags(pub Vec<(Box<str>, Box<str>)>);

impl SessionTags {
    /// The claim values of `access`'s sessions for `caller`, its prefix-mode variant's checked
    /// too: before anything is made for the caller, whichever their storage mode turns out.
    pub(super) fn for_access(
        &self,
        caller: &Caller,
        access: &Template,
        policies: &PolicySet,
    ) -> Result<SessionClaims, VendError> {
        let claims = self.resolve(caller, access)?;
        if policies.declares_claims()
            && let Some(variant) = policies.for_mode(access, StorageMode::Prefix)
        {
            self.resolve(caller, variant)?;
        }
        Ok(claims)
    }

    /// The claim values for `template`, the access's `claims` or, for its prefix-mode variant
    /// (which may name other claims), the variant's.
    pub(super) fn for_variant(
        &self,
        caller: &Caller,
        template: &Template,
        claims: SessionClaims,
    ) -> Result<SessionClaims, VendError> {
        if template.is_prefix_variant() {
            self.resolve(caller, template)
        } else {
            Ok(claims)
        }
    }

    /// The claim values `template`'s sessions for `caller` are made with.
    fn resolve(&self, caller: &Caller, template: &Template) -> Result<SessionClaims, VendError> {
        let mut claims = SessionClaims::default();
        for name in template.claims() {
            match caller.claims.get(name) {
                TokenClaim::Valid(v) => claims.placeholders.push((name.clone(), v.clone())),
                TokenClaim::Absent | TokenClaim::Invalid => return Err(VendError::ClaimRefused(name.clone())),
            }
        }
        for (key, name) in &self.0 {
            match caller.claims.get(name) {
                TokenClaim::Valid(v) => claims.tags.push((key.clone(), v.clone())),
                TokenClaim::Absent => {}
                TokenClaim::Invalid => return Err(VendError::ClaimRefused(name.clone())),
            }
        }
        Ok(claims)
    }
}
