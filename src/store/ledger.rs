//! The usage ledger (issue 25, quotas): each object's size and the S3 sequencer of the last
//! event applied to it, and each owner's totals, exact under duplicated, reordered and
//! concurrently applied events. The backends (`sqlite/ledger.rs`, `postgres/ledger.rs`) run the
//! same decision, [`decide`], inside one transaction per batch.
//!
//! Rules:
//! - An event changes its key only if its sequencer is greater than the one held (sequencers
//!   are padded, so Rust and both databases order them the same way): a duplicate or an older
//!   event is stale and changes nothing.
//! - A removal keeps the key's row as a tombstone with its sequencer, so an older create
//!   arriving after it cannot bring the key back; a removal of a key never seen records the
//!   tombstone and changes no total. An overwrite counts its size difference.
//! - Totals are kept per owner's *storage* (a bucket of its own, or a prefix of the shared one),
//!   in the same transaction as the objects: an owner deleted and created again with new
//!   storage starts from that storage's figures.
//! - Concurrency: a batch first locks the totals rows of the storages it touches, in one order
//!   (`SQLite`: its single writer, `BEGIN IMMEDIATE`), so two replicas applying the same
//!   messages at once apply each event once, and a reconciliation (which takes the same lock
//!   first) never interleaves with a batch.
//! - Reconciliation replaces one storage's rows from a listing started at T, staged page by
//!   page (no transaction spans the listing) and applied in one transaction at the end. Rows
//!   whose last event is from T - [`LISTING_SKEW`] on are kept (an event newer than the listing
//!   wins); every other row takes the listing's word. From then on, an event from before
//!   T - `LISTING_SKEW` is stale: the listing already reflects it (S3 lists strongly
//!   consistently), so a late, old event cannot undo it.
//! - Pages: each page of a listing is staged in a transaction of its own, so a listing of any
//!   length holds no lock while S3 is asked for the next page; the finish is one transaction of
//!   a few set-based statements (for 100k objects, about 0.4 s on `SQLite` and 0.9 s on
//!   `PostgreSQL`, measured on a debug build), during which batches for that storage wait.
//! - Tombstones are kept for [`TOMBSTONE_DAYS`], SQS's longest retention: no event older than
//!   a tombstone can still arrive after that, so the quota consumer prunes them
//!   ([`Store::prune_tombstones`], about once an hour).

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Store, StoreError};
use crate::identity::{BucketName, ObjectChange, ObjectEvent, Owner, OwnerStorage};

/// How far S3's clock (`eventTime`) may be ahead of this host's (the listing's start): only
/// events older than the listing's start by this much are taken as already listed. Larger is
/// safer: an event wrongly taken as listed would be lost until the next reconciliation, one
/// wrongly applied is undone by the newer event that follows it.
pub const LISTING_SKEW: Duration = Duration::from_mins(1);

/// Days a removed key's tombstone is kept: SQS keeps a message 14 days at most, and an event
/// older than the tombstone was sent before it, so none can still arrive to bring the key back.
pub const TOMBSTONE_DAYS: i64 = 14;

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events that changed their key (and so, maybe, a total).
    pub applied: u32,
    /// Duplicates, and events older than what the ledger holds for their key.
    pub stale: u32,
    /// The storages whose bytes or objects the batch changed, in (bucket, prefix) order.
    pub changed: Vec<OwnerStorage>,
}

/// Bytes and objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub bytes: i64,
    pub objects: i64,
}

/// One storage's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub owner: Owner,
    pub totals: Totals,
    /// The newest event, or listing start, counted.
    pub as_of: OffsetDateTime,
}

/// What the ledger holds for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerObject {
    pub prefix: String,
    pub size: i64,
    pub removed: bool,
    /// Padded; empty for a row a listing made.
    pub sequencer: String,
}

/// A reconciliation's listing, staged in the database until it is finished or abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingId(pub(super) i64);

/// A reconciliation's result: the storage's totals before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub before: Totals,
    pub after: Totals,
}

impl Reconciled {
    /// After minus before: what the events had missed (positive) or over-counted (negative).
    pub fn drift(&self) -> Totals {
        Totals {
            bytes: self.after.bytes - self.before.bytes,
            objects: self.after.objects - self.before.objects,
        }
    }
}

/// What the users' and organisations' rows say about a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketUse {
    /// A user's or an org's own bucket (bucket mode): every key is theirs.
    Own(Owner),
    /// A shared bucket (prefix mode): keys belong by prefix.
    Shared,
}

/// A key's stored state, as [`decide`] reads it.
pub(super) struct Held {
    pub size: i64,
    pub removed: bool,
    pub sequencer: String,
}

/// A key's new state, and what it changes in its storage's totals.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Write {
    pub size: i64,
    pub removed: bool,
    pub delta: Totals,
}

/// What `event` does to a key that holds `held`, in a storage whose last listing reflects every
/// event before `listed_before_ms`: `None` when it is stale.
pub(super) fn decide(held: Option<&Held>, event: &ObjectEvent, listed_before_ms: i64) -> Option<Write> {
    if event_ms(event.time) < listed_before_ms {
        return None;
    }
    if held.is_some_and(|h| h.sequencer.as_str() >= event.sequencer.as_str()) {
        return None;
    }
    let (old_size, old_live) = match held {
        Some(h) if !h.removed => (h.size, 1),
        _ => (0, 0),
    };
    let (size, removed) = match event.change {
        // Sizes above i64::MAX never reach here: `aws::s3::notification` refuses them.
        ObjectChange::Created { size } => (i64::try_from(size).unwrap_or(i64::MAX), false),
        ObjectChange::Removed => (0, true),
    };
    let live = i64::from(!removed);
    Some(Write {
        size,
        removed,
        delta: Totals {
            bytes: size - old_size,
            objects: live - old_live,
        },
    })
}

/// `t` in unix milliseconds, as the ledger stores times.
pub(super) fn event_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored unix-millisecond time.
pub(super) fn ms_time(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("ledger time {ms}")))
}

/// What a batch adds to one storage's totals.
#[derive(Debug, Default)]
pub(super) struct Sum {
    pub delta: Totals,
    pub as_of_ms: i64,
}

impl Sum {
    /// True when the batch changes the storage's bytes or objects.
    pub fn changes_totals(&self) -> bool {
        self.delta != Totals::default()
    }

    /// Counts a write made by an event of time `ms`.
    pub fn add(&mut self, w: &Write, ms: i64) {
        self.delta.bytes += w.delta.bytes;
        self.delta.objects += w.delta.objects;
        self.as_of_ms = self.as_of_ms.max(ms);
    }
}

/// A batch sorted for locking: storages (bucket, prefix) in order, then events by key, each
/// event with its storage's index. Every backend locks in this order, so two batches never
/// wait on each other in a cycle.
pub(super) fn sorted(batch: Vec<(OwnerStorage, ObjectEvent)>) -> (Vec<OwnerStorage>, Vec<(usize, ObjectEvent)>) {
    let mut storages: BTreeMap<(String, String), OwnerStorage> = BTreeMap::new();
    for (s, _) in &batch {
        storages
            .entry((s.bucket.as_str().to_owned(), s.prefix.clone()))
            .or_insert_with(|| s.clone());
    }
    let index: BTreeMap<(String, String), usize> = storages.keys().cloned().zip(0..).collect();
    let mut events: Vec<(usize, ObjectEvent)> = batch
        .into_iter()
        .map(|(s, e)| (index[&(s.bucket.as_str().to_owned(), s.prefix)], e))
        .collect();
    events.sort_by(|a, b| (&a.1.bucket, &a.1.key).cmp(&(&b.1.bucket, &b.1.key)));
    (storages.into_values().collect(), events)
}

impl Store {
    /// Applies a batch of events, each with the storage it belongs to, in one transaction.
    pub async fn ledger_apply(&self, batch: Vec<(OwnerStorage, ObjectEvent)>) -> Result<Applied, StoreError> {
        if batch.is_empty() {
            return Ok(Applied::default());
        }
        on_backend!(self, s => s.ledger_apply(batch).await)
    }

    /// The totals of the storage `prefix` of `bucket` (`""`: the whole bucket); `None` before
    /// its first event or listing.
    pub async fn ledger_usage(&self, bucket: &BucketName, prefix: &str) -> Result<Option<Usage>, StoreError> {
        on_backend!(self, s => s.ledger_usage(bucket, prefix).await)
    }

    /// What the ledger holds for one key (a tombstone too).
    pub async fn ledger_object(&self, bucket: &BucketName, key: &str) -> Result<Option<LedgerObject>, StoreError> {
        on_backend!(self, s => s.ledger_object(bucket, key).await)
    }

    /// Deletes the tombstones of keys removed by events before `before` (from
    /// [`TOMBSTONE_DAYS`] ago); answers how many. Listed rows and live keys stay.
    pub async fn prune_tombstones(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        on_backend!(self, s => s.prune_tombstones(event_ms(before)).await)
    }

    /// Whose `bucket` is, by the users' and organisations' rows.
    pub async fn bucket_use(&self, bucket: &BucketName) -> Result<Option<BucketUse>, StoreError> {
        on_backend!(self, s => s.bucket_use(bucket).await)
    }

    /// Starts a reconciliation of `storage` from a listing that starts now-ish, at `started`
    /// (take it before the first page is asked for). Listings left unfinished for a day are
    /// dropped here.
    pub async fn begin_listing(
        &self,
        storage: &OwnerStorage,
        started: OffsetDateTime,
    ) -> Result<ListingId, StoreError> {
        on_backend!(self, s => s.begin_listing(storage, event_ms(started)).await)
    }

    /// Stages one page of the listing: (key, size). Keys outside the storage's prefix are left
    /// out (a listing asks S3 for that prefix only).
    pub async fn add_listed(&self, listing: ListingId, page: Vec<(String, u64)>) -> Result<(), StoreError> {
        on_backend!(self, s => s.add_listed(listing, page).await)
    }

    /// Replaces the storage's rows and totals with the staged listing, keeping rows changed by
    /// events from the listing's start on, in one transaction; `None` when the listing is gone
    /// (abandoned, or dropped as a day old).
    pub async fn finish_listing(&self, listing: ListingId) -> Result<Option<Reconciled>, StoreError> {
        on_backend!(self, s => s.finish_listing(listing).await)
    }

    /// Drops a staged listing (its listing failed).
    pub async fn abandon_listing(&self, listing: ListingId) -> Result<(), StoreError> {
        on_backend!(self, s => s.abandon_listing(listing).await)
    }
}

/// The oldest listing start kept (unfinished listings older than this are dropped).
pub(super) fn abandoned_before_ms(started_ms: i64) -> i64 {
    started_ms - 86_400_000
}

/// `i64` of the skew, for SQL.
pub(super) fn skew_ms() -> i64 {
    i64::try_from(LISTING_SKEW.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::identity::Sequencer;

    fn event(change: ObjectChange, seq: &str) -> ObjectEvent {
        ObjectEvent {
            bucket: "b".to_owned(),
            key: "k".to_owned(),
            change,
            sequencer: Sequencer::parse(seq).unwrap(),
            time: datetime!(2026-12-07 10:00 UTC),
        }
    }

    fn held(size: i64, removed: bool, seq: &str) -> Held {
        Held {
            size,
            removed,
            sequencer: Sequencer::parse(seq).unwrap().as_str().to_owned(),
        }
    }

    #[test]
    fn an_event_applies_only_over_an_older_sequencer_and_counts_the_difference() {
        let put = |size| ObjectChange::Created { size };
        let d = |bytes, objects| Totals { bytes, objects };
        assert_eq!(decide(None, &event(put(5), "A"), 0).unwrap().delta, d(5, 1));
        assert_eq!(
            decide(Some(&held(5, false, "A")), &event(put(3), "B"), 0)
                .unwrap()
                .delta,
            d(-2, 0)
        );
        assert_eq!(
            decide(Some(&held(5, false, "A")), &event(put(3), "A"), 0),
            None,
            "a duplicate"
        );
        assert_eq!(
            decide(Some(&held(5, false, "B")), &event(put(3), "A"), 0),
            None,
            "older"
        );
        assert_eq!(
            decide(Some(&held(0, true, "B")), &event(put(3), "A"), 0),
            None,
            "after its removal"
        );
        assert_eq!(
            decide(Some(&held(0, true, "A")), &event(put(3), "B"), 0).unwrap().delta,
            d(3, 1)
        );
        let removed = decide(Some(&held(5, false, "A")), &event(ObjectChange::Removed, "B"), 0).unwrap();
        assert_eq!((removed.delta, removed.removed, removed.size), (d(-5, -1), true, 0));
        let unseen = decide(None, &event(ObjectChange::Removed, "B"), 0).unwrap();
        assert_eq!(
            (unseen.delta, unseen.removed),
            (d(0, 0), true),
            "a tombstone, no total changed"
        );
        let listed = held(7, false, "1");
        let after = event_ms(datetime!(2026-12-07 10:00 UTC)) + 1;
        assert_eq!(
            decide(Some(&listed), &event(put(3), "B"), after),
            None,
            "older than the listing"
        );
    }
}
