//! The change feed (`user_changes`): which users and organisations changed, in commit order.
//! Written by the state-changing statements in `users` and `org_admin` in their own
//! transactions; read by every process's coherence poll (`vend::coherence`).

use rusqlite::params;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::identity::OrgId;
use crate::store::{Change, StoreError};

/// Appends the organisation to the change feed, inside the transaction that changed it. The
/// row's `user_id` holds the org id's random part (migration 14 says why).
pub(super) fn org_changed(tx: &rusqlite::Transaction<'_>, org_id: &OrgId) -> rusqlite::Result<()> {
    let id = org_id.as_str();
    tx.prepare_cached("INSERT INTO user_changes (user_id, org_id, at) VALUES (?1, ?2, unixepoch())")?
        .execute([&id[1..], id])?;
    Ok(())
}

impl SqliteStore {
    /// The newest change's sequence number; 0 when the feed is empty.
    pub async fn latest_change(&self) -> Result<i64, StoreError> {
        self.run(|c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM user_changes", [], |r| r.get(0))?))
            .await
    }

    /// The oldest change still kept; 0 when the feed is empty.
    pub async fn oldest_change(&self) -> Result<i64, StoreError> {
        self.run(|c| Ok(c.query_row("SELECT COALESCE(MIN(seq), 0) FROM user_changes", [], |r| r.get(0))?))
            .await
    }

    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn changes_since(&self, seq: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        self.run(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT seq, user_id, org_id FROM user_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
            let rows = stmt.query_map(params![seq, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            rows.map(|r| {
                let (seq, user, org) = r?;
                Change::parse(seq, &user, org.as_deref())
            })
            .collect()
        })
        .await
    }

    /// Deletes changes recorded before `before` (the newest one is always kept, so the
    /// sequence never restarts).
    pub async fn prune_changes(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = before.unix_timestamp();
        self.run(move |c| {
            let n = c.execute(
                "DELETE FROM user_changes WHERE at < ?1 AND seq < (SELECT MAX(seq) FROM user_changes)",
                [before],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
