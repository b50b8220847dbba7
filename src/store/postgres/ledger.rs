//! The usage ledger on `PostgreSQL` (rules in `store/ledger.rs`). Replicas apply batches at the
//! same time, so a batch first locks the totals rows of the storages it touches, in (bucket,
//! prefix) order (`SELECT ... FOR UPDATE` after making sure each exists): every write to a
//! storage's objects happens under that lock, so two replicas applying the same message take
//! turns on it and the second finds its events stale, and the fixed order keeps two batches
//! from waiting on each other in a cycle. The sequencer comparison is repeated in the write
//! itself (`ON CONFLICT ... WHERE sequencer < excluded.sequencer`, "C" collation, padded text):
//! a row it leaves alone counts as stale.

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::PgStore;
use crate::identity::{BucketName, ObjectEvent, Owner, OwnerStorage};
use crate::store::StoreError;
use crate::store::ledger::{
    Applied, BucketUse, Held, LedgerObject, Sum, Totals, Usage, decide, event_ms, ms_time, sorted,
};

impl PgStore {
    pub async fn ledger_apply(&self, batch: Vec<(OwnerStorage, ObjectEvent)>) -> Result<Applied, StoreError> {
        let (storages, events) = sorted(batch);
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let mut watermarks = Vec::with_capacity(storages.len());
        for s in &storages {
            watermarks.push(lock_owner_row(&tx, s).await?);
        }
        let read = tx
            .prepare_cached(
                "SELECT size, removed, sequencer FROM ledger_objects WHERE bucket = $1 AND object_key = $2 FOR UPDATE",
            )
            .await?;
        let write = tx
            .prepare_cached(
                "INSERT INTO ledger_objects (bucket, object_key, prefix, size, removed, sequencer, event_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (bucket, object_key) DO UPDATE SET
                     size = excluded.size, removed = excluded.removed,
                     sequencer = excluded.sequencer, event_ms = excluded.event_ms
                 WHERE ledger_objects.sequencer < excluded.sequencer",
            )
            .await?;
        let mut sums: Vec<Sum> = storages.iter().map(|_| Sum::default()).collect();
        let mut done = Applied::default();
        for (at, e) in &events {
            let s = &storages[*at];
            let held = tx
                .query_opt(&read, &[&s.bucket.as_str(), &e.key])
                .await?
                .map(|r| -> Result<Held, StoreError> {
                    Ok(Held {
                        size: r.try_get(0)?,
                        removed: r.try_get(1)?,
                        sequencer: r.try_get(2)?,
                    })
                })
                .transpose()?;
            let Some(w) = decide(held.as_ref(), e, watermarks[*at]) else {
                done.stale += 1;
                continue;
            };
            let ms = event_ms(e.time);
            let changed = tx
                .execute(
                    &write,
                    &[
                        &s.bucket.as_str(),
                        &e.key,
                        &s.prefix,
                        &w.size,
                        &w.removed,
                        &e.sequencer.as_str(),
                        &ms,
                    ],
                )
                .await?;
            if changed == 0 {
                done.stale += 1;
                continue;
            }
            done.applied += 1;
            sums[*at].add(&w, ms);
        }
        let totals = tx
            .prepare_cached(
                "UPDATE ledger_owners SET bytes = bytes + $3, objects = objects + $4, as_of_ms = GREATEST(as_of_ms, $5)
                 WHERE bucket = $1 AND prefix = $2",
            )
            .await?;
        for (s, sum) in storages.iter().zip(&sums) {
            if sum.changes_totals() {
                done.changed.push(s.clone());
            }
            tx.execute(
                &totals,
                &[
                    &s.bucket.as_str(),
                    &s.prefix,
                    &sum.delta.bytes,
                    &sum.delta.objects,
                    &sum.as_of_ms,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    pub async fn ledger_usage(&self, bucket: &BucketName, prefix: &str) -> Result<Option<Usage>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT owner_kind, owner_id, bytes, objects, as_of_ms FROM ledger_owners
                 WHERE bucket = $1 AND prefix = $2",
                &[&bucket.as_str(), &prefix],
            )
            .await?;
        row.map(|r| {
            Ok(Usage {
                owner: owner(&r, 0)?,
                totals: Totals {
                    bytes: r.try_get(2)?,
                    objects: r.try_get(3)?,
                },
                as_of: ms_time(r.try_get(4)?)?,
            })
        })
        .transpose()
    }

    pub async fn ledger_object(&self, bucket: &BucketName, key: &str) -> Result<Option<LedgerObject>, StoreError> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT prefix, size, removed, sequencer FROM ledger_objects WHERE bucket = $1 AND object_key = $2",
                &[&bucket.as_str(), &key],
            )
            .await?;
        row.map(|r| {
            Ok(LedgerObject {
                prefix: r.try_get(0)?,
                size: r.try_get(1)?,
                removed: r.try_get(2)?,
                sequencer: r.try_get(3)?,
            })
        })
        .transpose()
    }

    pub async fn prune_tombstones(&self, before_ms: i64) -> Result<u64, StoreError> {
        let c = self.client().await?;
        Ok(c.execute(
            "DELETE FROM ledger_objects WHERE removed AND sequencer <> '' AND event_ms < $1",
            &[&before_ms],
        )
        .await?)
    }

    pub async fn bucket_use(&self, bucket: &BucketName) -> Result<Option<BucketUse>, StoreError> {
        let c = self.client().await?;
        let own = c
            .query_opt(
                "SELECT 'user', user_id FROM users WHERE bucket = $1 AND mode = 'bucket'
                 UNION ALL SELECT 'org', org_id FROM orgs WHERE bucket = $1 AND mode = 'bucket'
                 LIMIT 1",
                &[&bucket.as_str()],
            )
            .await?;
        if let Some(r) = own {
            return Ok(Some(BucketUse::Own(owner(&r, 0)?)));
        }
        let shared: bool = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE bucket = $1 AND mode = 'prefix')
                     OR EXISTS (SELECT 1 FROM orgs WHERE bucket = $1 AND mode = 'prefix')",
                &[&bucket.as_str()],
            )
            .await?
            .try_get(0)?;
        Ok(shared.then_some(BucketUse::Shared))
    }
}

/// The owner in columns `at` (kind) and `at + 1` (id).
fn owner(r: &Row, at: usize) -> Result<Owner, StoreError> {
    Owner::parse(r.try_get(at)?, r.try_get(at + 1)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Makes sure `s` has a totals row and locks it until the transaction ends; returns its
/// listing watermark.
pub(super) async fn lock_owner_row(tx: &Transaction<'_>, s: &OwnerStorage) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO ledger_owners (bucket, prefix, owner_kind, owner_id, bytes, objects, as_of_ms, listed_before_ms)
         VALUES ($1, $2, $3, $4, 0, 0, 0, 0) ON CONFLICT DO NOTHING",
        &[&s.bucket.as_str(), &s.prefix, &s.owner.kind(), &s.owner.id()],
    )
    .await?;
    Ok(tx
        .query_one(
            "SELECT listed_before_ms FROM ledger_owners WHERE bucket = $1 AND prefix = $2 FOR UPDATE",
            &[&s.bucket.as_str(), &s.prefix],
        )
        .await?
        .try_get(0)?)
}
