//! `[auth]`: which tokens are accepted (issuer, audience, algorithms, lifetimes, required
//! claims) and how the issuer's keys are fetched.

use serde::Deserialize;

use super::defaults;

/// `auth.jwks_refresh_seconds` range: a second (test stacks watching a key rotation) to a day.
pub const JWKS_REFRESH_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    /// Exact `iss` of accepted tokens. Auth0 issuers end with a slash, and so must this.
    pub issuer: String,
    /// The API identifier that must appear in `aud` (a string or an array).
    pub audience: String,
    /// JWKS address; when absent it is read from the issuer's OIDC discovery document.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "defaults::leeway_seconds")]
    pub leeway_seconds: u64,
    /// Signature algorithms accepted; anything else is refused before the key is looked up.
    #[serde(default = "defaults::algorithms")]
    pub algorithms: Vec<String>,
    /// How long a `kid` found missing from a fetched JWKS is answered `unknown_key` without
    /// another fetch. A `kid` not looked up before still triggers one (see `auth::jwks`).
    #[serde(default = "defaults::jwks_refetch_cooldown_seconds")]
    pub jwks_refetch_cooldown_seconds: u64,
    /// The JWKS is fetched again this often, whatever else happens: a key removed from the
    /// issuer stops verifying (cached tokens included) within about this long.
    #[serde(default = "defaults::jwks_refresh_seconds")]
    pub jwks_refresh_seconds: u64,
    /// Lets `issuer` and `jwks_url` (and so the discovered JWKS) be plain `http://`: only for a
    /// local test issuer. Loopback gets no exception; without this, `https://` is required.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Tokens whose `exp` lies further ahead than this are refused (Auth0 issues access tokens
    /// for at most 30 days), so a mis-issued "forever" token does not work forever.
    #[serde(default = "defaults::max_token_lifetime_seconds")]
    pub max_token_lifetime_seconds: u64,
    /// Client-credentials (machine) tokens have no user behind them; refused unless enabled.
    #[serde(default)]
    pub allow_client_credentials: bool,
    /// Claims a user's token must carry, with these exact values (a string, a boolean or an
    /// integer), before stsvend makes them a bucket or hands them keys: e.g.
    /// `email_verified = true`, or an organisation id. Anyone who can sign up at the issuer
    /// can otherwise have a bucket made.
    #[serde(default)]
    pub required_claims: std::collections::BTreeMap<String, serde_json::Value>,
}
