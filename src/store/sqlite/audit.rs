//! The audit logs: one row per party an access key was handed to (see `repeats`), one per
//! admin action.

use rusqlite::params;

use super::SqliteStore;
use crate::identity::UserId;
use crate::store::sql;
use crate::store::{AdminAction, KeyOwner, StoreError, VendRecord};

impl SqliteStore {
    /// Writes the row and returns its id once it is committed (batched with the rows of
    /// concurrent vends; see `audit_writer`).
    pub async fn record_vend(&self, v: VendRecord) -> Result<i64, StoreError> {
        self.audit.write(v).await
    }

    /// Counts one more hand-out of the key on audit row `row` to the same party. Never waits:
    /// the counts reach the database within a second (`repeats`).
    pub fn note_repeat(&self, row: i64) {
        if let Some(due) = self.repeats.note(row, crate::runtime::clock::now())
            && let Err(back) = self.audit.try_send_counts(due)
        {
            self.repeats.put_back(back);
        }
    }

    /// Writes the pending repeat counts and waits for their commit (reads of the audit do
    /// this first; so does shutdown).
    pub async fn flush_audit(&self) -> Result<(), StoreError> {
        // Even with nothing pending here: counts handed to the writer earlier without waiting
        // are in its queue, and the writer's order makes this commit come after theirs.
        self.audit.write_counts(self.repeats.take()).await
    }

    /// Audit transactions committed since start (each holds one or more vends' rows).
    pub fn audit_commits(&self) -> u64 {
        self.audit.commits()
    }

    /// Every party an access key id went to, newest first: "whose key was this?".
    pub async fn key_owner(&self, access_key_id: &str) -> Result<Vec<KeyOwner>, StoreError> {
        self.flush_audit().await?;
        let key = access_key_id.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&sql::key_owner("?1"))?;
            let rows = stmt.query_map([key], |r| {
                Ok(KeyOwner {
                    user_id: r.get(0)?,
                    issuer: r.get(1)?,
                    subject: r.get(2)?,
                    bucket: r.get(3)?,
                    user_deleted: r.get(4)?,
                    template: r.get(5)?,
                    vended_at: r.get(6)?,
                    last_at: r.get(7)?,
                    hand_outs: r.get(8)?,
                    expiration: r.get(9)?,
                    client_addr: r.get(10)?,
                    client_id: r.get(11)?,
                    from_cache: r.get(12)?,
                    prefix: r.get(13)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The user's most recent hand-out time.
    pub async fn last_vend(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        self.flush_audit().await?;
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {}", sql::last_vend_of("?1")))?
                .query_row([id], |r| r.get(0))?)
        })
        .await
    }

    /// Distinct access key ids handed to the user, oldest first.
    pub async fn keys_of_user(&self, user_id: &UserId) -> Result<Vec<String>, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT access_key_id FROM vend_audit WHERE user_id = ?1 GROUP BY access_key_id ORDER BY MIN(id)",
            )?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Records an admin action before it runs; [`Store::finish_admin_action`] sets its outcome.
    pub async fn record_admin_action(&self, a: AdminAction) -> Result<i64, StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO admin_audit (at, actor, actor_client, action, target, outcome, detail, client_addr)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                a.at,
                a.actor,
                a.actor_client,
                a.action,
                a.target,
                a.outcome,
                a.detail,
                a.client_addr
            ])?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    pub async fn finish_admin_action(&self, id: i64, outcome: &str, detail: Option<String>) -> Result<(), StoreError> {
        let outcome = outcome.to_owned();
        self.run(move |c| {
            c.prepare_cached("UPDATE admin_audit SET outcome = ?2, detail = COALESCE(?3, detail) WHERE id = ?1")?
                .execute(params![id, outcome, detail])?;
            Ok(())
        })
        .await
    }

    /// Admin actions, newest first, optionally only those on `target`.
    pub async fn admin_actions(&self, target: Option<String>, limit: u32) -> Result<Vec<AdminAction>, StoreError> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, actor, actor_client, action, target, outcome, detail, client_addr FROM admin_audit
                 WHERE ?1 IS NULL OR target = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![target, limit], |r| {
                Ok(AdminAction {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    actor_client: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    outcome: r.get(5)?,
                    detail: r.get(6)?,
                    client_addr: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
