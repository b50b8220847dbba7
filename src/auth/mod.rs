//! Access-token verification with Auth0's semantics.

mod jwks;
mod token;
mod token_cache;

pub use jwks::{FetchError, JwksCache};
pub use token::{Caller, Verifier};
pub use token_cache::DEFAULT_CAPACITY as DEFAULT_TOKEN_CACHE_CAPACITY;

use jsonwebtoken::Algorithm;

/// The asymmetric algorithms an operator may allow. Symmetric ones are never accepted: the
/// service holds no shared secret with the issuer, and allowing HS* invites key confusion.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    use Algorithm::{ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
    [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA]
        .into_iter()
        .find(|a| format!("{a:?}") == name)
}

/// Why a token was not accepted. Every variant is a 401 except an unreachable issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was presented")]
    MissingToken,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("token claim `{0}` is missing")]
    MissingClaim(String),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued by another issuer")]
    WrongIssuer,
    #[error("token is not meant for this API")]
    WrongAudience,
    #[error("token is signed with an unknown key")]
    UnknownKey,
    #[error("client-credentials tokens identify no user and are not accepted")]
    ClientCredentials,
    #[error("the identity provider's keys are unavailable")]
    JwksUnavailable,
}

impl AuthError {
    /// Stable machine-readable code for the error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::Invalid(_) | Self::MissingClaim(_) => "invalid_token",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongIssuer => "invalid_issuer",
            Self::WrongAudience => "invalid_audience",
            Self::UnknownKey => "unknown_key",
            Self::ClientCredentials => "client_credentials_refused",
            Self::JwksUnavailable => "jwks_unavailable",
        }
    }
}
