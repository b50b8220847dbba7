//! The audit logs: one row per party an access key was handed to (see `store::repeats`), one
//! per admin action.

use std::sync::atomic::Ordering;

use tokio_postgres::Row;

use super::{PgStore, to_u32};
use crate::identity::UserId;
use crate::runtime::clock::{format_time, now};
use crate::store::sql;
use crate::store::{AdminAction, KeyOwner, StoreError, VendRecord};

impl PgStore {
    /// Writes the row in a transaction of its own and returns its id once it is committed.
    pub async fn record_vend(&self, v: VendRecord) -> Result<i64, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO vend_audit (user_id, access_key_id, template, expiration, vended_at, client_addr, client_id, from_cache, org_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .await?;
        let row = c
            .query_one(
                &stmt,
                &[
                    &v.user_id.as_str(),
                    &v.access_key_id,
                    &v.template,
                    &format_time(v.expiration),
                    &format_time(now()),
                    &v.client_addr,
                    &v.client_id,
                    &v.from_cache,
                    &v.org_id.as_ref().map(crate::identity::OrgId::as_str),
                ],
            )
            .await?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(row.try_get(0)?)
    }

    /// Counts one more hand-out of the key on audit row `row` to the same party. Never waits:
    /// the counts reach the database within a second (`counts`).
    pub fn note_repeat(&self, row: i64) {
        if let Some(due) = self.repeats.note(row, now())
            && let Err(back) = self.counts.try_send(due)
        {
            self.repeats.put_back(back);
        }
    }

    /// Writes the pending repeat counts and waits for their commit, after that of any counts
    /// handed to the writer earlier.
    pub async fn flush_audit(&self) -> Result<(), StoreError> {
        self.counts.write(self.repeats.take()).await
    }

    /// Vend audit rows committed since start (one transaction each).
    pub fn audit_commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Every party an access key id went to, newest first: "whose key was this?".
    pub async fn key_owner(&self, access_key_id: &str) -> Result<Vec<KeyOwner>, StoreError> {
        self.flush_audit().await?;
        let rows = self
            .client()
            .await?
            .query(&sql::key_owner("$1"), &[&access_key_id])
            .await?;
        rows.iter().map(key_owner).collect()
    }

    /// The user's most recent hand-out time.
    pub async fn last_vend(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        self.flush_audit().await?;
        let row = self
            .client()
            .await?
            .query_one(&format!("SELECT {}", sql::last_vend_of("$1")), &[&user_id.as_str()])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Distinct access key ids handed to the user, oldest first.
    pub async fn keys_of_user(&self, user_id: &UserId) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT access_key_id FROM vend_audit WHERE user_id = $1 GROUP BY access_key_id ORDER BY MIN(id)",
                &[&user_id.as_str()],
            )
            .await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// Records an admin action before it runs; [`Store::finish_admin_action`] sets its outcome.
    pub async fn record_admin_action(&self, a: AdminAction) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "INSERT INTO admin_audit (at, actor, actor_client, action, target, outcome, detail, client_addr)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &a.at,
                    &a.actor,
                    &a.actor_client,
                    &a.action,
                    &a.target,
                    &a.outcome,
                    &a.detail,
                    &a.client_addr,
                ],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn finish_admin_action(&self, id: i64, outcome: &str, detail: Option<String>) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE admin_audit SET outcome = $2, detail = COALESCE($3, detail) WHERE id = $1",
                &[&id, &outcome, &detail],
            )
            .await?;
        Ok(())
    }

    /// Admin actions, newest first, optionally only those on `target`.
    pub async fn admin_actions(&self, target: Option<String>, limit: u32) -> Result<Vec<AdminAction>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT at, actor, actor_client, action, target, outcome, detail, client_addr FROM admin_audit
                 WHERE $1::TEXT IS NULL OR target = $1 ORDER BY id DESC LIMIT $2",
                &[&target, &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AdminAction {
                    at: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    actor_client: r.try_get(2)?,
                    action: r.try_get(3)?,
                    target: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                    detail: r.try_get(6)?,
                    client_addr: r.try_get(7)?,
                })
            })
            .collect()
    }
}

fn key_owner(r: &Row) -> Result<KeyOwner, StoreError> {
    Ok(KeyOwner {
        user_id: r.try_get(0)?,
        issuer: r.try_get(1)?,
        subject: r.try_get(2)?,
        bucket: r.try_get(3)?,
        user_deleted: r.try_get(4)?,
        template: r.try_get(5)?,
        vended_at: r.try_get(6)?,
        last_at: r.try_get(7)?,
        hand_outs: to_u32(r.try_get(8)?, "hand_outs")?,
        expiration: r.try_get(9)?,
        client_addr: r.try_get(10)?,
        client_id: r.try_get(11)?,
        from_cache: r.try_get(12)?,
        prefix: r.try_get(13)?,
    })
}
