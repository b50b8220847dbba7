//! Quota overrides and states on `PostgreSQL` (`store/quota.rs`). An evaluation takes a
//! transaction-scoped advisory lock on the owner (two replicas evaluating one owner take
//! turns), then the ledger's row lock on the storage's totals (so it reads totals no older
//! than any batch committed before it).

use tokio_postgres::Row;

use super::PgStore;
use super::changes::quota_changed;
use crate::identity::{BucketName, Owner, OwnerStorage};
use crate::runtime::clock::{format_time, now};
use crate::store::StoreError;
use crate::store::ledger::{Totals, event_ms};
use crate::store::quota::{
    Evaluated, QuotaLevel, QuotaLimits, QuotaState, RawState, STATE_COLUMNS, limit_of, stored_limit,
};

fn raw_state(r: &Row) -> Result<RawState, StoreError> {
    Ok(RawState {
        kind: r.try_get(0)?,
        id: r.try_get(1)?,
        level: r.try_get(2)?,
        bucket: r.try_get(3)?,
        prefix: r.try_get(4)?,
        bytes: r.try_get(5)?,
        objects: r.try_get(6)?,
        as_of_ms: r.try_get(7)?,
        since_ms: r.try_get(8)?,
    })
}

impl PgStore {
    pub async fn quota_overrides(&self) -> Result<Vec<(Owner, QuotaLimits)>, StoreError> {
        self.client()
            .await?
            .query("SELECT owner_kind, owner_id, bytes, objects FROM quota_overrides", &[])
            .await?
            .iter()
            .map(|r| {
                let owner =
                    Owner::parse(r.try_get(0)?, r.try_get(1)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((
                    owner,
                    QuotaLimits {
                        bytes: limit_of(r.try_get(2)?),
                        objects: limit_of(r.try_get(3)?),
                    },
                ))
            })
            .collect()
    }

    pub async fn quota_override(&self, owner: &Owner) -> Result<Option<QuotaLimits>, StoreError> {
        self.client()
            .await?
            .query_opt(
                "SELECT bytes, objects FROM quota_overrides WHERE owner_kind = $1 AND owner_id = $2",
                &[&owner.kind(), &owner.id()],
            )
            .await?
            .map(|r| {
                Ok(QuotaLimits {
                    bytes: limit_of(r.try_get(0)?),
                    objects: limit_of(r.try_get(1)?),
                })
            })
            .transpose()
    }

    pub async fn set_quota_override(&self, owner: &Owner, limits: Option<QuotaLimits>) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        match limits {
            Some(l) => {
                tx.execute(
                    "INSERT INTO quota_overrides (owner_kind, owner_id, bytes, objects, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (owner_kind, owner_id) DO UPDATE SET
                         bytes = excluded.bytes, objects = excluded.objects, updated_at = excluded.updated_at",
                    &[
                        &owner.kind(),
                        &owner.id(),
                        &stored_limit(l.bytes),
                        &stored_limit(l.objects),
                        &format_time(now()),
                    ],
                )
                .await?
            }
            None => {
                tx.execute(
                    "DELETE FROM quota_overrides WHERE owner_kind = $1 AND owner_id = $2",
                    &[&owner.kind(), &owner.id()],
                )
                .await?
            }
        };
        quota_changed(&tx, owner).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every state row, or `owner`'s.
    pub async fn quota_states(&self, owner: Option<&Owner>) -> Result<Vec<QuotaState>, StoreError> {
        let c = self.client().await?;
        let rows = match owner {
            Some(o) => {
                c.query(
                    &format!("SELECT {STATE_COLUMNS} FROM quota_states WHERE owner_kind = $1 AND owner_id = $2"),
                    &[&o.kind(), &o.id()],
                )
                .await?
            }
            None => {
                c.query(&format!("SELECT {STATE_COLUMNS} FROM quota_states"), &[])
                    .await?
            }
        };
        rows.iter().map(|r| raw_state(r)?.parse()).collect()
    }

    pub async fn evaluate_quota(&self, storage: &OwnerStorage, limits: QuotaLimits) -> Result<Evaluated, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let (kind, id) = (storage.owner.kind(), storage.owner.id());
        let (bucket, prefix) = (storage.bucket.as_str(), storage.prefix.as_str());
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("stsvend-quota/{kind}/{id}")],
        )
        .await?;
        let now_ms = event_ms(now());
        let (usage, as_of_ms) = match tx
            .query_opt(
                "SELECT bytes, objects, as_of_ms FROM ledger_owners WHERE bucket = $1 AND prefix = $2 FOR UPDATE",
                &[&bucket, &prefix],
            )
            .await?
        {
            Some(r) => {
                let as_of: i64 = r.try_get(2)?;
                (
                    Totals {
                        bytes: r.try_get(0)?,
                        objects: r.try_get(1)?,
                    },
                    if as_of == 0 { now_ms } else { as_of },
                )
            }
            None => (Totals::default(), now_ms),
        };
        let held = tx
            .query_opt(
                "SELECT level, bucket, prefix FROM quota_states WHERE owner_kind = $1 AND owner_id = $2",
                &[&kind, &id],
            )
            .await?;
        let before = held
            .as_ref()
            .map(|r| {
                r.try_get::<_, &str>(0)
                    .map_err(StoreError::from)
                    .and_then(QuotaLevel::parse)
            })
            .transpose()?;
        let same_storage = match &held {
            Some(r) => r.try_get::<_, &str>(1)? == bucket && r.try_get::<_, &str>(2)? == prefix,
            None => false,
        };
        let after = limits.level(usage);
        if before == after && (after.is_none() || same_storage) {
            return Ok(Evaluated { before, after, usage });
        }
        match after {
            Some(level) => {
                tx.execute(
                    "INSERT INTO quota_states (owner_kind, owner_id, level, bucket, prefix, bytes, objects, as_of_ms, since_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (owner_kind, owner_id) DO UPDATE SET
                         level = excluded.level, bucket = excluded.bucket, prefix = excluded.prefix,
                         bytes = excluded.bytes, objects = excluded.objects, as_of_ms = excluded.as_of_ms,
                         since_ms = excluded.since_ms",
                    &[
                        &kind,
                        &id,
                        &level.as_str(),
                        &bucket,
                        &prefix,
                        &usage.bytes,
                        &usage.objects,
                        &as_of_ms,
                        &now_ms,
                    ],
                )
                .await?
            }
            None => {
                tx.execute(
                    "DELETE FROM quota_states WHERE owner_kind = $1 AND owner_id = $2",
                    &[&kind, &id],
                )
                .await?
            }
        };
        quota_changed(&tx, &storage.owner).await?;
        tx.commit().await?;
        Ok(Evaluated { before, after, usage })
    }

    pub async fn over_quota_in_bucket(&self, bucket: &BucketName) -> Result<Vec<OwnerStorage>, StoreError> {
        self.client()
            .await?
            .query(
                &format!(
                    "SELECT {STATE_COLUMNS} FROM quota_states WHERE bucket = $1 AND level = 'over'
                     ORDER BY owner_kind, owner_id"
                ),
                &[&bucket.as_str()],
            )
            .await?
            .iter()
            .map(|r| Ok(raw_state(r)?.parse()?.storage))
            .collect()
    }

    pub async fn storages_at_least(
        &self,
        user: QuotaLimits,
        org: QuotaLimits,
    ) -> Result<Vec<OwnerStorage>, StoreError> {
        // A NULL bound compares to nothing: that measure is not asked for.
        self.client()
            .await?
            .query(
                "SELECT owner_kind, owner_id, bucket, prefix FROM ledger_owners
                 WHERE (owner_kind = 'user' AND (bytes >= $1 OR objects >= $2))
                    OR (owner_kind = 'org' AND (bytes >= $3 OR objects >= $4))",
                &[
                    &stored_limit(user.bytes),
                    &stored_limit(user.objects),
                    &stored_limit(org.bytes),
                    &stored_limit(org.objects),
                ],
            )
            .await?
            .iter()
            .map(|r| {
                let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
                Ok(OwnerStorage {
                    owner: Owner::parse(r.try_get(0)?, r.try_get(1)?).map_err(corrupt)?,
                    bucket: BucketName::parse(r.try_get(2)?).map_err(corrupt)?,
                    prefix: r.try_get(3)?,
                })
            })
            .collect()
    }
}
