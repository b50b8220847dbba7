//! Quota overrides and states on `SQLite` (`store/quota.rs`). Its single writer
//! (`BEGIN IMMEDIATE`) serializes an evaluation with the ledger's batches.

use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use super::changes::quota_changed;
use crate::identity::{BucketName, Owner, OwnerStorage};
use crate::runtime::clock::{format_time, now};
use crate::store::StoreError;
use crate::store::ledger::{Totals, event_ms};
use crate::store::quota::{
    Evaluated, QuotaLevel, QuotaLimits, QuotaState, RawState, STATE_COLUMNS, limit_of, stored_limit,
};

fn raw_state(r: &Row<'_>) -> rusqlite::Result<RawState> {
    Ok(RawState {
        kind: r.get(0)?,
        id: r.get(1)?,
        level: r.get(2)?,
        bucket: r.get(3)?,
        prefix: r.get(4)?,
        bytes: r.get(5)?,
        objects: r.get(6)?,
        as_of_ms: r.get(7)?,
        since_ms: r.get(8)?,
    })
}

fn owner_of(kind: &str, id: &str) -> Result<Owner, StoreError> {
    Owner::parse(kind, id).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    pub async fn quota_overrides(&self) -> Result<Vec<(Owner, QuotaLimits)>, StoreError> {
        self.run(|c| {
            let mut stmt = c.prepare_cached("SELECT owner_kind, owner_id, bytes, objects FROM quota_overrides")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?;
            rows.map(|r| {
                let (kind, id, bytes, objects) = r?;
                Ok((
                    owner_of(&kind, &id)?,
                    QuotaLimits {
                        bytes: limit_of(bytes),
                        objects: limit_of(objects),
                    },
                ))
            })
            .collect()
        })
        .await
    }

    pub async fn quota_override(&self, owner: &Owner) -> Result<Option<QuotaLimits>, StoreError> {
        let (kind, id) = (owner.kind(), owner.id().to_owned());
        self.run(move |c| {
            Ok(
                c.prepare_cached("SELECT bytes, objects FROM quota_overrides WHERE owner_kind = ?1 AND owner_id = ?2")?
                    .query_row(params![kind, id], |r| {
                        Ok(QuotaLimits {
                            bytes: limit_of(r.get(0)?),
                            objects: limit_of(r.get(1)?),
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }

    pub async fn set_quota_override(&self, owner: &Owner, limits: Option<QuotaLimits>) -> Result<(), StoreError> {
        let owner = owner.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match limits {
                Some(l) => tx.execute(
                    "INSERT INTO quota_overrides (owner_kind, owner_id, bytes, objects, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (owner_kind, owner_id) DO UPDATE SET
                         bytes = excluded.bytes, objects = excluded.objects, updated_at = excluded.updated_at",
                    params![
                        owner.kind(),
                        owner.id(),
                        stored_limit(l.bytes),
                        stored_limit(l.objects),
                        format_time(now())
                    ],
                )?,
                None => tx.execute(
                    "DELETE FROM quota_overrides WHERE owner_kind = ?1 AND owner_id = ?2",
                    params![owner.kind(), owner.id()],
                )?,
            };
            quota_changed(&tx, &owner)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Every state row, or `owner`'s.
    pub async fn quota_states(&self, owner: Option<&Owner>) -> Result<Vec<QuotaState>, StoreError> {
        let owner = owner.map(|o| (o.kind(), o.id().to_owned()));
        self.run(move |c| {
            let raws: Vec<RawState> = match owner {
                Some((kind, id)) => c
                    .prepare_cached(&format!(
                        "SELECT {STATE_COLUMNS} FROM quota_states WHERE owner_kind = ?1 AND owner_id = ?2"
                    ))?
                    .query_map(params![kind, id], raw_state)?
                    .collect::<Result<_, _>>()?,
                None => c
                    .prepare_cached(&format!("SELECT {STATE_COLUMNS} FROM quota_states"))?
                    .query_map([], raw_state)?
                    .collect::<Result<_, _>>()?,
            };
            raws.into_iter().map(RawState::parse).collect()
        })
        .await
    }

    pub async fn evaluate_quota(&self, storage: &OwnerStorage, limits: QuotaLimits) -> Result<Evaluated, StoreError> {
        let storage = storage.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (bucket, prefix) = (storage.bucket.as_str(), storage.prefix.as_str());
            let now_ms = event_ms(now());
            let (usage, as_of_ms) = tx
                .prepare_cached("SELECT bytes, objects, as_of_ms FROM ledger_owners WHERE bucket = ?1 AND prefix = ?2")?
                .query_row(params![bucket, prefix], |r| {
                    Ok((
                        Totals {
                            bytes: r.get(0)?,
                            objects: r.get(1)?,
                        },
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?
                .map_or((Totals::default(), now_ms), |(t, at)| (t, if at == 0 { now_ms } else { at }));
            let (kind, id) = (storage.owner.kind(), storage.owner.id());
            let held: Option<(String, String, String)> = tx
                .prepare_cached(
                    "SELECT level, bucket, prefix FROM quota_states WHERE owner_kind = ?1 AND owner_id = ?2",
                )?
                .query_row(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let before = held.as_ref().map(|(l, _, _)| QuotaLevel::parse(l)).transpose()?;
            let after = limits.level(usage);
            let same_storage = held.as_ref().is_some_and(|(_, b, p)| b == bucket && p == prefix);
            if before == after && (after.is_none() || same_storage) {
                return Ok(Evaluated { before, after, usage });
            }
            match after {
                Some(level) => tx.execute(
                    "INSERT INTO quota_states (owner_kind, owner_id, level, bucket, prefix, bytes, objects, as_of_ms, since_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (owner_kind, owner_id) DO UPDATE SET
                         level = excluded.level, bucket = excluded.bucket, prefix = excluded.prefix,
                         bytes = excluded.bytes, objects = excluded.objects, as_of_ms = excluded.as_of_ms,
                         since_ms = excluded.since_ms",
                    params![kind, id, level.as_str(), bucket, prefix, usage.bytes, usage.objects, as_of_ms, now_ms],
                )?,
                None => tx.execute(
                    "DELETE FROM quota_states WHERE owner_kind = ?1 AND owner_id = ?2",
                    params![kind, id],
                )?,
            };
            quota_changed(&tx, &storage.owner)?;
            tx.commit()?;
            Ok(Evaluated { before, after, usage })
        })
        .await
    }

    pub async fn over_quota_in_bucket(&self, bucket: &BucketName) -> Result<Vec<OwnerStorage>, StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            let raws: Vec<RawState> = c
                .prepare_cached(&format!(
                    "SELECT {STATE_COLUMNS} FROM quota_states WHERE bucket = ?1 AND level = 'over'
                     ORDER BY owner_kind, owner_id"
                ))?
                .query_map([bucket], raw_state)?
                .collect::<Result<_, _>>()?;
            raws.into_iter().map(|r| Ok(r.parse()?.storage)).collect()
        })
        .await
    }

    pub async fn storages_at_least(
        &self,
        user: QuotaLimits,
        org: QuotaLimits,
    ) -> Result<Vec<OwnerStorage>, StoreError> {
        self.run(move |c| {
            let raws: Vec<(String, String, String, String)> = c
                .prepare_cached(
                    "SELECT owner_kind, owner_id, bucket, prefix FROM ledger_owners
                     WHERE (owner_kind = 'user' AND (bytes >= ?1 OR objects >= ?2))
                        OR (owner_kind = 'org' AND (bytes >= ?3 OR objects >= ?4))",
                )?
                .query_map(
                    params![
                        stored_limit(user.bytes),
                        stored_limit(user.objects),
                        stored_limit(org.bytes),
                        stored_limit(org.objects)
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?
                .collect::<Result<_, _>>()?;
            raws.into_iter()
                .map(|(kind, id, bucket, prefix)| {
                    Ok(OwnerStorage {
                        owner: owner_of(&kind, &id)?,
                        bucket: BucketName::parse(&bucket).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        prefix,
                    })
                })
                .collect()
        })
        .await
    }
}
