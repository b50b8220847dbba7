//! [`StsvendCredentials`]: the `ProvideCredentials` for aws-sdk-rust, and its builder.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials};
use reqwest::Url;
use serde::Deserialize;

use crate::error::{ApiError, Error};
use crate::retry::{Retry, retry_after};
use crate::token::TokenSource;
use crate::vend::{self, Storage, Vend};

/// A vend still this far from its expiry is handed out again instead of asking stsvend: more
/// than the SDK identity cache asks ahead (5-10 s before expiry: a 10 s buffer less up to 5 s of
/// jitter), so the SDK's own refresh always gets a new vend, while a `storage()` call followed
/// by the SDK's first request makes one request, not two.
const REUSE_MARGIN: Duration = Duration::from_secs(30);
/// Per attempt, unless the caller brings their own `reqwest::Client`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

type OnVend = dyn Fn(&Vend) + Send + Sync;

/// AWS credentials from stsvend's `POST /v1/credentials`, for aws-sdk-rust:
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use stsvend_credentials::{StsvendCredentials, TokenSource};
/// let stsvend = StsvendCredentials::builder("https://stsvend.example.com")
///     .token(TokenSource::file("/run/stsvend/token"))
///     .build()?;
/// let storage = stsvend.storage().await?;
/// # Ok(()) }
/// ```
///
/// Cheap to clone (the clones share one cache). Each vend returns keys with their expiry, so
/// the SDK's identity cache asks again shortly before they run out.
#[derive(Clone)]
pub struct StsvendCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    credentials_url: Url,
    token: TokenSource,
    access: Option<String>,
    retry: Retry,
    on_vend: Option<Arc<OnVend>>,
    last: Mutex<Option<Vend>>,
}

impl StsvendCredentials {
    /// `url`: stsvend's base URL, e.g. `https://stsvend.example.com`.
    pub fn builder(url: impl Into<String>) -> Builder {
        Builder {
            url: url.into(),
            token: None,
            access: None,
            http: None,
            retry: Retry::default(),
            on_vend: None,
            allow_insecure_http: false,
        }
    }

    /// Asks stsvend for keys now (retrying a busy answer), whatever is cached.
    pub async fn vend(&self) -> Result<Vend, Error> {
        let v = self.inner.vend().await?;
        if let Some(hook) = &self.inner.on_vend {
            hook(&v);
        }
        *self.inner.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(v.clone());
        Ok(v)
    }

    /// Where the keys reach (bucket, prefix, region, endpoint): from the last vend, or from a
    /// new one when none was made yet.
    pub async fn storage(&self) -> Result<Storage, Error> {
        let last = self.inner.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match last {
            Some(v) => Ok(v.storage),
            None => Ok(self.vend().await?.storage),
        }
    }

    /// The last vend if it is still far from expiry, else a new one.
    async fn current(&self) -> Result<Credentials, Error> {
        let last = self.inner.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(v) = last
            && v.expires_at() > SystemTime::now() + REUSE_MARGIN
        {
            return Ok(v.credentials);
        }
        Ok(self.vend().await?.credentials)
    }
}

impl Inner {
    async fn vend(&self) -> Result<Vend, Error> {
        let mut attempt = 1;
        loop {
            let e = match self.attempt().await {
                Ok(text) => return vend::parse(&text),
                Err(e) => e,
            };
            let Some(pause) = self.retry.pause_after(attempt, &e) else {
                return Err(e);
            };
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One request; the body of a 2xx answer. The token is asked for every time, so a token
    /// file rewritten between attempts is picked up.
    async fn attempt(&self) -> Result<String, Error> {
        let token = self.token.token().await?;
        let mut req = self.http.post(self.credentials_url.clone()).bearer_auth(token);
        if let Some(access) = &self.access {
            req = req.json(&serde_json::json!({ "access": access }));
        }
        let resp = req.send().await.map_err(Error::Transport)?;
        let status = resp.status();
        let after = retry_after(resp.headers());
        let text = resp.text().await.map_err(Error::Transport)?;
        if status.is_success() {
            return Ok(text);
        }
        Err(Error::from_api(api_error(status.as_u16(), &text, after)))
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeBody,
}

#[derive(Deserialize)]
struct EnvelopeBody {
    code: String,
    message: String,
}

/// stsvend's envelope; anything else (a proxy's page) becomes `http_<status>` with the start
/// of the text.
fn api_error(status: u16, text: &str, retry_after: Option<Duration>) -> ApiError {
    let (code, message) = match serde_json::from_str::<Envelope>(text) {
        Ok(Envelope { error }) => (error.code, error.message),
        Err(_) => (
            format!("http_{status}"),
            text.chars().take(200).collect::<String>().trim().to_owned(),
        ),
    };
    ApiError {
        status,
        code,
        message,
        retry_after,
    }
}

impl ProvideCredentials for StsvendCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move { self.current().await.map_err(Into::into) })
    }
}

impl fmt::Debug for StsvendCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The SDK may log its providers: the URL and the token's source, never the token.
        f.debug_struct("StsvendCredentials")
            .field("url", &self.inner.credentials_url.as_str())
            .field("token", &self.inner.token)
            .field("access", &self.inner.access)
            .finish_non_exhaustive()
    }
}

/// Settings for [`StsvendCredentials`]; [`Builder::token`] is required.
#[must_use]
pub struct Builder {
    url: String,
    token: Option<TokenSource>,
    access: Option<String>,
    http: Option<reqwest::Client>,
    retry: Retry,
    on_vend: Option<Arc<OnVend>>,
    allow_insecure_http: bool,
}

impl Builder {
    pub fn token(mut self, token: TokenSource) -> Self {
        self.token = Some(token);
        self
    }

    /// The template to vend under (`read-only`, ...); stsvend's default when not set.
    pub fn access(mut self, access: impl Into<String>) -> Self {
        self.access = Some(access.into());
        self
    }

    /// A client of your own (proxy, root certificates, timeouts).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Attempts in all on 429/503/502/504 and transport failures (default 3; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.retry.max_attempts = attempts.max(1);
        self
    }

    /// The longest pause between attempts (default 10 s). A longer `Retry-After` is returned
    /// as the error at once, carrying it.
    pub fn max_retry_wait(mut self, wait: Duration) -> Self {
        self.retry.max_wait = wait;
        self
    }

    /// Called with every vend that reached stsvend (to show or log the key id and expiry;
    /// `Vend`'s `Debug` hides the secret parts).
    pub fn on_vend(mut self, hook: impl Fn(&Vend) + Send + Sync + 'static) -> Self {
        self.on_vend = Some(Arc::new(hook));
        self
    }

    /// Allows a plain `http://` URL to a host that is not loopback. Off by default: the
    /// bearer token would cross the network in clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    pub fn build(self) -> Result<StsvendCredentials, Error> {
        let base = Url::parse(self.url.trim_end_matches('/'))
            .map_err(|e| Error::Config(format!("stsvend URL {:?}: {e}", self.url)))?;
        match base.scheme() {
            "https" => {}
            "http" if self.allow_insecure_http || is_loopback(&base) => {}
            "http" => {
                return Err(Error::Config(format!(
                    "stsvend URL {base}: plain http sends the token in clear; use https (http only \
                     for localhost, 127.0.0.0/8 and [::1], or allow_insecure_http(true))"
                )));
            }
            other => return Err(Error::Config(format!("stsvend URL {base}: scheme {other:?}"))),
        }
        let credentials_url = Url::parse(&format!("{}/v1/credentials", base.as_str().trim_end_matches('/')))
            .map_err(|e| Error::Config(format!("stsvend URL {base}: {e}")))?;
        let token = self
            .token
            .ok_or_else(|| Error::Config("no token source: call .token(TokenSource::...)".to_owned()))?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        Ok(StsvendCredentials {
            inner: Arc::new(Inner {
                http,
                credentials_url,
                token,
                access: self.access,
                retry: self.retry,
                on_vend: self.on_vend,
                last: Mutex::new(None),
            }),
        })
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(url: &str) -> Result<StsvendCredentials, Error> {
        StsvendCredentials::builder(url).token(TokenSource::value("t")).build()
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for ok in [
            "https://stsvend.example.com",
            "https://stsvend.example.com/",
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            let p = build(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(
                p.inner.credentials_url.as_str().ends_with(":8080/v1/credentials")
                    || p.inner.credentials_url.as_str() == "https://stsvend.example.com/v1/credentials",
                "{}",
                p.inner.credentials_url
            );
        }
        for bad in ["http://stsvend.example.com", "http://10.0.0.5", "ftp://x", "not a url"] {
            assert!(matches!(build(bad), Err(Error::Config(_))), "{bad}");
        }
        let allowed = StsvendCredentials::builder("http://stsvend:8080")
            .token(TokenSource::value("t"))
            .allow_insecure_http(true)
            .build();
        assert!(allowed.is_ok());
    }

    #[test]
    fn a_builder_without_a_token_source_says_so() {
        let Err(Error::Config(m)) = StsvendCredentials::builder("https://x.example").build() else {
            panic!("no token must not build");
        };
        assert!(m.contains("token"), "{m}");
    }

    #[test]
    fn an_answer_that_is_not_the_envelope_keeps_its_status_and_the_start_of_its_text() {
        let e = api_error(502, "<html>bad gateway</html>", None);
        assert_eq!((e.status, e.code.as_str()), (502, "http_502"));
        assert_eq!(e.message, "<html>bad gateway</html>");
        let e = api_error(
            429,
            r#"{"error": {"code": "rate_limited", "message": "slow down"}}"#,
            Some(Duration::from_secs(3)),
        );
        assert_eq!(e.to_string(), "429 rate_limited: slow down (retry after 3 s)");
    }
}
