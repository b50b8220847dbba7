//! The per-user session file: tokens plus the settings `login` was given, so later commands
//! need no flags. JSON, mode 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::CliError;
use crate::files::{self, PRIVATE};
use crate::secret::Secret;

/// File name under the user's config directory (`~/.config/stsvend/` on Linux and macOS).
const APP_DIR: &str = "stsvend";
const FILE_NAME: &str = "cli-session.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Issuer URL as the identity provider spells it (Auth0: with a trailing slash).
    pub issuer: String,
    pub audience: String,
    pub client_id: String,
    pub scope: String,
    /// stsvend's base URL.
    pub api: String,
    /// From discovery at login, so a refresh is a single request.
    pub token_endpoint: String,
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    #[serde(with = "time::serde::rfc3339")]
    pub obtained_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Session {
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::NotLoggedIn(path.to_owned()));
            }
            Err(e) => return Err(CliError::io(format!("cannot read {}", path.display()))(e)),
        };
        serde_json::from_str(&text).map_err(|e| CliError::CorruptSession {
            path: path.to_owned(),
            // serde_json's message names the line and column, never the content.
            reason: e.to_string(),
        })
    }

    /// Loads the session if there is a readable one; for `login`, which can do without.
    pub fn load_optional(path: &Path) -> Option<Self> {
        Self::load(path).ok()
    }

    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| CliError::Usage(e.to_string()))?;
        json.push(b'\n');
        files::write_atomic(path, &json, PRIVATE)
    }

    pub fn lifetime(&self) -> time::Duration {
        self.expires_at - self.obtained_at
    }
}

/// `--token-store`, else `$STSVEND_CLI_STORE` (both resolved by clap), else the default.
pub fn resolve_path(explicit: Option<&Path>) -> Result<PathBuf, CliError> {
    use etcetera::BaseStrategy;
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let base = etcetera::choose_base_strategy().map_err(|e| {
        CliError::Usage(format!(
            "cannot find your config directory ({e}); pass --token-store or set STSVEND_CLI_STORE"
        ))
    })?;
    Ok(base.config_dir().join(APP_DIR).join(FILE_NAME))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    pub fn sample() -> Session {
        Session {
            issuer: "http://127.0.0.1:4400/".into(),
            audience: "https://stsvend.local/api".into(),
            client_id: "stsvend-cli".into(),
            scope: "openid offline_access".into(),
            api: "http://127.0.0.1:8080".into(),
            token_endpoint: "http://127.0.0.1:4400/oauth/token".into(),
            access_token: Secret::new("access-jwt"),
            refresh_token: Some(Secret::new("refresh-1")),
            obtained_at: datetime!(2026-01-01 10:00 UTC),
            expires_at: datetime!(2026-01-02 10:00 UTC),
        }
    }

    #[test]
    fn a_saved_session_loads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        sample().save(&path).unwrap();
        let loaded = Session::load(&path).unwrap();
        assert_eq!(loaded.refresh_token, Some(Secret::new("refresh-1")));
        assert_eq!(loaded.expires_at, datetime!(2026-01-02 10:00 UTC));
        assert_eq!(loaded.lifetime(), time::Duration::hours(24));
        #[cfg(unix)]
        assert_eq!(files::existing_mode(&path), Some(0o600));
    }

    #[test]
    fn a_missing_file_means_not_logged_in() {
        let err = Session::load(Path::new("/nonexistent/stsvend/s.json")).unwrap_err();
        assert!(matches!(err, CliError::NotLoggedIn(_)), "{err:?}");
    }

    #[test]
    fn a_damaged_file_asks_for_a_new_login_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, r#"{"access_token": "eyJsecret"#).unwrap();
        let msg = Session::load(&path).unwrap_err().to_string();
        assert!(msg.contains("stsvend-cli login"), "{msg}");
        assert!(!msg.contains("eyJsecret"), "{msg}");
    }

    #[test]
    fn debug_output_has_no_tokens() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("access-jwt") && !text.contains("refresh-1"), "{text}");
    }

    #[test]
    fn an_explicit_path_wins() {
        assert_eq!(
            resolve_path(Some(Path::new("/x/y.json"))).unwrap(),
            PathBuf::from("/x/y.json")
        );
    }
}
