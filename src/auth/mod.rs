//! Access-token verification with Auth0's semantics.

mod jwks;
mod token;
mod token_cache;

pub use jwks::{FetchError, JwksCache};
pub use token::{Caller, Verifier};

use jsonwebtoken::Algorithm;

/// The algorithm `name` when it is one an operator may allow (`config::ACCEPTED_ALGORITHMS`:
/// asymmetric ones only; the configuration's checks refuse any other name at start-up).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    if !crate::config::ACCEPTED_ALGORITHMS.contains(&name) {
        return None;
    }
    name.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_algorithm_parses_and_no_symmetric_one_does() {
        for name in crate::config::ACCEPTED_ALGORITHMS {
            assert!(parse_algorithm(name).is_some(), "{name}");
        }
        for name in ["HS256", "HS384", "HS512", "none", "rs256"] {
            assert!(parse_algorithm(name).is_none(), "{name}");
        }
    }
}
