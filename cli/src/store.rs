//! The per-user session: tokens plus the settings `login` was given, so later commands need no
//! flags. A JSON file (mode 0600) in a directory only its owner can enter; the refresh token
//! goes to the OS keychain when one is reachable, and the file then says where it is.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::CliError;
use crate::files::{self, PRIVATE};
use crate::keychain::{Keychain, KeychainEntry, SERVICE};
use crate::secret::Secret;
use crate::secure_url::SecureUrl;

/// File name under the user's config directory (`~/.config/stsvend/` on Linux and macOS).
const APP_DIR: &str = "stsvend";
const FILE_NAME: &str = "cli-session.json";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// Issuer URL exactly as the identity provider spells it (Auth0: with a trailing slash).
    pub issuer: SecureUrl,
    pub audience: String,
    pub client_id: String,
    pub scope: String,
    /// stsvend's base URL.
    pub api: SecureUrl,
    /// From discovery at login, so a refresh is a single request.
    pub token_endpoint: SecureUrl,
    pub access_token: Secret,
    pub refresh_token: Option<RefreshToken>,
    #[serde(with = "time::serde::rfc3339")]
    pub obtained_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Session {
    pub fn lifetime(&self) -> time::Duration {
        self.expires_at - self.obtained_at
    }
}

/// The refresh token, or where the keychain keeps it. In the file: the token itself (as before
/// keychains were used), or `{"keychain": {"service": "stsvend-cli", "account": "<path>"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RefreshToken {
    Value(Secret),
    Keychain { keychain: KeychainEntry },
}

/// Where `save` put the refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    Keychain,
    File,
    NoToken,
}

/// What `remove` found and removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub file: bool,
    pub keychain: bool,
}

/// The session file and, unless turned off (`--keyring off`), the keychain beside it.
pub struct Store<'k> {
    path: PathBuf,
    keychain: Option<&'k dyn Keychain>,
    verbose: bool,
}

impl<'k> Store<'k> {
    pub fn new(path: PathBuf, keychain: Option<&'k dyn Keychain>, verbose: bool) -> Self {
        Self {
            path,
            keychain,
            verbose,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn keychain_enabled(&self) -> bool {
        self.keychain.is_some()
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        }
    }

    /// This session's keychain entry: one per session file, named by its absolute path.
    fn entry(&self) -> KeychainEntry {
        let path = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        KeychainEntry {
            service: SERVICE.to_owned(),
            account: path.to_string_lossy().into_owned(),
        }
    }

    /// Said on stderr with `--verbose` only: the AWS CLI shows a credential process's stderr.
    fn note(&self, message: impl Display) {
        if self.verbose {
            eprintln!("stsvend-cli: {message}");
        }
    }

    /// The store's lock (see `files::lock`), in a private directory.
    pub fn lock(&self) -> Result<files::Lock, CliError> {
        files::ensure_private_dir(self.dir())?;
        files::lock(&self.path)
    }

    pub fn load(&self) -> Result<Session, CliError> {
        files::check_private_dir(self.dir())?;
        let path = &self.path;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CliError::NotLoggedIn(path.clone()));
            }
            Err(e) => return Err(CliError::io(format!("cannot read {}", path.display()))(e)),
        };
        serde_json::from_str(&text).map_err(|e| CliError::CorruptSession {
            path: path.clone(),
            // serde_json's message names the line and column (or the URL rule broken), never
            // a token.
            reason: e.to_string(),
        })
    }

    /// The previous session, for `login`, which can do without one; but a directory others
    /// can read is refused before the user signs in, not after.
    pub fn load_optional(&self) -> Result<Option<Session>, CliError> {
        files::check_private_dir(self.dir())?;
        Ok(self.load().ok())
    }

    /// Writes the session. A new refresh token goes to the keychain when it is enabled and
    /// reachable, and to the file otherwise; either way it is found again by `refresh_token`.
    pub fn save(&self, session: &Session) -> Result<Placement, CliError> {
        files::ensure_private_dir(self.dir())?;
        let mut on_disk = session.clone();
        let placement = match (&session.refresh_token, self.keychain) {
            (None, _) => Placement::NoToken,
            // Unchanged since it was read: the keychain still holds it.
            (Some(RefreshToken::Keychain { .. }), _) => Placement::Keychain,
            (Some(RefreshToken::Value(_)), None) => Placement::File,
            (Some(RefreshToken::Value(token)), Some(keychain)) => {
                let entry = self.entry();
                match keychain.set(&entry, token) {
                    Ok(()) => {
                        self.note(format_args!(
                            "refresh token stored in the OS keychain (service {}, account {})",
                            entry.service, entry.account
                        ));
                        on_disk.refresh_token = Some(RefreshToken::Keychain { keychain: entry });
                        Placement::Keychain
                    }
                    Err(why) => {
                        self.note(format_args!(
                            "the OS keychain is not available ({why}); the refresh token is kept in {} (mode 0600)",
                            self.path.display()
                        ));
                        Placement::File
                    }
                }
            }
        };
        let mut json = serde_json::to_vec_pretty(&on_disk).map_err(|e| CliError::Usage(e.to_string()))?;
        json.push(b'\n');
        files::write_atomic(&self.path, &json, PRIVATE)?;
        if placement == Placement::NoToken
            && let Some(keychain) = self.keychain
        {
            // A login without `offline_access` replaces a session that had one.
            if let Err(why) = keychain.delete(&self.entry()) {
                self.note(format_args!("could not clear the OS keychain entry ({why})"));
            }
        }
        Ok(placement)
    }

    /// The session's refresh token, from wherever `save` put it. Read only when a refresh
    /// needs it, so a keychain that is out of reach (an SSH session) does not stop a command
    /// whose access token is still good.
    pub fn refresh_token(&self, session: &Session) -> Result<Option<Secret>, CliError> {
        let entry = match &session.refresh_token {
            None => return Ok(None),
            Some(RefreshToken::Value(token)) => return Ok(Some(token.clone())),
            Some(RefreshToken::Keychain { keychain }) => keychain,
        };
        let path = self.path.display();
        let Some(keychain) = self.keychain else {
            return Err(CliError::Keychain(format!(
                "the refresh token of the session in {path} is in the OS keychain, which --keyring off \
                 (STSVEND_CLI_KEYRING=off) turns off; run again without it, or run `stsvend-cli login`"
            )));
        };
        match keychain.get(entry) {
            Ok(Some(token)) => Ok(Some(token)),
            Ok(None) => Err(CliError::SessionExpired(format!(
                "the refresh token of the session in {path} is no longer in the OS keychain"
            ))),
            Err(why) => Err(CliError::Keychain(format!(
                "the refresh token of the session in {path} is in the OS keychain, which cannot be reached ({why}); \
                 run this where the keychain is unlocked, or run `stsvend-cli login` here"
            ))),
        }
    }

    /// Logs out: removes the session file and the refresh token, wherever it is. Works in a
    /// directory others can read too, since it only takes secrets away.
    pub fn remove(&self) -> Result<Removed, CliError> {
        let mut removed = Removed::default();
        if !self.exists() && self.keychain.is_none() {
            return Ok(removed);
        }
        let _lock = if self.exists() {
            Some(files::lock(&self.path)?)
        } else {
            None
        };
        let named = keychain_entry_named_in(&self.path);
        match std::fs::remove_file(&self.path) {
            Ok(()) => removed.file = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::io(format!("cannot remove {}", self.path.display()))(e)),
        }
        let Some(keychain) = self.keychain else {
            return match named {
                Some(entry) => Err(CliError::Keychain(format!(
                    "{} is removed, but its refresh token stays in the OS keychain (service {}, account {}) \
                     because --keyring off (STSVEND_CLI_KEYRING=off) turns the keychain off; run `stsvend-cli logout` without it",
                    self.path.display(),
                    entry.service,
                    entry.account
                ))),
                None => Ok(removed),
            };
        };
        // The entry the file named, and this path's own (left behind if the file was lost).
        let own = self.entry();
        let mut entries = vec![own.clone()];
        if let Some(entry) = named.clone().filter(|e| *e != own) {
            entries.insert(0, entry);
        }
        for entry in entries {
            match keychain.delete(&entry) {
                Ok(found) => removed.keychain |= found,
                Err(why) if named.as_ref() == Some(&entry) => {
                    return Err(CliError::Keychain(format!(
                        "{} is removed, but the refresh token could not be removed from the OS keychain ({why}); \
                         remove the entry (service {}, account {}) with your keychain's tool",
                        self.path.display(),
                        entry.service,
                        entry.account
                    )));
                }
                Err(why) => self.note(format_args!("OS keychain not checked ({why})")),
            }
        }
        Ok(removed)
    }
}

/// The keychain entry a session file names, read leniently: logout must work on a file that
/// no longer parses as a whole.
fn keychain_entry_named_in(path: &Path) -> Option<KeychainEntry> {
    #[derive(Deserialize)]
    struct Named {
        refresh_token: Option<RefreshToken>,
    }
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<Named>(&text).ok()?.refresh_token? {
        RefreshToken::Keychain { keychain } => Some(keychain),
        RefreshToken::Value(_) => None,
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
pub(crate) mod tests;
