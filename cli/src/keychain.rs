//! The OS keychain, where one is reachable: macOS Keychain, Windows Credential Manager, the
//! Secret Service (GNOME Keyring, `KWallet`) over D-Bus on Linux and the BSDs. It holds the
//! refresh token only; store.rs decides when to fall back to the session file.

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The keychain entry's service name; the account is the session file's absolute path, so
/// several sessions (`--token-store`) never share an entry.
pub const SERVICE: &str = "stsvend-cli";

/// Where a refresh token is in the keychain, as recorded in the session file (so it is found
/// again even if the file is moved).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeychainEntry {
    pub service: String,
    pub account: String,
}

/// Why the keychain could not be used: no D-Bus session, no Secret Service, a locked or
/// refused store. The message never contains the token.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Two implementations: the OS keychain, and an in-memory one in tests.
pub trait Keychain {
    fn set(&self, entry: &KeychainEntry, token: &Secret) -> Result<(), Unavailable>;
    /// `None` when there is no such entry.
    fn get(&self, entry: &KeychainEntry) -> Result<Option<Secret>, Unavailable>;
    /// `true` when an entry was removed, `false` when there was none.
    fn delete(&self, entry: &KeychainEntry) -> Result<bool, Unavailable>;
}

/// The `keyring` crate's platform store, connected on first use (once per process).
pub struct OsKeychain;

impl OsKeychain {
    fn open(entry: &KeychainEntry) -> Result<keyring::Entry, Unavailable> {
        keyring::Entry::new(&entry.service, &entry.account).map_err(|e| {
            // `NoDefaultStore` only says that the store failed to start; its own error says why
            // (no D-Bus session bus, no Secret Service on it, ...).
            match (&e, keyring::Entry::store_status()) {
                (keyring::Error::NoDefaultStore, Err(why)) => Unavailable(why.to_string()),
                _ => Unavailable(e.to_string()),
            }
        })
    }
}

impl Keychain for OsKeychain {
    fn set(&self, entry: &KeychainEntry, token: &Secret) -> Result<(), Unavailable> {
        Self::open(entry)?
            .set_password(token.expose())
            .map_err(|e| Unavailable(e.to_string()))
    }

    fn get(&self, entry: &KeychainEntry) -> Result<Option<Secret>, Unavailable> {
        match Self::open(entry)?.get_password() {
            Ok(token) => Ok(Some(Secret::new(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(Unavailable(e.to_string())),
        }
    }

    fn delete(&self, entry: &KeychainEntry) -> Result<bool, Unavailable> {
        match Self::open(entry)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(Unavailable(e.to_string())),
        }
    }
}

#[cfg(test)]
pub mod fake {
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    use super::*;

    /// A keychain in memory that can be switched off, like a desktop keychain that is not
    /// reachable from an SSH session.
    #[derive(Default)]
    pub struct FakeKeychain {
        pub entries: RefCell<HashMap<(String, String), String>>,
        pub unavailable: Cell<bool>,
    }

    impl FakeKeychain {
        pub fn unavailable() -> Self {
            let k = Self::default();
            k.unavailable.set(true);
            k
        }

        fn reachable(&self) -> Result<(), Unavailable> {
            if self.unavailable.get() {
                Err(Unavailable("no D-Bus session (fake)".into()))
            } else {
                Ok(())
            }
        }

        fn key(entry: &KeychainEntry) -> (String, String) {
            (entry.service.clone(), entry.account.clone())
        }
    }

    impl Keychain for FakeKeychain {
        fn set(&self, entry: &KeychainEntry, token: &Secret) -> Result<(), Unavailable> {
            self.reachable()?;
            self.entries
                .borrow_mut()
                .insert(Self::key(entry), token.expose().to_owned());
            Ok(())
        }

        fn get(&self, entry: &KeychainEntry) -> Result<Option<Secret>, Unavailable> {
            self.reachable()?;
            Ok(self.entries.borrow().get(&Self::key(entry)).map(Secret::new))
        }

        fn delete(&self, entry: &KeychainEntry) -> Result<bool, Unavailable> {
            self.reachable()?;
            Ok(self.entries.borrow_mut().remove(&Self::key(entry)).is_some())
        }
    }
}
