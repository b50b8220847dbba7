//! Reconciling one storage's ledger from a listing on `SQLite` (rules in `store/ledger.rs`):
//! pages are staged in their own short transactions, and the finish replaces the storage's
//! rows and totals in one write transaction with set-based statements.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use super::ledger::owner_row;
use crate::identity::{BucketName, Owner, OwnerStorage};
use crate::store::StoreError;
use crate::store::ledger::{ListingId, Reconciled, Totals, abandoned_before_ms, skew_ms};

impl SqliteStore {
    pub async fn begin_listing(&self, storage: &OwnerStorage, started_ms: i64) -> Result<ListingId, StoreError> {
        let s = storage.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old = abandoned_before_ms(started_ms);
            tx.execute(
                "DELETE FROM ledger_listed WHERE listing IN (SELECT id FROM ledger_listings WHERE started_ms < ?1)",
                [old],
            )?;
            tx.execute("DELETE FROM ledger_listings WHERE started_ms < ?1", [old])?;
            tx.execute(
                "INSERT INTO ledger_listings (bucket, prefix, owner_kind, owner_id, started_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.bucket.as_str(), s.prefix, s.owner.kind(), s.owner.id(), started_ms],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(ListingId(id))
        })
        .await
    }

    pub async fn add_listed(&self, listing: ListingId, page: Vec<(String, u64)>) -> Result<(), StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let prefix: Option<String> = tx
                .query_row("SELECT prefix FROM ledger_listings WHERE id = ?1", [listing.0], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(prefix) = prefix else {
                return Ok(()); // gone: finish_listing says so
            };
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO ledger_listed (listing, object_key, size) VALUES (?1, ?2, ?3)
                     ON CONFLICT (listing, object_key) DO UPDATE SET size = excluded.size",
                )?;
                for (key, size) in page.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                    let size = i64::try_from(*size).map_err(|_| StoreError::Corrupt(format!("listed size {size}")))?;
                    insert.execute(params![listing.0, key, size])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn finish_listing(&self, listing: ListingId) -> Result<Option<Reconciled>, StoreError> {
        self.run(move |c| finish(c, listing)).await
    }

    pub async fn abandon_listing(&self, listing: ListingId) -> Result<(), StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            drop_listing(&tx, listing)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

fn drop_listing(c: &Connection, listing: ListingId) -> Result<(), StoreError> {
    c.execute("DELETE FROM ledger_listed WHERE listing = ?1", [listing.0])?;
    c.execute("DELETE FROM ledger_listings WHERE id = ?1", [listing.0])?;
    Ok(())
}

fn finish(c: &mut Connection, listing: ListingId) -> Result<Option<Reconciled>, StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, String, String, String, i64)> = tx
        .query_row(
            "SELECT bucket, prefix, owner_kind, owner_id, started_ms FROM ledger_listings WHERE id = ?1",
            [listing.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((bucket, prefix, kind, id, started_ms)) = row else {
        return Ok(None);
    };
    let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
    let storage = OwnerStorage {
        owner: Owner::parse(&kind, &id).map_err(corrupt)?,
        bucket: BucketName::parse(&bucket).map_err(corrupt)?,
        prefix,
    };
    owner_row(&tx, &storage)?;
    let totals = |c: &Connection, sql: &str| -> Result<Totals, StoreError> {
        Ok(c.query_row(sql, params![bucket, storage.prefix], |r| {
            Ok(Totals {
                bytes: r.get(0)?,
                objects: r.get(1)?,
            })
        })?)
    };
    let before = totals(
        &tx,
        "SELECT bytes, objects FROM ledger_owners WHERE bucket = ?1 AND prefix = ?2",
    )?;
    let watermark = started_ms - skew_ms();
    // Listed keys take the listing's size, unless an event from the listing's start on
    // changed them; their sequencer stays (older events remain stale).
    tx.execute(
        "INSERT INTO ledger_objects (bucket, object_key, prefix, size, removed, sequencer, event_ms)
         SELECT ?1, object_key, ?2, size, 0, '', 0 FROM ledger_listed WHERE listing = ?3
         ON CONFLICT (bucket, object_key) DO UPDATE SET size = excluded.size, removed = 0
         WHERE ledger_objects.event_ms < ?4",
        params![bucket, storage.prefix, listing.0, watermark],
    )?;
    // Keys the listing did not find are gone, unless an event from its start on wrote them.
    tx.execute(
        "UPDATE ledger_objects SET removed = 1, size = 0
         WHERE bucket = ?1 AND prefix = ?2 AND removed = 0 AND event_ms < ?3
           AND NOT EXISTS (SELECT 1 FROM ledger_listed l
                           WHERE l.listing = ?4 AND l.object_key = ledger_objects.object_key)",
        params![bucket, storage.prefix, watermark, listing.0],
    )?;
    let after = totals(
        &tx,
        "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM ledger_objects WHERE bucket = ?1 AND prefix = ?2 AND removed = 0",
    )?;
    tx.execute(
        "UPDATE ledger_owners SET bytes = ?3, objects = ?4, as_of_ms = MAX(as_of_ms, ?5),
             listed_before_ms = MAX(listed_before_ms, ?6)
         WHERE bucket = ?1 AND prefix = ?2",
        params![
            bucket,
            storage.prefix,
            after.bytes,
            after.objects,
            started_ms,
            watermark
        ],
    )?;
    drop_listing(&tx, listing)?;
    tx.commit()?;
    Ok(Some(Reconciled { before, after }))
}
