//! What operators do to organisations (`store/org_admin.rs`): list and look them up, the
//! members the vend audit saw, and the state changes, each appended to the change feed in its
//! own transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::SqliteStore;
use super::changes::org_changed;
use super::orgs::{ORG_COLUMNS, RawOrg, select_org_by_id};
use crate::identity::{OrgId, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::{OrgMembers, OrgQuery, OrgRecord, StoreError};

impl SqliteStore {
    pub async fn org(&self, org_id: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        let id = org_id.as_str().to_owned();
        self.run(move |c| select_org_by_id(c, &id)).await
    }

    pub async fn list_orgs(&self, q: OrgQuery) -> Result<Vec<(OrgRecord, Option<String>)>, StoreError> {
        self.flush_audit().await?;
        self.run(move |c| {
            let search = q.search.unwrap_or_default();
            let like = format!("%{}%", escape_like(&search));
            let prefix = format!("{}%", escape_like(&search));
            let raws: Vec<(RawOrg, Option<String>)> = {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {ORG_COLUMNS}, {LAST_VEND}
                     FROM orgs
                     WHERE org_id > ?1
                       AND (?2 = '' OR org_id LIKE ?3 ESCAPE '\\' OR claim LIKE ?4 ESCAPE '\\')
                     ORDER BY org_id LIMIT ?5"
                ))?;
                stmt.query_map(
                    params![q.after.unwrap_or_default(), search, prefix, like, q.limit],
                    |r| Ok((RawOrg::from_row(r)?, r.get(12)?)),
                )?
                .collect::<Result<_, _>>()?
            };
            raws.into_iter().map(|(raw, last)| Ok((raw.parse(c)?, last))).collect()
        })
        .await
    }

    pub async fn org_last_vend(&self, org_id: &OrgId) -> Result<Option<String>, StoreError> {
        self.flush_audit().await?;
        let id = org_id.as_str().to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT MAX(COALESCE(last_at, vended_at)) FROM vend_audit WHERE org_id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
    }

    pub async fn org_members(&self, org_id: &OrgId, limit: u32) -> Result<OrgMembers, StoreError> {
        self.flush_audit().await?;
        let id = org_id.as_str().to_owned();
        self.run(move |c| {
            let count: i64 = c.query_row(
                "SELECT COUNT(DISTINCT user_id) FROM vend_audit WHERE org_id = ?1",
                [&id],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT user_id FROM vend_audit WHERE org_id = ?1 ORDER BY user_id LIMIT ?2",
            )?;
            let first = stmt
                .query_map(params![id, limit], |r| r.get::<_, String>(0))?
                .map(|r| UserId::parse(&r?).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect::<Result<_, _>>()?;
            Ok(OrgMembers { count, first })
        })
        .await
    }

    pub async fn set_org_disabled(&self, org_id: &OrgId, disabled: bool) -> Result<bool, StoreError> {
        let id = *org_id;
        self.org_change(
            move |tx| {
                Ok(tx.execute(
                    "UPDATE orgs SET disabled_at = CASE WHEN ?2 THEN COALESCE(disabled_at, ?3) END, updated_at = ?3
                 WHERE org_id = ?1",
                    params![id.as_str(), disabled, format_time(now())],
                )? == 1)
            },
            id,
        )
        .await
    }

    pub async fn set_org_revoked_before(&self, org_id: &OrgId, before: OffsetDateTime) -> Result<bool, StoreError> {
        let id = *org_id;
        self.org_change(
            move |tx| {
                Ok(tx.execute(
                    // Concurrent revocations: the later cut-off wins (RFC 3339 UTC sorts as text).
                    "UPDATE orgs SET revoked_before = MAX(COALESCE(revoked_before, ''), ?2), updated_at = ?3
                 WHERE org_id = ?1",
                    params![id.as_str(), format_time(before), format_time(now())],
                )? == 1)
            },
            id,
        )
        .await
    }

    pub async fn set_member_revoked_before(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, user) = (*org_id, user_id.as_str().to_owned());
        self.org_change(
            move |tx| {
                if !org_exists(tx, &id)? {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO org_member_revocations (org_id, user_id, cut_off) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org_id, user_id) DO UPDATE SET cut_off = MAX(cut_off, excluded.cut_off)",
                    params![id.as_str(), user, format_time(before)],
                )?;
                Ok(true)
            },
            id,
        )
        .await
    }

    pub async fn delete_org(&self, org_id: &OrgId) -> Result<bool, StoreError> {
        let id = *org_id;
        self.org_change(
            move |tx| {
                let moved = tx.execute(
                    "INSERT INTO deleted_orgs (org_id, issuer, claim, bucket, prefix, created_at, deleted_at)
                 SELECT org_id, issuer, claim, bucket, prefix, created_at, ?2 FROM orgs WHERE org_id = ?1",
                    params![id.as_str(), format_time(now())],
                )?;
                tx.execute("DELETE FROM orgs WHERE org_id = ?1", [id.as_str()])?;
                tx.execute("DELETE FROM org_member_revocations WHERE org_id = ?1", [id.as_str()])?;
                Ok(moved == 1)
            },
            id,
        )
        .await
    }

    /// Runs `f` in a write transaction that also appends the org to the change feed.
    async fn org_change<F>(&self, f: F, org_id: OrgId) -> Result<bool, StoreError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<bool, StoreError> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found = f(&tx)?;
            org_changed(&tx, &org_id)?;
            tx.commit()?;
            Ok(found)
        })
        .await
    }
}

/// The org's latest hand-out (first ones and repeats alike), as a column of the org list.
const LAST_VEND: &str = "(SELECT MAX(COALESCE(v.last_at, v.vended_at)) FROM vend_audit v WHERE v.org_id = orgs.org_id)";

fn org_exists(c: &Connection, id: &OrgId) -> rusqlite::Result<bool> {
    Ok(
        c.query_row("SELECT 1 FROM orgs WHERE org_id = ?1", [id.as_str()], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// `s` matched literally by `LIKE ... ESCAPE '\\'`.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
