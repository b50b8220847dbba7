//! `stsvend-cli login`: the device authorization grant (RFC 8628) against the issuer.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::oauth::{self, DeviceRequest, Poll};
use crate::store::Session;

pub const DEFAULT_SCOPE: &str = "openid offline_access read:files write:files";
pub const DEFAULT_CLIENT_ID: &str = "stsvend-cli";

/// Settings given on the command line or in the environment; what is missing comes from the
/// previous session.
#[derive(Debug, Default, clap::Args)]
pub struct LoginArgs {
    /// Issuer URL (Auth0: `https://TENANT.auth0.com/`).
    #[arg(long, env = "STSVEND_CLI_ISSUER")]
    pub issuer: Option<String>,
    /// API audience stsvend accepts.
    #[arg(long, env = "STSVEND_CLI_AUDIENCE")]
    pub audience: Option<String>,
    /// OAuth client id of the native application [default: stsvend-cli].
    #[arg(long, env = "STSVEND_CLI_CLIENT_ID")]
    pub client_id: Option<String>,
    /// stsvend's base URL.
    #[arg(long, env = "STSVEND_CLI_API")]
    pub api: Option<String>,
    /// Scopes to request; keep `offline_access` to get a refresh token
    /// [default: `openid offline_access read:files write:files`].
    #[arg(long, env = "STSVEND_CLI_SCOPE")]
    pub scope: Option<String>,
}

struct Settings {
    issuer: String,
    audience: String,
    client_id: String,
    api: String,
    scope: String,
}

fn settings(args: LoginArgs, previous: Option<&Session>) -> Result<Settings, CliError> {
    let prev = previous;
    let pick = |given: Option<String>, old: Option<&String>, flag, env| {
        given
            .filter(|v| !v.trim().is_empty())
            .or_else(|| old.cloned())
            .ok_or(CliError::MissingSetting { flag, env })
    };
    Ok(Settings {
        issuer: pick(args.issuer, prev.map(|p| &p.issuer), "--issuer", "STSVEND_CLI_ISSUER")?,
        audience: pick(
            args.audience,
            prev.map(|p| &p.audience),
            "--audience",
            "STSVEND_CLI_AUDIENCE",
        )?,
        api: pick(args.api, prev.map(|p| &p.api), "--api", "STSVEND_CLI_API")?,
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

pub fn run(http: &Client, store: &Path, args: LoginArgs) -> Result<(), CliError> {
    let s = settings(args, Session::load_optional(store).as_ref())?;
    let discovery = oauth::discover(http, &s.issuer)?;
    let Some(device_endpoint) = discovery.device_authorization_endpoint.as_deref() else {
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
        refresh_token: tokens.refresh_token,
        obtained_at: tokens.obtained_at,
        expires_at: tokens.expires_at,
    };
    let _lock = crate::files::lock(store)?;
    session.save(store)?;
    eprintln!("Logged in; session saved in {}", store.display());
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
        assert_eq!(s.api, "https://stsvend.example");
        assert_eq!(s.issuer, sample().issuer);
        assert_eq!(s.scope, sample().scope);
    }

    #[test]
    fn defaults_fill_client_id_and_scope() {
        let args = LoginArgs {
            issuer: Some("i".into()),
            audience: Some("a".into()),
            api: Some("u".into()),
            ..LoginArgs::default()
        };
        let s = settings(args, None).unwrap();
        assert_eq!(s.client_id, "stsvend-cli");
        assert_eq!(s.scope, DEFAULT_SCOPE);
    }
}
