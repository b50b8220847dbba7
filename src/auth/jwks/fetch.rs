//! Getting the issuer's documents: only over `https://` (unless the operator allowed plain
//! http), the discovered JWKS only on the issuer's own origin, no redirects, and bodies read
//! chunk by chunk up to a limit, so a hostile or broken endpoint cannot point stsvend elsewhere
//! or make it buffer without bound.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

/// A JWKS larger than this is refused; real ones are a few KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// A discovery document larger than this is refused; Auth0's is about 2 KiB.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: reqwest::StatusCode },
    #[error("{url} answered {status} (a redirect to `{location}`); redirects are not followed")]
    Redirect {
        url: String,
        status: reqwest::StatusCode,
        location: String,
    },
    #[error("{url}: the body exceeds {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: {reason}")]
    Body { url: String, reason: String },
    #[error("{url} is refused: {reason}")]
    Refused { url: String, reason: String },
}

pub struct Fetcher {
    http: reqwest::Client,
    issuer: String,
    configured_url: Option<String>,
    allow_insecure_http: bool,
}

impl Fetcher {
    pub fn new(issuer: &str, configured_url: Option<&str>, allow_insecure_http: bool) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            // A redirect could lead anywhere, past the scheme and origin checks: it is an error.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!allow_insecure_http)
            .build()
            .expect("reqwest client builds with static settings");
        Self {
            http,
            issuer: issuer.to_owned(),
            configured_url: configured_url.map(str::to_owned),
            allow_insecure_http,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn configured_url(&self) -> Option<&str> {
        self.configured_url.as_deref()
    }

    pub fn allows_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }

    /// The JWKS address: the configured one, else the one discovery named (looked up once and
    /// kept in `discovered`).
    pub async fn jwks_url(&self, discovered: &mut Option<String>) -> Result<String, FetchError> {
        if let Some(u) = self.configured_url.as_ref().or(discovered.as_ref()) {
            return Ok(u.clone());
        }
        let u = self.discover().await?;
        *discovered = Some(u.clone());
        Ok(u)
    }

    /// The JWKS document at `url`.
    pub async fn jwks(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.get(url, MAX_JWKS_BYTES).await
    }

    async fn discover(&self) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!("{}.well-known/openid-configuration", self.issuer);
        let body = self.get(&url, MAX_DISCOVERY_BYTES).await?;
        let doc: Discovery = serde_json::from_slice(&body).map_err(|e| FetchError::Body {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if doc.issuer != self.issuer {
            return Err(FetchError::Body {
                url,
                reason: format!("discovery names issuer `{}`, configured `{}`", doc.issuer, self.issuer),
            });
        }
        let issuer = self.checked_url(&self.issuer)?;
        let jwks = self.checked_url(&doc.jwks_uri)?;
        if jwks.origin() != issuer.origin() {
            return Err(FetchError::Refused {
                url: doc.jwks_uri,
                reason: format!(
                    "discovery at {url} names a JWKS outside the issuer's origin {} (scheme, host and port must match; set auth.jwks_url to use it)",
                    issuer.origin().ascii_serialization()
                ),
            });
        }
        Ok(doc.jwks_uri)
    }

    /// `url` parsed, if its scheme is one keys may come over.
    fn checked_url(&self, url: &str) -> Result<Url, FetchError> {
        let refused = |reason: String| FetchError::Refused {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| refused(format!("not a URL: {e}")))?;
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.allow_insecure_http => Ok(parsed),
            "http" => Err(refused("plain http, and auth.allow_insecure_http is off".to_owned())),
            other => Err(refused(format!("scheme `{other}` is not https"))),
        }
    }

    /// The body at `url`, read as it arrives and abandoned (the connection closed) as soon as it
    /// passes `limit` bytes: a `Content-Length` is not trusted either way.
    async fn get(&self, url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
        self.checked_url(url)?;
        let http_err = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let mut resp = self.http.get(url).send().await.map_err(http_err)?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(FetchError::Redirect {
                url: url.to_owned(),
                status,
                location,
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            });
        }
        let too_large = || FetchError::TooLarge {
            url: url.to_owned(),
            limit,
        };
        let declared = resp.content_length().map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
        while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
            if chunk.len() > limit - body.len() {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://tenant.auth0.com/";

    fn refused(fetcher: &Fetcher, url: &str) -> bool {
        matches!(fetcher.checked_url(url), Err(FetchError::Refused { .. }))
    }

    #[test]
    fn plain_http_is_refused_unless_allowed_loopback_included() {
        let strict = Fetcher::new(ISSUER, None, false);
        assert!(!refused(&strict, "https://tenant.auth0.com/.well-known/jwks.json"));
        assert!(refused(&strict, "http://tenant.auth0.com/.well-known/jwks.json"));
        assert!(refused(&strict, "http://127.0.0.1:4400/.well-known/jwks.json"));
        assert!(refused(&strict, "file:///etc/passwd"));
        let lax = Fetcher::new(ISSUER, None, true);
        assert!(!refused(&lax, "http://127.0.0.1:4400/.well-known/jwks.json"));
        assert!(refused(&lax, "ftp://tenant.auth0.com/jwks.json"));
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let origin = |u: &str| Url::parse(u).unwrap().origin();
        let issuer = origin(ISSUER);
        assert_eq!(origin("https://tenant.auth0.com/.well-known/jwks.json"), issuer);
        assert_eq!(
            origin("https://TENANT.auth0.com:443/keys"),
            issuer,
            "default port, any case"
        );
        assert_ne!(origin("http://tenant.auth0.com/.well-known/jwks.json"), issuer);
        assert_ne!(origin("https://tenant.auth0.com:8443/.well-known/jwks.json"), issuer);
        assert_ne!(origin("https://evil.example/.well-known/jwks.json"), issuer);
        assert_ne!(origin("https://tenant.auth0.com@evil.example/jwks.json"), issuer);
        assert_ne!(origin("https://tenant.auth0.com.evil.example/jwks.json"), issuer);
    }
}
