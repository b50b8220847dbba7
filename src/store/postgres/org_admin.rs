//! What operators do to organisations (`store/org_admin.rs`): list and look them up, the
//! members the vend audit saw, and the state changes, each appended to the change feed in its
//! own transaction.

use time::OffsetDateTime;

use super::PgStore;
use super::changes::org_changed;
use super::orgs::{ORG_COLUMNS, parse_org, select_org_by_id};
use crate::identity::{OrgId, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::{OrgMembers, OrgQuery, OrgRecord, StoreError};

/// The org's latest hand-out (first ones and repeats alike), as a column of the org list.
const LAST_VEND: &str = "(SELECT MAX(COALESCE(v.last_at, v.vended_at)) FROM vend_audit v WHERE v.org_id = orgs.org_id)";

impl PgStore {
    pub async fn org(&self, org_id: &OrgId) -> Result<Option<OrgRecord>, StoreError> {
        select_org_by_id(&*self.client().await?, org_id.as_str()).await
    }

    pub async fn list_orgs(&self, q: OrgQuery) -> Result<Vec<(OrgRecord, Option<String>)>, StoreError> {
        self.flush_audit().await?;
        let search = q.search.unwrap_or_default();
        let like = format!("%{}%", escape_like(&search));
        let prefix = format!("{}%", escape_like(&search));
        let c = self.client().await?;
        // ILIKE: `SQLite`'s LIKE ignores ASCII case, and both backends must find the same orgs.
        let rows = c
            .query(
                &format!(
                    "SELECT {ORG_COLUMNS}, {LAST_VEND}
                     FROM orgs
                     WHERE org_id > $1
                       AND ($2 = '' OR org_id ILIKE $3 ESCAPE '\\' OR claim ILIKE $4 ESCAPE '\\')
                     ORDER BY org_id LIMIT $5"
                ),
                &[
                    &q.after.unwrap_or_default(),
                    &search,
                    &prefix,
                    &like,
                    &i64::from(q.limit),
                ],
            )
            .await?;
        let mut orgs = Vec::with_capacity(rows.len());
        for r in &rows {
            orgs.push((parse_org(&c, r).await?, r.try_get::<_, Option<String>>(12)?));
        }
        Ok(orgs)
    }

    pub async fn org_last_vend(&self, org_id: &OrgId) -> Result<Option<String>, StoreError> {
        self.flush_audit().await?;
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT MAX(COALESCE(last_at, vended_at)) FROM vend_audit WHERE org_id = $1",
                &[&org_id.as_str()],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    pub async fn org_members(&self, org_id: &OrgId, limit: u32) -> Result<OrgMembers, StoreError> {
        self.flush_audit().await?;
        let c = self.client().await?;
        let count: i64 = c
            .query_one(
                "SELECT COUNT(DISTINCT user_id) FROM vend_audit WHERE org_id = $1",
                &[&org_id.as_str()],
            )
            .await?
            .try_get(0)?;
        let first = c
            .query(
                "SELECT DISTINCT user_id FROM vend_audit WHERE org_id = $1 ORDER BY user_id LIMIT $2",
                &[&org_id.as_str(), &i64::from(limit)],
            )
            .await?
            .iter()
            .map(|r| UserId::parse(r.try_get(0)?).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(OrgMembers { count, first })
    }

    pub async fn set_org_disabled(&self, org_id: &OrgId, disabled: bool) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "UPDATE orgs SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) END, updated_at = $3
                 WHERE org_id = $1",
                &[&org_id.as_str(), &disabled, &format_time(now())],
            )
            .await?;
        org_changed(&tx, org_id).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn set_org_revoked_before(&self, org_id: &OrgId, before: OffsetDateTime) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                // Concurrent revocations: the later cut-off wins (RFC 3339 UTC sorts as text).
                "UPDATE orgs SET revoked_before = GREATEST(COALESCE(revoked_before, ''), $2), updated_at = $3
                 WHERE org_id = $1",
                &[&org_id.as_str(), &format_time(before), &format_time(now())],
            )
            .await?;
        org_changed(&tx, org_id).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn set_member_revoked_before(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let exists = tx
            .query_opt("SELECT 1 FROM orgs WHERE org_id = $1", &[&org_id.as_str()])
            .await?
            .is_some();
        if exists {
            tx.execute(
                "INSERT INTO org_member_revocations (org_id, user_id, cut_off) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id, user_id) DO UPDATE
                 SET cut_off = GREATEST(org_member_revocations.cut_off, excluded.cut_off)",
                &[&org_id.as_str(), &user_id.as_str(), &format_time(before)],
            )
            .await?;
        }
        org_changed(&tx, org_id).await?;
        tx.commit().await?;
        Ok(exists)
    }

    pub async fn delete_org(&self, org_id: &OrgId) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let moved = tx
            .execute(
                "INSERT INTO deleted_orgs (org_id, issuer, claim, bucket, prefix, created_at, deleted_at)
                 SELECT org_id, issuer, claim, bucket, prefix, created_at, $2 FROM orgs WHERE org_id = $1",
                &[&org_id.as_str(), &format_time(now())],
            )
            .await?;
        tx.execute("DELETE FROM orgs WHERE org_id = $1", &[&org_id.as_str()])
            .await?;
        tx.execute(
            "DELETE FROM org_member_revocations WHERE org_id = $1",
            &[&org_id.as_str()],
        )
        .await?;
        org_changed(&tx, org_id).await?;
        tx.commit().await?;
        Ok(moved == 1)
    }
}

/// `s` matched literally by `LIKE ... ESCAPE '\\'`.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
