//! `stsvend-cli logout`: forgets the session, wherever its refresh token was kept.

use crate::error::CliError;
use crate::store::{Removed, Store};

pub fn run(store: &Store<'_>) -> Result<(), CliError> {
    let removed = store.remove()?;
    let message = match removed {
        Removed {
            file: false,
            keychain: false,
        } => format!(
            "Not logged in (no session in {}); nothing to remove",
            store.path().display()
        ),
        Removed { file, keychain } => {
            let mut parts = Vec::new();
            if file {
                parts.push(format!("removed {}", store.path().display()));
            }
            if keychain {
                parts.push("removed the refresh token from the OS keychain".to_owned());
            }
            format!("Logged out: {}", parts.join(" and "))
        }
    };
    eprintln!("{message}");
    Ok(())
}
