//! Where the bearer token comes from: a value, a file read again on every vend, or a closure.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{BoxError, Error};

type TokenFuture = Pin<Box<dyn Future<Output = Result<String, BoxError>> + Send>>;
type TokenFn = dyn Fn() -> TokenFuture + Send + Sync;

/// The access token stsvend checks, asked for afresh before every vend (so a refreshed token
/// is used as soon as it exists). `Bearer ` in front and surrounding whitespace are removed.
///
/// `Debug` never shows the token; a file source shows its path.
#[derive(Clone)]
pub struct TokenSource(Source);

#[derive(Clone)]
enum Source {
    Value(Arc<str>),
    File(PathBuf),
    Fn(Arc<TokenFn>),
}

impl TokenSource {
    /// A token that stays the same (a script's, a test's). It expires like any access token:
    /// for long jobs prefer [`TokenSource::file`] or [`TokenSource::from_fn`].
    pub fn value(token: impl Into<String>) -> Self {
        Self(Source::Value(Arc::from(token.into())))
    }

    /// A file holding `Bearer <jwt>` or the bare JWT, read again on every vend: the file
    /// `stsvend-cli token-file` keeps fresh, or a mounted secret rotated by a sidecar.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self(Source::File(path.into()))
    }

    /// A closure returning the current token, e.g. from your OAuth client's refresh logic.
    pub fn from_fn<F, Fut, E>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self(Source::Fn(Arc::new(move || {
            let fut = f();
            Box::pin(async move { fut.await.map_err(Into::into) })
        })))
    }

    /// `STSVEND_TOKEN_FILE` (a path) if set, else `STSVEND_TOKEN` (the token itself).
    pub fn from_env() -> Result<Self, Error> {
        if let Some(path) = std::env::var_os("STSVEND_TOKEN_FILE") {
            return Ok(Self::file(PathBuf::from(path)));
        }
        std::env::var("STSVEND_TOKEN")
            .map(Self::value)
            .map_err(|_| Error::Config("set STSVEND_TOKEN_FILE or STSVEND_TOKEN".to_owned()))
    }

    /// The JWT as it should follow `Bearer `.
    pub(crate) async fn token(&self) -> Result<String, Error> {
        let raw = match &self.0 {
            Source::Value(v) => v.to_string(),
            // A few hundred bytes: a plain read costs less than a hop to a blocking thread.
            Source::File(path) => std::fs::read_to_string(path).map_err(|e| Error::Token {
                reason: format!("{}: {e}", path.display()).into(),
            })?,
            Source::Fn(f) => f().await.map_err(|reason| Error::Token { reason })?,
        };
        let jwt = strip_bearer(&raw);
        if jwt.is_empty() {
            let reason = match &self.0 {
                Source::File(path) => format!("{} holds no token", path.display()).into(),
                _ => "the token source gave an empty token".into(),
            };
            return Err(Error::Token { reason });
        }
        Ok(jwt.to_owned())
    }
}

fn strip_bearer(raw: &str) -> &str {
    let raw = raw.trim();
    match raw.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if raw.eq_ignore_ascii_case("bearer") => "",
        _ => raw,
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Value(_) => f.write_str("TokenSource::Value([redacted])"),
            Source::File(path) => write!(f, "TokenSource::File({})", path.display()),
            Source::Fn(_) => f.write_str("TokenSource::Fn"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_file_is_read_again_on_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "Bearer first.jwt.sig\n").unwrap();
        let source = TokenSource::file(&path);
        assert_eq!(source.token().await.unwrap(), "first.jwt.sig");
        std::fs::write(&path, "second.jwt.sig").unwrap();
        assert_eq!(source.token().await.unwrap(), "second.jwt.sig");
    }

    #[tokio::test]
    async fn an_empty_or_missing_token_file_is_a_token_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let missing = TokenSource::file(&path).token().await.unwrap_err();
        assert!(matches!(missing, Error::Token { .. }), "{missing:?}");
        assert!(missing.to_string().contains("token"), "{missing}");
        std::fs::write(&path, "Bearer \n").unwrap();
        let empty = TokenSource::file(&path).token().await.unwrap_err();
        assert!(empty.to_string().contains("holds no token"), "{empty}");
    }

    #[tokio::test]
    async fn a_closure_is_asked_each_time() {
        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&n);
        let source = TokenSource::from_fn(move || {
            let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok::<_, std::io::Error>(format!("jwt-{i}")) }
        });
        assert_eq!(source.token().await.unwrap(), "jwt-0");
        assert_eq!(source.token().await.unwrap(), "jwt-1");
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let shown = format!("{:?}", TokenSource::value("eyJhbGciOiJSUzI1NiJ9.payload.sig"));
        assert!(!shown.contains("eyJ"), "{shown}");
        assert_eq!(
            format!("{:?}", TokenSource::file("/run/token")),
            "TokenSource::File(/run/token)"
        );
    }
}
