//! OAuth 2.0 against the issuer: discovery, the device authorization grant (RFC 8628) and the
//! refresh grant. Decisions are pure functions of the responses, so they are unit tested
//! without a server.

use std::time::Duration;

use reqwest::blocking::Client;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::secret::Secret;
use crate::secure_url::SecureUrl;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.5: without `interval`, poll every 5 s; after `slow_down`, 5 s more.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The discovery document as sent.
#[derive(Debug, Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    token_endpoint: String,
    device_authorization_endpoint: Option<String>,
}

/// The endpoints of an issuer that proved to be the one configured; tokens are sent to them,
/// so they follow the same https rule as `--issuer`.
#[derive(Debug)]
pub struct Discovery {
    pub token_endpoint: SecureUrl,
    pub device_authorization_endpoint: Option<SecureUrl>,
}

/// `<issuer>/.well-known/openid-configuration` (OIDC Discovery §4: any trailing `/` of the
/// issuer is removed before the suffix is appended, so both spellings fetch one document).
pub fn discover(http: &Client, issuer: &SecureUrl) -> Result<Discovery, CliError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    let resp = http.get(&url).send().map_err(CliError::http("the identity provider"))?;
    let resp = CliError::unless_redirect(format!("OIDC discovery at {url}"), resp)?;
    if !resp.status().is_success() {
        return Err(CliError::BadResponse {
            what: format!("OIDC discovery at {url}"),
            reason: format!("HTTP {}", resp.status()),
        });
    }
    let doc: DiscoveryDocument = resp.json().map_err(|e| CliError::BadResponse {
        what: format!("OIDC discovery at {url}"),
        reason: e.to_string(),
    })?;
    check_issuer(issuer, &doc.issuer)?;
    let endpoint = |name: &str, value: &str| {
        SecureUrl::parse(value).map_err(CliError::bad_url(format!("the identity provider's {name}")))
    };
    Ok(Discovery {
        token_endpoint: endpoint("token_endpoint", &doc.token_endpoint)?,
        device_authorization_endpoint: doc
            .device_authorization_endpoint
            .as_deref()
            .map(|d| endpoint("device_authorization_endpoint", d))
            .transpose()?,
    })
}

/// OIDC Discovery §4.3: the document's `issuer` must be identical to the issuer it was fetched
/// for, or it describes another identity provider (a mix-up, or a proxy serving someone
/// else's document). Identical means the same string: no case folding, and a trailing `/`
/// counts, since it is part of the `iss` claim stsvend checks in every token.
pub fn check_issuer(configured: &SecureUrl, discovered: &str) -> Result<(), CliError> {
    if configured.as_str() == discovered {
        Ok(())
    } else {
        Err(CliError::IssuerMismatch {
            configured: configured.to_string(),
            discovered: discovered.to_owned(),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    pub interval: Option<u64>,
}

impl DeviceAuthorization {
    pub fn interval(&self) -> Duration {
        self.interval.map_or(DEFAULT_INTERVAL, Duration::from_secs)
    }
}

pub struct DeviceRequest<'a> {
    pub endpoint: &'a SecureUrl,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub audience: &'a str,
}

pub fn request_device_code(http: &Client, req: &DeviceRequest<'_>) -> Result<DeviceAuthorization, CliError> {
    let resp = http
        .post(req.endpoint.as_str())
        .form(&[
            ("client_id", req.client_id),
            ("scope", req.scope),
            ("audience", req.audience),
        ])
        .send()
        .map_err(CliError::http("the identity provider"))?;
    let resp = CliError::unless_redirect("the device authorization endpoint", resp)?;
    let status = resp.status();
    let body = resp.text().map_err(CliError::http("the identity provider"))?;
    if !status.is_success() {
        return Err(oauth_error(&body, status.as_u16()));
    }
    serde_json::from_str(&body).map_err(|e| CliError::BadResponse {
        what: "the device authorization endpoint".into(),
        reason: e.to_string(),
    })
}

/// A token endpoint answer: tokens, or an OAuth error. Read leniently: Auth0 answers
/// `slow_down` with 429 and the others with 400 or 403.
#[derive(Debug, Default, Deserialize)]
pub struct TokenAnswer {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<u64>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[derive(Debug)]
pub struct Tokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub obtained_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What to do after one poll of the token endpoint.
#[derive(Debug)]
pub enum Poll {
    Granted(Tokens),
    /// Not yet approved: ask again after this long (the interval to keep from now on).
    Wait(Duration),
}

pub fn poll_decision(answer: TokenAnswer, interval: Duration, now: OffsetDateTime) -> Result<Poll, CliError> {
    match answer.error.as_deref() {
        None => tokens_from(answer, now).map(Poll::Granted),
        Some("authorization_pending") => Ok(Poll::Wait(interval)),
        Some("slow_down") => Ok(Poll::Wait(interval + SLOW_DOWN_STEP)),
        Some("access_denied") => Err(CliError::LoginDenied),
        Some("expired_token") => Err(CliError::LoginExpired),
        Some(code) => Err(CliError::OAuth {
            code: code.to_owned(),
            description: answer.error_description,
        }),
    }
}

fn tokens_from(answer: TokenAnswer, now: OffsetDateTime) -> Result<Tokens, CliError> {
    let access_token = answer.access_token.ok_or_else(|| CliError::BadResponse {
        what: "the token endpoint".into(),
        reason: "no access_token and no error".into(),
    })?;
    // Auth0 always sends expires_in; without it assume the shortest lifetime we would
    // still use, so the token is refreshed on the next command.
    let expires_in = answer.expires_in.unwrap_or(0);
    Ok(Tokens {
        access_token,
        refresh_token: answer.refresh_token,
        obtained_at: now,
        expires_at: now + Duration::from_secs(expires_in),
    })
}

/// One poll; the caller sleeps between polls.
pub fn poll_once(
    http: &Client,
    token_endpoint: &SecureUrl,
    client_id: &str,
    device_code: &Secret,
) -> Result<TokenAnswer, CliError> {
    post_token(
        http,
        token_endpoint,
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code.expose()),
            ("client_id", client_id),
        ],
    )
}

/// The refresh grant. A refused refresh (`invalid_grant`: expired, revoked, or a rotated token
/// presented twice) means a new login.
pub fn refresh(
    http: &Client,
    token_endpoint: &SecureUrl,
    client_id: &str,
    refresh_token: &Secret,
    now: OffsetDateTime,
) -> Result<Tokens, CliError> {
    let answer = post_token(
        http,
        token_endpoint,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token.expose()),
        ],
    )?;
    match answer.error.as_deref() {
        None => tokens_from(answer, now),
        Some(code @ ("invalid_grant" | "unauthorized_client" | "access_denied")) => Err(CliError::SessionExpired(
            answer
                .error_description
                .map_or_else(|| code.to_owned(), |d| format!("{code}: {d}")),
        )),
        Some(code) => Err(CliError::OAuth {
            code: code.to_owned(),
            description: answer.error_description,
        }),
    }
}

fn post_token(http: &Client, endpoint: &SecureUrl, form: &[(&str, &str)]) -> Result<TokenAnswer, CliError> {
    let resp = http
        .post(endpoint.as_str())
        .form(form)
        .send()
        .map_err(CliError::http("the identity provider"))?;
    let resp = CliError::unless_redirect("the token endpoint", resp)?;
    let status = resp.status();
    let body = resp.text().map_err(CliError::http("the identity provider"))?;
    match serde_json::from_str::<TokenAnswer>(&body) {
        Ok(answer) if answer.access_token.is_some() || answer.error.is_some() => Ok(answer),
        // Neither tokens nor an OAuth error (a proxy's HTML page, ...): report the status only,
        // since a token response must never be echoed.
        _ => Err(CliError::BadResponse {
            what: "the token endpoint".into(),
            reason: format!("HTTP {status} without tokens or an OAuth error"),
        }),
    }
}

fn oauth_error(body: &str, status: u16) -> CliError {
    match serde_json::from_str::<TokenAnswer>(body) {
        Ok(TokenAnswer {
            error: Some(code),
            error_description,
            ..
        }) => CliError::OAuth {
            code,
            description: error_description,
        },
        _ => CliError::BadResponse {
            what: "the identity provider".into(),
            reason: format!("HTTP {status}"),
        },
    }
}

/// True when the access token has less than `margin` left at `now`.
pub fn needs_refresh(expires_at: OffsetDateTime, now: OffsetDateTime, margin: Duration) -> bool {
    expires_at - now < margin
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn error(code: &str) -> TokenAnswer {
        TokenAnswer {
            error: Some(code.to_owned()),
            ..TokenAnswer::default()
        }
    }

    fn wait(p: Result<Poll, CliError>) -> Duration {
        match p {
            Ok(Poll::Wait(d)) => d,
            other => panic!("expected Wait, got {other:?}"),
        }
    }

    #[test]
    fn pending_keeps_the_interval() {
        let interval = Duration::from_secs(2);
        assert_eq!(
            wait(poll_decision(error("authorization_pending"), interval, NOW)),
            interval
        );
    }

    #[test]
    fn slow_down_adds_five_seconds_each_time() {
        let first = wait(poll_decision(error("slow_down"), Duration::from_secs(1), NOW));
        assert_eq!(first, Duration::from_secs(6));
        let second = wait(poll_decision(error("slow_down"), first, NOW));
        assert_eq!(second, Duration::from_secs(11));
        // and pending after slow_down keeps the longer interval
        assert_eq!(wait(poll_decision(error("authorization_pending"), second, NOW)), second);
    }

    #[test]
    fn denied_and_expired_codes_end_the_login() {
        let d = Duration::from_secs(1);
        assert!(matches!(
            poll_decision(error("access_denied"), d, NOW),
            Err(CliError::LoginDenied)
        ));
        assert!(matches!(
            poll_decision(error("expired_token"), d, NOW),
            Err(CliError::LoginExpired)
        ));
        let other = poll_decision(error("invalid_client"), d, NOW).unwrap_err();
        assert!(other.to_string().contains("invalid_client"), "{other}");
    }

    #[test]
    fn a_granted_answer_yields_tokens_with_their_expiry() {
        let answer: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"at","refresh_token":"rt","expires_in":86400,"token_type":"Bearer","id_token":"x"}"#,
        )
        .unwrap();
        let Ok(Poll::Granted(t)) = poll_decision(answer, Duration::from_secs(1), NOW) else {
            panic!("expected tokens")
        };
        assert_eq!(t.access_token.expose(), "at");
        assert_eq!(t.refresh_token.as_ref().map(Secret::expose), Some("rt"));
        assert_eq!(t.expires_at, datetime!(2026-03-02 12:00 UTC));
        assert!(!format!("{t:?}").contains("at\""), "{t:?}");
    }

    #[test]
    fn a_token_is_refreshed_when_less_than_a_minute_is_left() {
        let minute = Duration::from_mins(1);
        assert!(!needs_refresh(NOW + Duration::from_secs(61), NOW, minute));
        assert!(needs_refresh(NOW + Duration::from_secs(59), NOW, minute));
        assert!(needs_refresh(NOW - Duration::from_secs(5), NOW, minute));
    }

    #[test]
    fn the_interval_defaults_to_five_seconds() {
        let mut d: DeviceAuthorization = serde_json::from_str(
            r#"{"device_code":"dc","user_code":"BCDF-GHJK","verification_uri":"https://x/activate","expires_in":900}"#,
        )
        .unwrap();
        assert_eq!(d.interval(), Duration::from_secs(5));
        d.interval = Some(1);
        assert_eq!(d.interval(), Duration::from_secs(1));
        assert!(!format!("{d:?}").contains("\"dc\""));
    }

    #[test]
    fn the_discovered_issuer_must_be_the_configured_one_exactly() {
        let auth0 = SecureUrl::parse("https://tenant.auth0.com/").unwrap();
        assert!(check_issuer(&auth0, "https://tenant.auth0.com/").is_ok());
        for other in [
            "https://tenant.auth0.com",
            "https://tenant.auth0.com//",
            "https://TENANT.auth0.com/",
            "https://tenant.auth0.com:443/",
            "https://evil.example/",
            "",
        ] {
            let err = check_issuer(&auth0, other).unwrap_err();
            assert!(matches!(err, CliError::IssuerMismatch { .. }), "{other}: {err:?}");
        }
        let no_slash = SecureUrl::parse("https://tenant.auth0.com").unwrap();
        let err = check_issuer(&no_slash, "https://tenant.auth0.com/").unwrap_err();
        assert!(
            err.to_string().contains("pass --issuer https://tenant.auth0.com/"),
            "{err}"
        );
    }

    #[test]
    fn error_bodies_become_oauth_errors_and_others_do_not_leak() {
        let e = oauth_error(
            r#"{"error":"invalid_target","error_description":"unknown audience"}"#,
            400,
        );
        assert!(e.to_string().contains("invalid_target (unknown audience)"), "{e}");
        let e = oauth_error("<html>secret-ish</html>", 502);
        assert!(!e.to_string().contains("secret-ish"), "{e}");
    }
}
