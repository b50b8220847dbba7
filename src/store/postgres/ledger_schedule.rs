//! Reconciliation's schedule and the largest owners on `PostgreSQL` (rules in
//! `store/ledger_schedule.rs`). A scheduled claim locks the due rows it takes and skips those
//! another replica's claim has locked, so replicas claiming at once never take one owner twice.

use super::PgStore;
use crate::identity::Owner;
use crate::store::StoreError;
use crate::store::ledger::{Totals, Usage, ms_time};
use crate::store::ledger_schedule::{OwnerKind, UsageCursor};

fn owner_of(row: &tokio_postgres::Row) -> Result<Owner, StoreError> {
    let (kind, id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    Owner::parse(&kind, &id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl PgStore {
    pub async fn schedule_owners(&self, now: i64, period: i64) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "DELETE FROM ledger_reconcile WHERE
               (owner_kind = 'user' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = owner_id))
               OR (owner_kind = 'org' AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.org_id = owner_id))",
            &[],
        )
        .await?;
        let mut added = 0;
        for (kind, table, id) in [("user", "users", "user_id"), ("org", "orgs", "org_id")] {
            added += tx
                .execute(
                    &format!(
                        "INSERT INTO ledger_reconcile (owner_kind, owner_id, due_ms, running_until_ms)
                         SELECT '{kind}', {id}, $1 + floor(random() * $2::bigint)::bigint, 0 FROM {table}
                         ON CONFLICT (owner_kind, owner_id) DO NOTHING"
                    ),
                    &[&now, &period],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    pub async fn claim_due_reconciliations(
        &self,
        now: i64,
        period: i64,
        lease: i64,
        limit: u32,
    ) -> Result<Vec<Owner>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "UPDATE ledger_reconcile r SET due_ms = $1 + $2, running_until_ms = $1 + $3
                 FROM (SELECT owner_kind, owner_id FROM ledger_reconcile
                       WHERE due_ms <= $1 AND running_until_ms <= $1
                       ORDER BY due_ms LIMIT $4 FOR UPDATE SKIP LOCKED) d
                 WHERE r.owner_kind = d.owner_kind AND r.owner_id = d.owner_id
                 RETURNING r.owner_kind, r.owner_id",
                &[&now, &period, &lease, &i64::from(limit)],
            )
            .await?;
        rows.iter().map(owner_of).collect()
    }

    pub async fn claim_reconciliation(&self, owner: &Owner, now: i64, lease: i64) -> Result<bool, StoreError> {
        let c = self.client().await?;
        // A new row is due now: the run about to start sets its next time when it ends.
        let claimed = c
            .query_opt(
                "INSERT INTO ledger_reconcile (owner_kind, owner_id, due_ms, running_until_ms)
                 VALUES ($1, $2, $3::bigint, $3::bigint + $4::bigint)
                 ON CONFLICT (owner_kind, owner_id) DO UPDATE SET running_until_ms = excluded.running_until_ms
                 WHERE ledger_reconcile.running_until_ms <= $3
                 RETURNING 1",
                &[&owner.kind(), &owner.id(), &now, &lease],
            )
            .await?;
        Ok(claimed.is_some())
    }

    pub async fn release_reconciliation(&self, owner: &Owner, next: Option<i64>) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "UPDATE ledger_reconcile SET running_until_ms = 0, due_ms = COALESCE($3, due_ms)
             WHERE owner_kind = $1 AND owner_id = $2",
            &[&owner.kind(), &owner.id(), &next],
        )
        .await?;
        Ok(())
    }

    pub async fn reconciliation_due(&self, owner: &Owner) -> Result<Option<(i64, i64)>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT due_ms, running_until_ms FROM ledger_reconcile WHERE owner_kind = $1 AND owner_id = $2",
                &[&owner.kind(), &owner.id()],
            )
            .await?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    pub async fn largest_usage(
        &self,
        kind: OwnerKind,
        after: Option<UsageCursor>,
        limit: u32,
    ) -> Result<Vec<Usage>, StoreError> {
        // The owner's current storage only: its row's bucket (and prefix) now.
        let current = match kind {
            OwnerKind::User => "JOIN users x ON x.user_id = l.owner_id AND x.bucket = l.bucket AND x.prefix = l.prefix",
            OwnerKind::Org => "JOIN orgs x ON x.org_id = l.owner_id AND x.bucket = l.bucket AND x.prefix = l.prefix",
        };
        let (after_bytes, after_id) = after.map_or((None, None), |a| (Some(a.bytes), Some(a.owner_id)));
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT l.owner_kind, l.owner_id, l.bytes, l.objects, l.as_of_ms FROM ledger_owners l {current}
                     WHERE l.owner_kind = $1
                       AND ($2::bigint IS NULL OR l.bytes < $2 OR (l.bytes = $2 AND l.owner_id > $3))
                     ORDER BY l.bytes DESC, l.owner_id LIMIT $4"
                ),
                &[&kind.as_str(), &after_bytes, &after_id, &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Usage {
                    owner: owner_of(r)?,
                    totals: Totals {
                        bytes: r.try_get(2)?,
                        objects: r.try_get(3)?,
                    },
                    as_of: ms_time(r.try_get(4)?)?,
                })
            })
            .collect()
    }
}
