//! The usage ledger on `SQLite` (rules in `store/ledger.rs`). A batch is one `BEGIN IMMEDIATE`
//! transaction: it takes the database's single write lock before reading a row, so two
//! processes applying the same messages at once run one after the other, and the second finds
//! every event stale.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use crate::identity::{BucketName, ObjectEvent, Owner, OwnerStorage};
use crate::store::StoreError;
use crate::store::ledger::{
    Applied, BucketUse, Held, LedgerObject, Sum, Totals, Usage, decide, event_ms, ms_time, sorted,
};

impl SqliteStore {
    pub async fn ledger_apply(&self, batch: Vec<(OwnerStorage, ObjectEvent)>) -> Result<Applied, StoreError> {
        self.run(move |c| apply(c, batch)).await
    }

    pub async fn ledger_usage(&self, bucket: &BucketName, prefix: &str) -> Result<Option<Usage>, StoreError> {
        let (bucket, prefix) = (bucket.as_str().to_owned(), prefix.to_owned());
        self.run(move |c| {
            let raw: Option<(String, String, i64, i64, i64)> = c
                .prepare_cached(
                    "SELECT owner_kind, owner_id, bytes, objects, as_of_ms FROM ledger_owners
                     WHERE bucket = ?1 AND prefix = ?2",
                )?
                .query_row(params![bucket, prefix], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            raw.map(|(kind, id, bytes, objects, as_of)| {
                Ok(Usage {
                    owner: Owner::parse(&kind, &id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    totals: Totals { bytes, objects },
                    as_of: ms_time(as_of)?,
                })
            })
            .transpose()
        })
        .await
    }

    pub async fn ledger_object(&self, bucket: &BucketName, key: &str) -> Result<Option<LedgerObject>, StoreError> {
        let (bucket, key) = (bucket.as_str().to_owned(), key.to_owned());
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT prefix, size, removed, sequencer FROM ledger_objects WHERE bucket = ?1 AND object_key = ?2",
            )?
            .query_row(params![bucket, key], |r| {
                Ok(LedgerObject {
                    prefix: r.get(0)?,
                    size: r.get(1)?,
                    removed: r.get(2)?,
                    sequencer: r.get(3)?,
                })
            })
            .optional()?)
        })
        .await
    }

    pub async fn prune_tombstones(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM ledger_objects WHERE removed = 1 AND sequencer <> '' AND event_ms < ?1")?
                .execute([before_ms])?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    pub async fn bucket_use(&self, bucket: &BucketName) -> Result<Option<BucketUse>, StoreError> {
        let bucket = bucket.as_str().to_owned();
        self.run(move |c| {
            let own: Option<(String, String)> = c
                .prepare_cached(
                    "SELECT 'user', user_id FROM users WHERE bucket = ?1 AND mode = 'bucket'
                     UNION ALL SELECT 'org', org_id FROM orgs WHERE bucket = ?1 AND mode = 'bucket'
                     LIMIT 1",
                )?
                .query_row([&bucket], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((kind, id)) = own {
                let owner = Owner::parse(&kind, &id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                return Ok(Some(BucketUse::Own(owner)));
            }
            let shared: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE bucket = ?1 AND mode = 'prefix')
                         OR EXISTS (SELECT 1 FROM orgs WHERE bucket = ?1 AND mode = 'prefix')",
                )?
                .query_row([&bucket], |r| r.get(0))?;
            Ok(shared.then_some(BucketUse::Shared))
        })
        .await
    }
}

/// The batch in one write transaction: totals rows first, in order, then each event.
fn apply(c: &mut Connection, batch: Vec<(OwnerStorage, ObjectEvent)>) -> Result<Applied, StoreError> {
    let (storages, events) = sorted(batch);
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut watermarks = Vec::with_capacity(storages.len());
    for s in &storages {
        watermarks.push(owner_row(&tx, s)?);
    }
    let mut sums: Vec<Sum> = storages.iter().map(|_| Sum::default()).collect();
    let mut done = Applied::default();
    for (at, e) in &events {
        let s = &storages[*at];
        let held: Option<Held> = tx
            .prepare_cached(
                "SELECT size, removed, sequencer FROM ledger_objects WHERE bucket = ?1 AND object_key = ?2",
            )?
            .query_row(params![s.bucket.as_str(), e.key], |r| {
                Ok(Held {
                    size: r.get(0)?,
                    removed: r.get(1)?,
                    sequencer: r.get(2)?,
                })
            })
            .optional()?;
        let Some(write) = decide(held.as_ref(), e, watermarks[*at]) else {
            done.stale += 1;
            continue;
        };
        // The sequencer comparison is repeated in SQL: a row it does not change is stale,
        // whatever was read.
        let changed = tx
            .prepare_cached(
                "INSERT INTO ledger_objects (bucket, object_key, prefix, size, removed, sequencer, event_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (bucket, object_key) DO UPDATE SET
                     size = excluded.size, removed = excluded.removed,
                     sequencer = excluded.sequencer, event_ms = excluded.event_ms
                 WHERE ledger_objects.sequencer < excluded.sequencer",
            )?
            .execute(params![
                s.bucket.as_str(),
                e.key,
                s.prefix,
                write.size,
                write.removed,
                e.sequencer.as_str(),
                event_ms(e.time)
            ])?;
        if changed == 0 {
            done.stale += 1;
            continue;
        }
        done.applied += 1;
        sums[*at].add(&write, event_ms(e.time));
    }
    for (s, sum) in storages.iter().zip(&sums) {
        if sum.changes_totals() {
            done.changed.push(s.clone());
        }
        tx.prepare_cached(
            "UPDATE ledger_owners SET bytes = bytes + ?3, objects = objects + ?4, as_of_ms = MAX(as_of_ms, ?5)
             WHERE bucket = ?1 AND prefix = ?2",
        )?
        .execute(params![
            s.bucket.as_str(),
            s.prefix,
            sum.delta.bytes,
            sum.delta.objects,
            sum.as_of_ms
        ])?;
    }
    tx.commit()?;
    Ok(done)
}

/// Makes sure `s` has a totals row; returns its listing watermark.
pub(super) fn owner_row(c: &Connection, s: &OwnerStorage) -> Result<i64, StoreError> {
    c.prepare_cached(
        "INSERT INTO ledger_owners (bucket, prefix, owner_kind, owner_id, bytes, objects, as_of_ms, listed_before_ms)
         VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 0) ON CONFLICT DO NOTHING",
    )?
    .execute(params![s.bucket.as_str(), s.prefix, s.owner.kind(), s.owner.id()])?;
    Ok(
        c.prepare_cached("SELECT listed_before_ms FROM ledger_owners WHERE bucket = ?1 AND prefix = ?2")?
            .query_row(params![s.bucket.as_str(), s.prefix], |r| r.get(0))?,
    )
}
