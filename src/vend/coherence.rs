//! Keeping this process's caches in step with the others: every change to a user's state is
//! appended to the store's change feed in the same transaction (`Store::changes_since`), and
//! this loop reads the feed every `cache.coherence_poll_ms` (at once when the backend signals a
//! change) and drops what it cached about each user in it. A load racing the drop cannot put
//! the old state back (`cache.rs`), so a change made anywhere holds here within one poll.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::Vend;
use crate::metrics::Metrics;
use crate::store::Store;

/// Changes read per query; a longer backlog is read in further queries at once.
const BATCH: u32 = 1000;
/// Changes are kept this long: far beyond any poll period (at most a second).
const RETENTION: time::Duration = time::Duration::hours(1);
/// How often the feed is pruned (by whichever process gets there).
const PRUNE_EVERY: Duration = Duration::from_mins(5);

/// Runs until `vend` is dropped.
pub fn spawn(vend: &Arc<Vend>, store: Store, poll: Duration, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    let vend = Arc::downgrade(vend);
    tokio::spawn(async move { follow(&vend, &store, poll, &metrics).await })
}

async fn follow(vend: &Weak<Vend>, store: &Store, poll: Duration, metrics: &Metrics) {
    let signal = store.change_signal();
    // Start from the feed's head: nothing is cached yet, so nothing older matters.
    let mut seen = loop {
        match store.latest_change().await {
            Ok(seq) => break seq,
            Err(e) => {
                tracing::warn!(error = %e, "reading the change feed failed; retrying");
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
        loop {
            match store.changes_since(seen, BATCH).await {
                Ok(changes) => {
                    let full = changes.len() == BATCH as usize;
                    for change in changes {
                        vend.drop_cached(&change.user_id).await;
                        metrics.coherence_drops.inc();
                        seen = change.seq;
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    metrics.coherence_errors.inc();
                    tracing::warn!(error = %e, "reading the change feed failed; cached users may be stale until it answers");
                    break;
                }
            }
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            if let Err(e) = store.prune_changes(time::OffsetDateTime::now_utc() - RETENTION).await {
                tracing::debug!(error = %e, "pruning the change feed failed");
            }
        }
    }
}
