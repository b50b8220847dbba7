//! `stsvend-cli token-file`: keeps `Bearer <jwt>` in a file for SDKs' container credential
//! provider (`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`), which reads it on every fetch.

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::Client;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::files::{self, PRIVATE};
use crate::session::{self, Want};
use crate::store::Store;

/// The file always holds a token with at least this much left (capped at half its lifetime),
/// so a reader never picks up one that expires before stsvend checks it.
const MAX_MARGIN: Duration = Duration::from_mins(15);
const MIN_SLEEP: Duration = Duration::from_secs(5);
/// After a failed refresh that may be transient (network), try again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// How long before expiry to refresh a token that lives `lifetime`.
pub fn margin(lifetime: time::Duration) -> Duration {
    let half = Duration::try_from(lifetime / 2).unwrap_or(Duration::ZERO);
    half.min(MAX_MARGIN)
}

/// How long to sleep after writing a token that expires at `expires_at`.
pub fn sleep_for(expires_at: OffsetDateTime, margin: Duration, now: OffsetDateTime) -> Duration {
    let until_due = expires_at - now - margin;
    Duration::try_from(until_due).unwrap_or(Duration::ZERO).max(MIN_SLEEP)
}

pub fn run(http: &Client, store: &Store<'_>, path: &Path, once: bool) -> Result<(), CliError> {
    loop {
        // The margin depends on the token's lifetime (peeked without the lock; `fresh` reads
        // the session again under it).
        let margin_now = store.load().map_or(MAX_MARGIN, |s| margin(s.lifetime()));
        let session = match session::fresh(http, store, Want::AtLeast(margin_now)) {
            Ok(s) => s,
            Err(e @ (CliError::Http { .. } | CliError::BadResponse { .. })) if !once => {
                eprintln!(
                    "stsvend-cli: refresh failed, retrying in {} s: {e}",
                    RETRY_AFTER.as_secs()
                );
                std::thread::sleep(RETRY_AFTER);
                continue;
            }
            Err(e) => return Err(e),
        };
        let contents = format!("Bearer {}", session.access_token.expose());
        files::write_atomic(path, contents.as_bytes(), PRIVATE)?;
        if once {
            return Ok(());
        }
        let nap = sleep_for(
            session.expires_at,
            margin(session.lifetime()),
            OffsetDateTime::now_utc(),
        );
        eprintln!(
            "stsvend-cli: wrote {}; next refresh in {} s",
            path.display(),
            nap.as_secs()
        );
        std::thread::sleep(nap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn long_lived_tokens_are_refreshed_fifteen_minutes_before_expiry() {
        assert_eq!(margin(time::Duration::hours(24)), Duration::from_mins(15));
    }

    #[test]
    fn short_lived_tokens_are_refreshed_at_half_life() {
        assert_eq!(margin(time::Duration::minutes(10)), Duration::from_mins(5));
        assert_eq!(margin(time::Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_loop_sleeps_until_the_refresh_is_due_but_never_spins() {
        let now = datetime!(2026-01-01 10:00 UTC);
        let expires = datetime!(2026-01-01 11:00 UTC);
        assert_eq!(
            sleep_for(expires, Duration::from_mins(15), now),
            Duration::from_mins(45)
        );
        assert_eq!(sleep_for(now, Duration::from_mins(15), now), MIN_SLEEP);
    }
}
