//! `stsvend-cli login`: the device authorization grant (RFC 8628) against the issuer.

use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::oauth::{self, DeviceRequest, Poll};
use crate::secure_url::SecureUrl;
use crate::store::{Placement, RefreshToken, Session, Store};

pub const DEFAULT_SCOPE: &str = "openid offline_access read:files write:files";
pub const DEFAULT_CLIENT_ID: &str = "stsvend-cli";

/// Settings given on the command line or in the environment; what is missing comes from the
/// previous session.
#[derive(Debug, Default, clap::Args)]
pub struct LoginArgs {
    /// Issuer URL exactly as the identity provider spells it (Auth0: `https://TENANT.auth0.com/`,
    /// with the slash); https, or http on loopback.
    #[arg(long, env = "STSVEND_CLI_ISSUER")]
    pub issuer: Option<String>,
    /// API audience stsvend accepts.
    #[arg(long, env = "STSVEND_CLI_AUDIENCE")]
    pub audience: Option<String>,
    /// OAuth client id of the native application [default: stsvend-cli].
    #[arg(long, env = "STSVEND_CLI_CLIENT_ID")]
    pub client_id: Option<String>,
    /// stsvend's base URL; https, or http on loopback.
    #[arg(long, env = "STSVEND_CLI_API")]
    pub api: Option<String>,
    /// Scopes to request; keep `offline_access` to get a refresh token
    /// [default: `openid offline_access read:files write:files`].
    #[arg(long, env = "STSVEND_CLI_SCOPE")]
    pub scope: Option<String>,
}

struct Settings {
    issuer: SecureUrl,
    audience: String,
    client_id: String,
    api: SecureUrl,
    scope: String,
}

fn settings(args: LoginArgs, previous: Option<&Session>) -> Result<Settings, CliError> {
    let prev = previous;
    let pick = |given: Option<String>, old: Option<String>, flag, env| {
        given
            .filter(|v| !v.trim().is_empty())
            .or(old)
            .ok_or(CliError::MissingSetting { flag, env })
    };
    // Checked before anything is sent: tokens go to both.
    let url = |given, old: Option<&SecureUrl>, flag, env| {
        SecureUrl::parse(&pick(given, old.map(ToString::to_string), flag, env)?).map_err(CliError::bad_url(flag))
    };
    Ok(Settings {
        issuer: url(args.issuer, prev.map(|p| &p.issuer), "--issuer", "STSVEND_CLI_ISSUER")?,
        audience: pick(
            args.audience,
            prev.map(|p| p.audience.clone()),
            "--audience",
            "STSVEND_CLI_AUDIENCE",
        )?,
        api: url(args.api, prev.map(|p| &p.api), "--api", "STSVEND_CLI_API")?,
        client_id: args
            .client_id
            .or_else(|| prev.map(|p| p.client_id.clone()))
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned()),
        scope: args
            .scope
            .or_else(|| prev.map(|p| p.scope.clone()))
            .unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
    })
}

pub fn run(http: &Client, store: &Store<'_>, args: LoginArgs) -> Result<(), CliError> {
    let s = settings(args, store.load_optional()?.as_ref())?;
    let discovery = oauth::discover(http, &s.issuer)?;
    let Some(device_endpoint) = &discovery.device_authorization_endpoint else {
        return Err(CliError::BadResponse {
            what: "the identity provider".into(),
            reason: "its discovery document has no device_authorization_endpoint (enable the Device Code grant)".into(),
        });
    };
    let device = oauth::request_device_code(
        http,
        &DeviceRequest {
            endpoint: device_endpoint,
            client_id: &s.client_id,
            scope: &s.scope,
            audience: &s.audience,
        },
    )?;

    eprintln!(
        "To sign in, open {} and enter the code {}",
        device.verification_uri, device.user_code
    );
    if let Some(complete) = &device.verification_uri_complete {
        eprintln!("(or open {complete}, which fills the code in)");
    }
    eprintln!("Waiting for approval; the code expires in {} s.", device.expires_in);

    let deadline = Instant::now() + Duration::from_secs(device.expires_in);
    let mut interval = device.interval();
    let tokens = loop {
        std::thread::sleep(interval);
        if Instant::now() >= deadline {
            return Err(CliError::LoginExpired);
        }
        let answer = oauth::poll_once(http, &discovery.token_endpoint, &s.client_id, &device.device_code)?;
        match oauth::poll_decision(answer, interval, OffsetDateTime::now_utc())? {
            Poll::Granted(tokens) => break tokens,
            Poll::Wait(next) => interval = next,
        }
    };
    if tokens.refresh_token.is_none() {
        eprintln!(
            "warning: no refresh token was issued (is `offline_access` in --scope?); you will need to log in again when the access token expires"
        );
    }
    let session = Session {
        issuer: s.issuer,
        audience: s.audience,
        client_id: s.client_id,
        scope: s.scope,
        api: s.api,
        token_endpoint: discovery.token_endpoint,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token.map(RefreshToken::Value),
        obtained_at: tokens.obtained_at,
        expires_at: tokens.expires_at,
    };
    let _lock = store.lock()?;
    let placement = store.save(&session)?;
    let where_ = match placement {
        Placement::Keychain => " (refresh token in the OS keychain)",
        Placement::File | Placement::NoToken => "",
    };
    eprintln!("Logged in; session saved in {}{where_}", store.path().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::sample;

    #[test]
    fn the_first_login_needs_issuer_audience_and_api() {
        let err = settings(LoginArgs::default(), None).err().unwrap();
        assert!(err.to_string().contains("--issuer"), "{err}");
        let args = LoginArgs {
            issuer: Some("https://t.auth0.com/".into()),
            audience: Some("https://api".into()),
            ..LoginArgs::default()
        };
        assert!(settings(args, None).err().unwrap().to_string().contains("--api"));
    }

    #[test]
    fn later_logins_reuse_the_stored_settings_and_flags_win() {
        let args = LoginArgs {
            api: Some("https://stsvend.example".into()),
            ..LoginArgs::default()
        };
        let s = settings(args, Some(&sample())).unwrap();
        assert_eq!(s.api.as_str(), "https://stsvend.example");
        assert_eq!(s.issuer, sample().issuer);
        assert_eq!(s.scope, sample().scope);
    }

    #[test]
    fn defaults_fill_client_id_and_scope() {
        let args = LoginArgs {
            issuer: Some("https://t.auth0.com/".into()),
            audience: Some("a".into()),
            api: Some("https://stsvend.example".into()),
            ..LoginArgs::default()
        };
        let s = settings(args, None).unwrap();
        assert_eq!(s.client_id, "stsvend-cli");
        assert_eq!(s.scope, DEFAULT_SCOPE);
    }

    #[test]
    fn issuer_and_api_must_be_https_or_loopback_whichever_way_they_come() {
        let given = |issuer: &str, api: &str| LoginArgs {
            issuer: Some(issuer.into()),
            audience: Some("a".into()),
            api: Some(api.into()),
            ..LoginArgs::default()
        };
        let err = settings(given("http://t.auth0.com/", "https://s.example"), None)
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("--issuer must use https"), "{err}");
        assert_eq!(err.exit_code(), crate::error::EXIT_SETUP);
        let err = settings(given("https://t.auth0.com/", "http://127.0.0.1.evil.com"), None)
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("--api must use https"), "{err}");
        let s = settings(given("http://localhost:4400/", "http://[::1]:8080"), None).unwrap();
        assert_eq!(
            (s.issuer.as_str(), s.api.as_str()),
            ("http://localhost:4400/", "http://[::1]:8080")
        );
        // The previous session's (loopback) settings pass the same check when reused.
        assert!(settings(LoginArgs::default(), Some(&sample())).is_ok());
    }
}
