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
use crate::identity::TokenClaim;
use crate::policy::{SessionClaims, Template};

/// `[sts.session_tags]`: each tag key with the `[policies.claims]` NAME of its claim.
#[derive(Debug, Clone, Default)]
pub struct SessionTags(pub Vec<(Box<str>, Box<str>)>);

impl SessionTags {
    /// The claim values `template`'s sessions for `caller` are made with.
    pub(super) fn resolve(&self, caller: &Caller, template: &Template) -> Result<SessionClaims, VendError> {
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
