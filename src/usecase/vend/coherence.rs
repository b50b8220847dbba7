//! Keeping this process's caches in step with the others: every change to a user's or an
//! organisation's state is appended to the store's change feed in the same transaction
//! (`Store::changes_since`), and this loop reads the feed every `cache.coherence_poll_ms` (at
//! once when the backend signals a change) and drops what it cached about each user or org in
//! it (an org's keys go with its row: `Vend::drop_cached_org`). A load racing the drop cannot put
//! the old state back (`cache.rs`), so a change made anywhere holds here within one poll.
//!
//! The feed keeps changes for `cache.change_retention_seconds`. A process that could not read
//! it for longer (database unreachable to it alone, process paused) finds changes it never read
//! pruned: it cannot know whom they named, so it drops everything it cached
//! (`stsvend_coherence_gaps_total`).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::Vend;
use crate::runtime::metrics::Metrics;
use crate::store::{Changed, Store, StoreError};

/// Changes read per query; a longer backlog is read in further queries at once.
const BATCH: u32 = 1000;
/// How often the feed is pruned (by whichever process gets there), at most; a retention
/// shorter than twice this prunes every half retention.
const PRUNE_EVERY: Duration = Duration::from_mins(5);

/// How the feed is read and kept.
pub struct FeedTimes {
    /// `cache.coherence_poll_ms`.
    pub poll: Duration,
    /// `cache.change_retention_seconds`: changes older than this are pruned.
    pub retention: Duration,
}

/// Runs until `vend` is dropped.
pub fn spawn(vend: &Arc<Vend>, store: Store, times: FeedTimes, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    let vend = Arc::downgrade(vend);
    tokio::spawn(async move { follow(&vend, &store, &times, &metrics).await })
}

async fn follow(vend: &Weak<Vend>, store: &Store, times: &FeedTimes, metrics: &Metrics) {
    let poll = times.poll;
    let retention = time::Duration::try_from(times.retention).unwrap_or(time::Duration::MAX);
    let prune_every = PRUNE_EVERY.min(times.retention / 2);
    let signal = store.change_signal();
    // Start from the feed's head: nothing is cached yet, so nothing older matters.
    let mut outage = Outage::default();
    let mut seen = loop {
        match store.latest_change().await {
            Ok(seq) => {
                metrics.change_feed_read.set(seq);
                outage.over();
                break seq;
            }
            Err(e) => {
                outage.failed(metrics, &e);
                tokio::time::sleep(poll).await;
            }
        }
    };
    let mut pruned = Instant::now();
    loop {
        match &signal {
            Some(signal) => {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    () = signal.notified() => {}
                }
            }
            None => tokio::time::sleep(poll).await,
        }
        let Some(vend) = vend.upgrade() else { return };
        match read_feed(&vend, store, &mut seen, times.retention, metrics).await {
            Ok(()) => outage.over(),
            Err(e) => outage.failed(metrics, &e),
        }
        if pruned.elapsed() >= prune_every {
            pruned = Instant::now();
            if let Err(e) = store.prune_changes(time::OffsetDateTime::now_utc() - retention).await {
                tracing::debug!(error = %e, "pruning the change feed failed");
            }
        }
    }
}

/// Drops what the changes after `seen` name, and moves `seen` past them. When changes after
/// `seen` were pruned before this process read them (it could not read the feed for longer
/// than the retention), it cannot know whom they named: it drops everything it cached.
async fn read_feed(
    vend: &Vend,
    store: &Store,
    seen: &mut i64,
    retention: Duration,
    metrics: &Metrics,
) -> Result<(), StoreError> {
    loop {
        let changes = store.changes_since(*seen, BATCH).await?;
        // The next change is not the one after `seen`: either a rolled-back transaction left
        // a hole in the sequence (PostgreSQL), or the changes in between were pruned.
        if changes.first().is_some_and(|c| c.seq > *seen + 1) {
            match store.oldest_change().await? {
                oldest if oldest > *seen + 1 => {
                    vend.drop_all_cached();
                    vend.reload_quotas().await;
                    metrics.coherence_gaps.inc();
                    tracing::warn!(
                        last_read = *seen,
                        oldest_kept = oldest,
                        retention_seconds = retention.as_secs(),
                        "changes this process never read were pruned from the change feed (it could not read the feed for longer than cache.change_retention_seconds); every cached mapping and credential dropped"
                    );
                }
                _ => {}
            }
        }
        let full = changes.len() == BATCH as usize;
        for change in changes {
            match &change.what {
                Changed::User(user_id) => vend.drop_cached(user_id).await,
                Changed::Org(org_id) => vend.drop_cached_org(org_id),
                Changed::Quota(owner) => vend.quota_changed(owner).await,
            }
            metrics.coherence_drops.inc();
            *seen = change.seq;
        }
        metrics.change_feed_read.set(*seen);
        if !full {
            return Ok(());
        }
    }
}

/// The feed's reads failing since `since`: the poll meets every failure (several a second while
/// the database is away), the log one line when it starts and one when it ends; the metric
/// `coherence_errors` counts each.
#[derive(Default)]
struct Outage {
    since: Option<Instant>,
}

impl Outage {
    fn failed(&mut self, metrics: &Metrics, e: &StoreError) {
        metrics.coherence_errors.inc();
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(error = %e, "reading the change feed failed; cached users may be stale until it answers (logged once until then)");
        } else {
            tracing::debug!(error = %e, "reading the change feed failed again");
        }
    }

    fn over(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                after_seconds = since.elapsed().as_secs(),
                "the change feed answers again; changes missed meanwhile are read now"
            );
        }
    }
}
