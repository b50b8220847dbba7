//! Verifies one access token and turns it into a [`Caller`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::token_cache::{self, TokenCache};
use super::{AuthError, JwksCache, parse_algorithm};
use crate::config::AuthConfig;
use crate::identity::{ClaimValue, OrgClaim, TokenClaim, TokenClaims, TokenOrg, UserId};

/// Tokens longer than this are refused before any parsing (Auth0 tokens are ~1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Subjects longer than this are refused (Auth0 subs are well under 100 characters).
const MAX_SUBJECT_BYTES: usize = 1024;

/// An authenticated user. Only derived, validated values leave this module.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub issuer: String,
    pub subject: String,
    /// Union of the token's `scope` words and `permissions` entries, sorted, no duplicates.
    pub grants: Box<[Box<str>]>,
    /// The `permissions` claim alone, sorted: what Auth0's RBAC granted. A `scope` is whatever
    /// the client asked for when RBAC is off, so it never stands in for a permission.
    pub permissions: Box<[Box<str>]>,
    /// The OAuth client the token was issued to (`azp`), for logs and audit.
    pub client_id: Option<String>,
    /// A client-credentials (machine) token: no user behind it.
    pub machine: bool,
    /// The first `auth.required_claims` entry the token does not carry with the required
    /// value, by name: such a caller gets no bucket and no keys.
    pub unmet_claim: Option<Box<str>>,
    /// The token's organisation (`[orgs]`), checked against `orgs.id_pattern`.
    pub org: TokenOrg,
    /// The token's `[policies.claims]`, each checked against its pattern.
    pub claims: TokenClaims,
}

impl Caller {
    /// True when the token carries any one of `needs` as a scope or a permission.
    pub fn has_any(&self, needs: &[String]) -> bool {
        needs
            .iter()
            .any(|n| self.grants.binary_search_by(|g| (**g).cmp(n.as_str())).is_ok())
    }

    /// True when the token's `permissions` claim (not its `scope`) carries `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.binary_search_by(|p| (**p).cmp(permission)).is_ok()
    }
}

#[derive(Deserialize)]
struct AccessClaims {
    sub: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<String>>,
    #[serde(default)]
    gty: Option<serde_json::Value>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    exp: Option<serde_json::Value>,
    #[serde(default)]
    iat: Option<serde_json::Value>,
    /// Every other claim, for `auth.required_claims`.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

pub struct Verifier {
    jwks: Arc<JwksCache>,
    issuer: String,
    validations: HashMap<Algorithm, Validation>,
    allow_client_credentials: bool,
    max_lifetime: u64,
    leeway: u64,
    required_claims: Vec<(String, serde_json::Value)>,
    /// `[orgs]`: the org claim's name and its compiled pattern.
    orgs: Option<(String, regex_lite::Regex)>,
    /// `[policies.claims]`: each declared NAME, the token claim it reads, its compiled pattern
    /// and its longest value.
    claims: Vec<DeclaredClaim>,
    verified: TokenCache,
}

pub(super) use crate::runtime::clock::unix_now;

struct DeclaredClaim {
    name: Box<str>,
    claim: String,
    pattern: regex_lite::Regex,
    max_len: usize,
}

impl Verifier {
    pub fn new(config: &AuthConfig, jwks: Arc<JwksCache>) -> Self {
        let validations = config
            .algorithms
            .iter()
            .filter_map(|a| parse_algorithm(a))
            .map(|alg| {
                let mut v = Validation::new(alg);
                v.set_issuer(&[&config.issuer]);
                v.set_audience(&[&config.audience]);
                v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                v.leeway = config.leeway_seconds;
                v.validate_nbf = true;
                (alg, v)
            })
            .collect();
        Self {
            jwks,
            issuer: config.issuer.clone(),
            validations,
            allow_client_credentials: config.allow_client_credentials,
            max_lifetime: config.max_token_lifetime_seconds,
            leeway: config.leeway_seconds,
            required_claims: config
                .required_claims
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            orgs: None,
            claims: Vec::new(),
            verified: TokenCache::new(token_cache::DEFAULT_CAPACITY),
        }
    }

    /// Reads the organisation from claim `orgs.claim` (`[orgs]`); an invalid `id_pattern` was
    /// refused at load, so `pattern` only fails on a config that skipped it (then: no orgs).
    #[must_use]
    pub fn with_orgs(mut self, orgs: Option<&crate::config::OrgsConfig>) -> Self {
        self.orgs = orgs.and_then(|o| o.pattern().ok().map(|re| (o.claim.clone(), re)));
        self
    }

    /// Reads the `[policies.claims]` from every token; a claim whose pattern fails its checks
    /// was refused at load (here it is left out: templates naming it were refused too).
    #[must_use]
    pub fn with_claims(mut self, claims: &std::collections::BTreeMap<String, crate::config::ClaimConfig>) -> Self {
        self.claims = claims
            .iter()
            .filter_map(|(name, c)| {
                Some(DeclaredClaim {
                    name: name.as_str().into(),
                    claim: c.claim.clone(),
                    pattern: c.regex().ok()?,
                    max_len: c.max_len().ok()?,
                })
            })
            .collect();
        self
    }

    /// Keeps at most `capacity` verified tokens (0: verify every presentation in full).
    #[must_use]
    pub fn with_token_cache_capacity(mut self, capacity: u64) -> Self {
        self.verified = TokenCache::new(capacity);
        self
    }

    pub fn jwks(&self) -> &Arc<JwksCache> {
        &self.jwks
    }

    /// The token's caller, for the user routes: machine tokens are refused unless configured.
    pub async fn verify(&self, token: &str) -> Result<Arc<Caller>, AuthError> {
        let caller = self.verify_any(token).await?;
        if caller.machine && !self.allow_client_credentials {
            return Err(AuthError::ClientCredentials);
        }
        Ok(caller)
    }

    /// The token's caller, machine tokens included (the admin API's callers are often ops
    /// tooling): from the verified-token cache when this exact token passed every check before
    /// and has not expired, else after checking it in full.
    pub async fn verify_any(&self, token: &str) -> Result<Arc<Caller>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Invalid("token is too large"));
        }
        // Read before verifying, so an entry never claims a key set newer than its check.
        let generation = self.jwks.generation();
        let key = TokenCache::key(token);
        if let Some(caller) = self.verified.get(&key, generation, unix_now()) {
            return Ok(caller);
        }
        // Boxed: the full check may fetch the JWKS, a large future the cache hit should not carry.
        // RFC 6750's token68 characters. A cached token passed this check already.
        let token68 = |b: u8| matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
        if !token.bytes().all(token68) {
            return Err(AuthError::Invalid("bearer token contains invalid characters"));
        }
        let (caller, exp) = Box::pin(self.verify_in_full(token)).await?;
        let caller = Arc::new(caller);
        self.verified.insert(key, Arc::clone(&caller), exp, generation);
        Ok(caller)
    }

    /// Every check; returns the caller and the token's `exp`.
    async fn verify_in_full(&self, token: &str) -> Result<(Caller, u64), AuthError> {
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(AuthError::Invalid("token is not a signed JWT"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid("token header is malformed"))?;
        let validation = self
            .validations
            .get(&header.alg)
            .ok_or(AuthError::Invalid("token algorithm is not accepted"))?;
        if header.crit.is_some() {
            return Err(AuthError::Invalid("token has critical header parameters"));
        }
        if let Some(typ) = &header.typ
            && !["jwt", "at+jwt", "application/at+jwt"].contains(&typ.to_ascii_lowercase().as_str())
        {
            return Err(AuthError::Invalid("token type is not an access token"));
        }
        // `jku`, `x5u` and `jwk` header fields are deliberately ignored: keys come only from the
        // configured issuer's JWKS.
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::Invalid("token header has no kid"))?;
        if kid.is_empty() || kid.len() > 256 {
            return Err(AuthError::Invalid("token kid is malformed"));
        }
        let key = self.jwks.key(kid).await?;
        if key.alg.is_some_and(|a| a != header.alg) {
            return Err(AuthError::Invalid("token algorithm does not match its key"));
        }

        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &key.key, validation).map_err(|e| map_jwt_error(e.kind()))?;
        let claims = data.claims;
        let now = unix_now();
        // The library checked that exp has passed or not; it must also not lie absurdly far ahead.
        let exp = claims.exp.as_ref().and_then(serde_json::Value::as_u64);
        let Some(exp) = exp.filter(|exp| *exp <= now.saturating_add(self.max_lifetime)) else {
            return Err(AuthError::Invalid("token exp is not an integer or lies too far ahead"));
        };
        if let Some(iat) = &claims.iat
            && iat.as_u64().is_none_or(|iat| iat > now.saturating_add(self.leeway))
        {
            return Err(AuthError::Invalid("token iat is malformed or in the future"));
        }
        let subject = claims.sub.ok_or_else(|| AuthError::MissingClaim("sub".to_owned()))?;
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
            return Err(AuthError::Invalid("token subject is malformed"));
        }
        let machine = subject.ends_with("@clients")
            || match &claims.gty {
                Some(serde_json::Value::String(g)) => g == "client-credentials",
                Some(serde_json::Value::Array(gs)) => gs.iter().any(|g| g == "client-credentials"),
                _ => false,
            };

        let mut grants: BTreeSet<String> = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let permissions: BTreeSet<String> = claims.permissions.unwrap_or_default().into_iter().collect();
        grants.extend(permissions.iter().cloned());
        let unmet_claim = self
            .required_claims
            .iter()
            .find(|(name, want)| claims.other.get(name) != Some(want))
            .map(|(name, _)| name.clone().into_boxed_str());
        let caller = Caller {
            user_id: UserId::derive(&self.issuer, &subject),
            issuer: self.issuer.clone(),
            subject,
            grants: grants.into_iter().map(String::into_boxed_str).collect(),
            permissions: permissions.into_iter().map(String::into_boxed_str).collect(),
            client_id: claims.azp,
            machine,
            unmet_claim,
            org: self.org_of(&claims.other),
            claims: self.claims_of(&claims.other),
        };
        Ok((caller, exp))
    }
}

impl Verifier {
    /// The organisation a token's claims name, when `[orgs]` is on.
    fn org_of(&self, claims: &serde_json::Map<String, serde_json::Value>) -> TokenOrg {
        let Some((name, pattern)) = &self.orgs else {
            return TokenOrg::None;
        };
        match claims.get(name) {
            None | Some(serde_json::Value::Null) => TokenOrg::None,
            Some(serde_json::Value::String(v)) => {
                OrgClaim::parse(v, |v| pattern.is_match(v)).map_or(TokenOrg::Invalid, TokenOrg::Valid)
            }
            Some(_) => TokenOrg::Invalid,
        }
    }
}

impl Verifier {
    /// What the token says for each declared claim: strings only (a number, boolean, array
    /// or object is invalid, never turned into text), checked against the claim's pattern.
    fn claims_of(&self, claims: &serde_json::Map<String, serde_json::Value>) -> TokenClaims {
        TokenClaims::new(
            self.claims
                .iter()
                .map(|d| {
                    let state = match claims.get(&d.claim) {
                        None | Some(serde_json::Value::Null) => TokenClaim::Absent,
                        Some(serde_json::Value::String(v)) => {
                            ClaimValue::parse(v, d.max_len, |v| d.pattern.is_match(v))
                                .map_or(TokenClaim::Invalid, TokenClaim::Valid)
                        }
                        Some(_) => TokenClaim::Invalid,
                    };
                    (d.name.clone(), state)
                })
                .collect(),
        )
    }
}

fn map_jwt_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
        ErrorKind::InvalidSignature => AuthError::Invalid("token signature does not verify"),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            AuthError::Invalid("token algorithm is not accepted")
        }
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => AuthError::Invalid("token claims are malformed"),
        _ => AuthError::Invalid("token is malformed"),
    }
}
