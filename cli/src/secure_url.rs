//! URLs the CLI sends tokens to (`--issuer`, `--api`, the identity provider's endpoints): https,
//! or plain http to this machine only, so a bearer or refresh token never crosses a network in
//! clear text. Local stacks (the test suite's, `MiniStack`'s) run on `http://127.0.0.1`.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// A URL that passed [`SecureUrl::parse`]. Keeps the text as given: issuers are compared as
/// strings (OIDC Discovery §4.3), and the text is what the user will recognise in a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecureUrl(String);

/// Why a URL was refused; each message completes "`--api` ...".
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("is not a URL ({0})")]
    NotAUrl(String),
    #[error("must use https: {shown} {reason} (plain http is accepted only for localhost, 127.0.0.0/8 and [::1])")]
    NotHttps { shown: String, reason: String },
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must not have a query or a fragment: {0}")]
    QueryOrFragment(String),
}

impl SecureUrl {
    pub fn parse(text: &str) -> Result<Self, UrlProblem> {
        // The WHATWG parser reqwest itself uses, so the host checked here is the host connected
        // to: `http://127.0.0.1@evil.com` is evil.com, `HTTP://[::1]` is loopback.
        let url = Url::parse(text.trim()).map_err(|e| UrlProblem::NotAUrl(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if url.host().as_ref().is_some_and(is_loopback) => {}
            "http" => {
                return Err(UrlProblem::NotHttps {
                    shown: shown(&url),
                    reason: "is plain http to a host that is not this machine".into(),
                });
            }
            other => {
                return Err(UrlProblem::NotHttps {
                    shown: shown(&url),
                    reason: format!("uses {other}"),
                });
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlProblem::Credentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(UrlProblem::QueryOrFragment(shown(&url)));
        }
        Ok(Self(text.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 127.0.0.0/8, `::1` and the name `localhost` (RFC 6761 reserves it for loopback). Names that
/// merely start with it (`localhost.evil.com`) or with a loopback address are other hosts.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        // The parser lowercases names.
        Host::Domain(name) => *name == "localhost",
    }
}

/// The URL for a message, without any user name or password it carried.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

impl fmt::Display for SecureUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SecureUrl {
    type Error = UrlProblem;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<SecureUrl> for String {
    fn from(url: SecureUrl) -> Self {
        url.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_plain_http_on_loopback_are_accepted() {
        for ok in [
            "https://tenant.auth0.com/",
            "https://stsvend.example.com",
            "HTTPS://Stsvend.Example.com:8443/base/",
            "http://127.0.0.1:4400/",
            "http://127.0.0.1",
            "http://127.1.2.3:8080",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080",
            "http://[0:0:0:0:0:0:0:1]/",
            "HTTP://127.0.0.1:8080",
            "  http://127.0.0.1:8080  ",
        ] {
            let url = SecureUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(url.as_str(), ok.trim(), "the text is kept as given");
        }
    }

    #[test]
    fn plain_http_to_any_other_host_is_refused() {
        for bad in [
            "http://stsvend.example.com",
            "http://127.0.0.1.evil.com/",
            "http://localhost.evil.com",
            "http://evil.com/127.0.0.1",
            "http://10.0.0.1:8080",
            "http://0.0.0.0:8080",
            "http://[::]:8080",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
            "HTTP://stsvend.example.com",
            "http://localhost./",
        ] {
            match SecureUrl::parse(bad) {
                Err(UrlProblem::NotHttps { reason, .. }) => assert!(reason.contains("plain http"), "{bad}: {reason}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_loopback_user_name_does_not_make_another_host_loopback() {
        let err = SecureUrl::parse("http://127.0.0.1@evil.com/").unwrap_err();
        assert!(
            matches!(&err, UrlProblem::NotHttps { shown, .. } if shown == "http://evil.com/"),
            "{err:?}"
        );
        let err = SecureUrl::parse("http://user:hunter2@evil.com/").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn other_schemes_credentials_queries_and_non_urls_are_refused() {
        assert!(matches!(
            SecureUrl::parse("ftp://127.0.0.1/"),
            Err(UrlProblem::NotHttps { reason, .. }) if reason == "uses ftp"
        ));
        assert!(matches!(
            SecureUrl::parse("file:///etc/passwd"),
            Err(UrlProblem::NotHttps { .. })
        ));
        assert_eq!(
            SecureUrl::parse("https://me:pw@tenant.auth0.com/"),
            Err(UrlProblem::Credentials)
        );
        assert_eq!(
            SecureUrl::parse("http://admin@127.0.0.1:8080"),
            Err(UrlProblem::Credentials)
        );
        assert!(matches!(
            SecureUrl::parse("https://tenant.auth0.com/?x=1"),
            Err(UrlProblem::QueryOrFragment(_))
        ));
        assert!(matches!(
            SecureUrl::parse("https://tenant.auth0.com/#x"),
            Err(UrlProblem::QueryOrFragment(_))
        ));
        for bad in ["", "tenant.auth0.com", "/relative", "https://"] {
            assert!(matches!(SecureUrl::parse(bad), Err(UrlProblem::NotAUrl(_))), "{bad}");
        }
    }

    #[test]
    fn a_session_file_with_a_plain_http_url_does_not_deserialize() {
        assert!(serde_json::from_str::<SecureUrl>(r#""http://stsvend.example.com""#).is_err());
        let ok: SecureUrl = serde_json::from_str(r#""http://127.0.0.1:8080""#).unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#""http://127.0.0.1:8080""#);
    }
}
