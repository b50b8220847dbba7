//! The change feed (`user_changes`): which users and organisations changed, in commit order.
//! Written by the state-changing statements in `users` and `org_admin` in their own
//! transactions; read by every process's coherence poll (`vend::coherence`).

use rusqlite::params;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::identity::{OrgId, Owner};
use crate::store::{Change, StoreError};

/// Appends the organisation to the change feed, inside the transaction that changed it. The
/// row's `user_id` holds the org id's random part (migration 14 says why).
pub(super) fn org_changed(tx: &rusqlite::Transaction<'_>, org_id: &OrgId) -> rusqlite::Result<()> {
    let id = org_id.as_str();
    tx.prepare_cached("INSERT INTO user_changes (user_id, org_id, at) VALUES (?1, ?2, unixepoch())")?
        .execute([&id[1..], id])?;
    Ok(())
}

/// Appends an owner's quota (override or state) to the change feed, inside the transaction
/// that changed it; `user_id` and `org_id` as for the owner's own changes (migration 15).
pub(super) fn quota_changed(tx: &rusqlite::Transaction<'_>, owner: &Owner) -> rusqlite::Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT INTO user_changes (user_id, org_id, quota, at) VALUES (?1, ?2, 1, unixepoch())")?;
    match owner {
        Owner::User(u) => insert.execute(rusqlite::params![u.as_str(), None::<String>])?,
        Owner::Org(o) => insert.execute(rusqlite::params![&o.as_str()[1..], o.as_str()])?,
    };
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
            let mut stmt = c.prepare_cached(
                "SELECT seq, user_id, org_id, quota FROM user_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![seq, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?;
            rows.map(|r| {
                let (seq, user, org, quota) = r?;
                Change::parse(seq, &user, org.as_deref(), quota)
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
