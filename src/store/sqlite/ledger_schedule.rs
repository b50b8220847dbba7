//! Reconciliation's schedule and the largest owners on `SQLite` (rules in
//! `store/ledger_schedule.rs`). Every claim is one write statement: `SQLite`'s single writer
//! makes it atomic across processes sharing the file.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::identity::Owner;
use crate::store::StoreError;
use crate::store::ledger::{Totals, Usage, ms_time};
use crate::store::ledger_schedule::{OwnerKind, UsageCursor};

fn owner_of(kind: &str, id: &str) -> Result<Owner, StoreError> {
    Owner::parse(kind, id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    pub async fn schedule_owners(&self, now: i64, period: i64) -> Result<u64, StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM ledger_reconcile WHERE
                   (owner_kind = 'user' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = owner_id))
                   OR (owner_kind = 'org' AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.org_id = owner_id))",
                [],
            )?;
            let mut added = 0;
            for (kind, table, id) in [("user", "users", "user_id"), ("org", "orgs", "org_id")] {
                added += tx.execute(
                    &format!(
                        "INSERT INTO ledger_reconcile (owner_kind, owner_id, due_ms, running_until_ms)
                         SELECT '{kind}', {id}, ?1 + abs(random() % ?2), 0 FROM {table} WHERE true
                         ON CONFLICT (owner_kind, owner_id) DO NOTHING"
                    ),
                    params![now, period],
                )?;
            }
            tx.commit()?;
            Ok(u64::try_from(added).unwrap_or(u64::MAX))
        })
        .await
    }

    pub async fn claim_due_reconciliations(
        &self,
        now: i64,
        period: i64,
        lease: i64,
        limit: u32,
    ) -> Result<Vec<Owner>, StoreError> {
        self.run(move |c| {
            let mut claim = c.prepare_cached(
                "UPDATE ledger_reconcile SET due_ms = ?1 + ?2, running_until_ms = ?1 + ?3
                 WHERE (owner_kind, owner_id) IN (
                     SELECT owner_kind, owner_id FROM ledger_reconcile
                     WHERE due_ms <= ?1 AND running_until_ms <= ?1 ORDER BY due_ms LIMIT ?4)
                 RETURNING owner_kind, owner_id",
            )?;
            let rows = claim.query_map(params![now, period, lease, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut owners = Vec::new();
            for row in rows {
                let (kind, id) = row?;
                owners.push(owner_of(&kind, &id)?);
            }
            Ok(owners)
        })
        .await
    }

    pub async fn claim_reconciliation(&self, owner: &Owner, now: i64, lease: i64) -> Result<bool, StoreError> {
        let owner = owner.clone();
        self.run(move |c| {
            // A new row is due now: the run about to start sets its next time when it ends.
            let claimed = c
                .prepare_cached(
                    "INSERT INTO ledger_reconcile (owner_kind, owner_id, due_ms, running_until_ms)
                     VALUES (?1, ?2, ?3, ?3 + ?4)
                     ON CONFLICT (owner_kind, owner_id) DO UPDATE SET running_until_ms = excluded.running_until_ms
                     WHERE ledger_reconcile.running_until_ms <= ?3
                     RETURNING 1",
                )?
                .query_row(params![owner.kind(), owner.id(), now, lease], |r| r.get::<_, i64>(0))
                .optional()?;
            Ok(claimed.is_some())
        })
        .await
    }

    pub async fn release_reconciliation(&self, owner: &Owner, next: Option<i64>) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE ledger_reconcile SET running_until_ms = 0, due_ms = COALESCE(?3, due_ms)
                 WHERE owner_kind = ?1 AND owner_id = ?2",
            )?
            .execute(params![owner.kind(), owner.id(), next])?;
            Ok(())
        })
        .await
    }

    pub async fn reconciliation_due(&self, owner: &Owner) -> Result<Option<(i64, i64)>, StoreError> {
        let owner = owner.clone();
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT due_ms, running_until_ms FROM ledger_reconcile WHERE owner_kind = ?1 AND owner_id = ?2",
            )?
            .query_row(params![owner.kind(), owner.id()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
        })
        .await
    }

    pub async fn largest_usage(
        &self,
        kind: OwnerKind,
        after: Option<UsageCursor>,
        limit: u32,
    ) -> Result<Vec<Usage>, StoreError> {
        self.run(move |c| {
            // The owner's current storage only: its row's bucket (and prefix) now.
            let current = match kind {
                OwnerKind::User => {
                    "JOIN users x ON x.user_id = l.owner_id AND x.bucket = l.bucket AND x.prefix = l.prefix"
                }
                OwnerKind::Org => {
                    "JOIN orgs x ON x.org_id = l.owner_id AND x.bucket = l.bucket AND x.prefix = l.prefix"
                }
            };
            let (after_bytes, after_id) = after.map_or((None, None), |a| (Some(a.bytes), Some(a.owner_id)));
            let mut q = c.prepare_cached(&format!(
                "SELECT l.owner_kind, l.owner_id, l.bytes, l.objects, l.as_of_ms FROM ledger_owners l {current}
                 WHERE l.owner_kind = ?1
                   AND (?2 IS NULL OR l.bytes < ?2 OR (l.bytes = ?2 AND l.owner_id > ?3))
                 ORDER BY l.bytes DESC, l.owner_id LIMIT ?4"
            ))?;
            let rows = q.query_map(params![kind.as_str(), after_bytes, after_id, limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (k, id, bytes, objects, as_of) = row?;
                out.push(Usage {
                    owner: owner_of(&k, &id)?,
                    totals: Totals { bytes, objects },
                    as_of: ms_time(as_of)?,
                });
            }
            Ok(out)
        })
        .await
    }
}
