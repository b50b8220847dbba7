//! Reconciling one storage's ledger from a listing on `PostgreSQL` (rules in
//! `store/ledger.rs`): pages are staged in their own statements, and the finish takes the
//! storage's totals-row lock (as every batch does first), then replaces its rows and totals
//! with set-based statements in one transaction.

use deadpool_postgres::Transaction;

use super::PgStore;
use super::ledger::lock_owner_row;
use crate::identity::{BucketName, Owner, OwnerStorage};
use crate::store::StoreError;
use crate::store::ledger::{ListingId, Reconciled, Totals, abandoned_before_ms, skew_ms};

impl PgStore {
    pub async fn begin_listing(&self, storage: &OwnerStorage, started_ms: i64) -> Result<ListingId, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let old = abandoned_before_ms(started_ms);
        tx.execute(
            "DELETE FROM ledger_listed WHERE listing IN (SELECT id FROM ledger_listings WHERE started_ms < $1)",
            &[&old],
        )
        .await?;
        tx.execute("DELETE FROM ledger_listings WHERE started_ms < $1", &[&old])
            .await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO ledger_listings (bucket, prefix, owner_kind, owner_id, started_ms)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &storage.bucket.as_str(),
                    &storage.prefix,
                    &storage.owner.kind(),
                    &storage.owner.id(),
                    &started_ms,
                ],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(ListingId(id))
    }

    pub async fn add_listed(&self, listing: ListingId, page: Vec<(String, u64)>) -> Result<(), StoreError> {
        let c = self.client().await?;
        let Some(prefix) = c
            .query_opt("SELECT prefix FROM ledger_listings WHERE id = $1", &[&listing.0])
            .await?
            .map(|r| r.try_get::<_, String>(0))
            .transpose()?
        else {
            return Ok(()); // gone: finish_listing says so
        };
        let mut keys = Vec::with_capacity(page.len());
        let mut sizes = Vec::with_capacity(page.len());
        for (key, size) in page.into_iter().filter(|(k, _)| k.starts_with(&prefix)) {
            sizes.push(i64::try_from(size).map_err(|_| StoreError::Corrupt(format!("listed size {size}")))?);
            keys.push(key);
        }
        // A key twice in one page (S3 never lists one twice) keeps the last size.
        c.execute(
            "INSERT INTO ledger_listed (listing, object_key, size)
             SELECT DISTINCT ON (k) $1, k, s FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS p (k, s, n)
             ORDER BY k, n DESC
             ON CONFLICT (listing, object_key) DO UPDATE SET size = excluded.size",
            &[&listing.0, &keys, &sizes],
        )
        .await?;
        Ok(())
    }

    pub async fn finish_listing(&self, listing: ListingId) -> Result<Option<Reconciled>, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT bucket, prefix, owner_kind, owner_id, started_ms FROM ledger_listings WHERE id = $1 FOR UPDATE",
                &[&listing.0],
            )
            .await?
        else {
            return Ok(None);
        };
        let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
        let storage = OwnerStorage {
            owner: Owner::parse(row.try_get(2)?, row.try_get(3)?).map_err(corrupt)?,
            bucket: BucketName::parse(row.try_get(0)?).map_err(corrupt)?,
            prefix: row.try_get(1)?,
        };
        let started_ms: i64 = row.try_get(4)?;
        let (bucket, prefix) = (storage.bucket.as_str(), storage.prefix.as_str());
        lock_owner_row(&tx, &storage).await?;
        let before = totals(
            &tx,
            "SELECT bytes, objects FROM ledger_owners WHERE bucket = $1 AND prefix = $2",
            bucket,
            prefix,
        )
        .await?;
        let watermark = started_ms - skew_ms();
        // Listed keys take the listing's size, unless an event from the listing's start on
        // changed them; their sequencer stays (older events remain stale).
        tx.execute(
            "INSERT INTO ledger_objects (bucket, object_key, prefix, size, removed, sequencer, event_ms)
             SELECT $1, object_key, $2, size, false, '', 0 FROM ledger_listed WHERE listing = $3
             ON CONFLICT (bucket, object_key) DO UPDATE SET size = excluded.size, removed = false
             WHERE ledger_objects.event_ms < $4",
            &[&bucket, &prefix, &listing.0, &watermark],
        )
        .await?;
        // Keys the listing did not find are gone, unless an event from its start on wrote them.
        tx.execute(
            "UPDATE ledger_objects o SET removed = true, size = 0
             WHERE o.bucket = $1 AND o.prefix = $2 AND NOT o.removed AND o.event_ms < $3
               AND NOT EXISTS (SELECT 1 FROM ledger_listed l WHERE l.listing = $4 AND l.object_key = o.object_key)",
            &[&bucket, &prefix, &watermark, &listing.0],
        )
        .await?;
        let after = totals(
            &tx,
            "SELECT COALESCE(SUM(size), 0)::bigint, COUNT(*) FROM ledger_objects
             WHERE bucket = $1 AND prefix = $2 AND NOT removed",
            bucket,
            prefix,
        )
        .await?;
        tx.execute(
            "UPDATE ledger_owners SET bytes = $3, objects = $4, as_of_ms = GREATEST(as_of_ms, $5),
                 listed_before_ms = GREATEST(listed_before_ms, $6)
             WHERE bucket = $1 AND prefix = $2",
            &[&bucket, &prefix, &after.bytes, &after.objects, &started_ms, &watermark],
        )
        .await?;
        drop_listing(&tx, listing).await?;
        tx.commit().await?;
        Ok(Some(Reconciled { before, after }))
    }

    pub async fn abandon_listing(&self, listing: ListingId) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        drop_listing(&tx, listing).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn drop_listing(tx: &Transaction<'_>, listing: ListingId) -> Result<(), StoreError> {
    tx.execute("DELETE FROM ledger_listed WHERE listing = $1", &[&listing.0])
        .await?;
    tx.execute("DELETE FROM ledger_listings WHERE id = $1", &[&listing.0])
        .await?;
    Ok(())
}

async fn totals(tx: &Transaction<'_>, sql: &str, bucket: &str, prefix: &str) -> Result<Totals, StoreError> {
    let r = tx.query_one(sql, &[&bucket, &prefix]).await?;
    Ok(Totals {
        bytes: r.try_get(0)?,
        objects: r.try_get(1)?,
    })
}
