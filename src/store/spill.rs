//! The credential spill: vended keys that do not fit in the in-memory cache wait here, sealed
//! (see `sts::spill`), until they expire, so a user whose keys were evicted from memory gets
//! them back without another `AssumeRole`. Rows are only useful to the process that wrote them
//! (the sealing key lives in its memory), so start-up clears the table.
//!
//! Writes go through the audit writer, in its order: a user's rows are forgotten after any
//! earlier spill of theirs. A lost write costs one `AssumeRole` later, nothing else.

use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::identity::UserId;

/// Expired rows are deleted at most this often (with a spill write).
const PRUNE_EVERY: Duration = Duration::from_mins(1);

/// One sealed entry: the key of the cache entry it backs, its expiry and the sealed bytes.
pub struct Spilled {
    pub user_id: UserId,
    pub template: u8,
    /// Unix seconds.
    pub expires_at: i64,
    pub sealed: Vec<u8>,
}

impl Store {
    /// Queues `entry` for the writer without waiting; dropped when the queue is full.
    pub fn spill(&self, entry: Spilled) {
        let prune = {
            let mut last = self
                .spill_pruned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last.elapsed() >= PRUNE_EVERY;
            if due {
                *last = Instant::now();
            }
            due
        };
        let queued = self.audit.try_send_change(Box::new(move |tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO credential_spill (user_id, template, expires_at, sealed)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                entry.user_id.as_str(),
                entry.template,
                entry.expires_at,
                entry.sealed
            ])?;
            if prune {
                tx.prepare_cached("DELETE FROM credential_spill WHERE expires_at <= unixepoch()")?
                    .execute([])?;
            }
            Ok(())
        }));
        if !queued {
            tracing::debug!("spill queue full; entry dropped");
        }
    }

    /// The sealed entry for (user, template), if one is spilled and not expired.
    pub async fn spilled(&self, user_id: &UserId, template: u8) -> Result<Option<Spilled>, StoreError> {
        let user_id = user_id.clone();
        self.run(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT expires_at, sealed FROM credential_spill
                     WHERE user_id = ?1 AND template = ?2 AND expires_at > unixepoch()",
                )?
                .query_row(params![user_id.as_str(), template], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.map(|(expires_at, sealed)| Spilled {
                user_id,
                template,
                expires_at,
                sealed,
            }))
        })
        .await
    }

    /// Deletes every spilled entry of the user, after any spill of theirs already queued.
    pub async fn forget_spilled(&self, user_id: &UserId) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        self.audit
            .write_change(Box::new(move |tx| {
                tx.prepare_cached("DELETE FROM credential_spill WHERE user_id = ?1")?
                    .execute([id])?;
                Ok(())
            }))
            .await
    }

    /// Deletes every spilled entry (at start-up: they were sealed by another process).
    pub async fn clear_spill(&self) -> Result<(), StoreError> {
        self.audit
            .write_change(Box::new(|tx| {
                tx.execute("DELETE FROM credential_spill", [])?;
                Ok(())
            }))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &UserId, template: u8, expires_at: i64, sealed: &[u8]) -> Spilled {
        Spilled {
            user_id: user.clone(),
            template,
            expires_at,
            sealed: sealed.to_vec(),
        }
    }

    /// Waits until the spills queued so far are committed (a waited-for change runs after them).
    async fn settle(store: &Store) {
        store
            .forget_spilled(&UserId::derive("https://i/", "nobody"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn spilled_entries_come_back_until_they_expire_or_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let (a, b) = (UserId::derive("https://i/", "a"), UserId::derive("https://i/", "b"));
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        store.spill(entry(&a, 0, later, b"a0"));
        store.spill(entry(&a, 1, later, b"a1"));
        store.spill(entry(&b, 0, later - 1200, b"expired"));
        settle(&store).await;

        assert_eq!(store.spilled(&a, 0).await.unwrap().unwrap().sealed, b"a0");
        assert_eq!(store.spilled(&a, 1).await.unwrap().unwrap().expires_at, later);
        assert!(
            store.spilled(&b, 0).await.unwrap().is_none(),
            "expired rows are not served"
        );
        store.spill(entry(&a, 0, later, b"a0 again"));
        settle(&store).await;
        assert_eq!(store.spilled(&a, 0).await.unwrap().unwrap().sealed, b"a0 again");

        store.forget_spilled(&a).await.unwrap();
        assert!(store.spilled(&a, 0).await.unwrap().is_none());
        assert!(store.spilled(&a, 1).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_spill_queued_before_forgetting_the_user_does_not_survive_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let a = UserId::derive("https://i/", "a");
        let later = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
        store.spill(entry(&a, 0, later, b"a0"));
        store.forget_spilled(&a).await.unwrap();
        assert!(store.spilled(&a, 0).await.unwrap().is_none());
        store.spill(entry(&a, 0, later, b"a0"));
        store.clear_spill().await.unwrap();
        assert!(store.spilled(&a, 0).await.unwrap().is_none());
    }
}
