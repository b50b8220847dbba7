//! A session with an access token that is good for long enough, refreshed under the store's
//! lock when it is not.

use std::time::Duration;

use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::oauth;
use crate::store::{RefreshToken, Session, Store};

/// How much validity the caller needs from the access token.
#[derive(Clone, Copy, Debug)]
pub enum Want {
    /// Refresh when less than this is left.
    AtLeast(Duration),
    /// Refresh regardless (stsvend rejected the current token).
    NewToken,
}

pub fn fresh(http: &Client, store: &Store<'_>, want: Want) -> Result<Session, CliError> {
    // Checked before locking so that "not logged in" does not leave a lock file behind.
    if !store.exists() {
        return Err(CliError::NotLoggedIn(store.path().to_owned()));
    }
    let _lock = store.lock()?;
    // Read under the lock: another process may have refreshed (and rotated) meanwhile.
    let mut session = store.load()?;
    let now = OffsetDateTime::now_utc();
    let refresh = match want {
        Want::AtLeast(margin) => oauth::needs_refresh(session.expires_at, now, margin),
        Want::NewToken => true,
    };
    if !refresh {
        return Ok(session);
    }
    let Some(refresh_token) = store.refresh_token(&session)? else {
        return Err(CliError::SessionExpired(
            "the access token expired and there is no refresh token; log in with `offline_access` in --scope".into(),
        ));
    };
    let tokens = oauth::refresh(http, &session.token_endpoint, &session.client_id, &refresh_token, now)?;
    session.access_token = tokens.access_token;
    // Rotation: the old refresh token is now spent. Keep it only if none came back (no rotation).
    if let Some(rotated) = tokens.refresh_token {
        session.refresh_token = Some(RefreshToken::Value(rotated));
    }
    session.obtained_at = tokens.obtained_at;
    session.expires_at = tokens.expires_at;
    store.save(&session)?;
    Ok(session)
}
