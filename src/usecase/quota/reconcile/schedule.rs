//! The schedule: every replica runs one, and each owner's storage is still listed once per
//! period across the fleet, because a run starts only from a claim taken atomically in the
//! database (`store::ledger_schedule`). Owners get their first due time lazily (every
//! `reseed`), at a random point of the first period, so a fleet started on a full database
//! spreads its listings over the period instead of listing every bucket at once.
//!
//! Rate: each replica runs at most [`AT_ONCE`] listings at a time and starts at most one per
//! [`START_SPACING`] (S3 allows thousands of list calls per second per prefix; these bounds
//! keep the AWS gate's slots, shared with vends, mostly free). At these figures one replica
//! lists up to 864,000 small storages a day; a larger fleet adds replicas.
//!
//! A run that fails (S3 or the database) is tried again after [`RETRY_AFTER`] (or the period,
//! if shorter); an owner deleted since it was claimed is skipped (its row goes at the next
//! reseed).

use std::sync::{Arc, Weak};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::Semaphore;

use super::{ReconcileError, Reconciler, lease, to_time};
use crate::identity::Owner;
use crate::store::Store;

/// Listings one replica runs at a time.
pub const AT_ONCE: usize = 4;
/// The least time between two listings' starts on one replica (ten a second).
pub const START_SPACING: Duration = Duration::from_millis(100);
/// When a failed run is tried again.
pub const RETRY_AFTER: Duration = Duration::from_mins(15);
/// How often a replica looks for due owners when it found none, at most.
const POLL: Duration = Duration::from_secs(30);
/// How often a replica gives owners created since a due time, at most.
const RESEED: Duration = Duration::from_mins(10);

/// The schedule's times.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleTimes {
    /// `quota.reconcile_hours`.
    pub period: Duration,
    /// How often to look for due owners when none was.
    pub poll: Duration,
    /// How often to give new owners a due time.
    pub reseed: Duration,
}

impl ScheduleTimes {
    /// The times for `period`: polls and reseeds at their usual pace, or faster for a short
    /// period (tests).
    pub fn for_period(period: Duration) -> Self {
        Self {
            period,
            poll: POLL.min(period / 4),
            reseed: RESEED.min(period / 2),
        }
    }
}

/// One replica's part of the schedule.
pub struct Schedule {
    reconciler: Weak<Reconciler>,
    store: Store,
    times: ScheduleTimes,
}

impl Schedule {
    /// Runs until `reconciler` is dropped (the application stops).
    pub fn spawn(reconciler: &Arc<Reconciler>, store: Store, times: ScheduleTimes) -> tokio::task::JoinHandle<()> {
        let me = Self {
            reconciler: Arc::downgrade(reconciler),
            store,
            times,
        };
        tokio::spawn(async move { me.run().await })
    }

    async fn run(self) {
        let slots = Arc::new(Semaphore::new(AT_ONCE));
        let mut seeded: Option<tokio::time::Instant> = None;
        loop {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let Some(reconciler) = self.reconciler.upgrade() else {
                return;
            };
            let now = OffsetDateTime::now_utc();
            if seeded.is_none_or(|at| at.elapsed() >= self.times.reseed) {
                match self.store.schedule_owners(now, to_time(self.times.period)).await {
                    Ok(0) => {}
                    Ok(added) => tracing::info!(owners = added, "owners given a reconciliation time"),
                    Err(e) => tracing::warn!(error = %e, "could not give new owners a reconciliation time"),
                }
                seeded = Some(tokio::time::Instant::now());
            }
            let claimed = self
                .store
                .claim_due_reconciliations(now, to_time(self.times.period), lease(), 1)
                .await;
            let owner = match claimed {
                Ok(mut owners) => owners.pop(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the reconciliation schedule");
                    None
                }
            };
            let Some(owner) = owner else {
                drop((slot, reconciler));
                tokio::time::sleep(self.times.poll).await;
                continue;
            };
            let period = self.times.period;
            tokio::spawn(async move {
                scheduled(&reconciler, &owner, period).await;
                drop(slot);
            });
            tokio::time::sleep(START_SPACING).await;
        }
    }
}

/// Runs the claimed `owner`'s reconciliation and releases the claim (the claim set the next
/// due time; a failed run's is sooner).
async fn scheduled(reconciler: &Reconciler, owner: &Owner, period: Duration) {
    let ran = match reconciler.storage_of(owner).await {
        Ok(storage) => reconciler.run(storage).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let next = match ran {
        Ok(()) | Err(ReconcileError::NoSuchOwner(_)) => None,
        Err(_) => Some(OffsetDateTime::now_utc() + to_time(RETRY_AFTER.min(period))),
    };
    if let Err(e) = reconciler.store.release_reconciliation(owner, next).await {
        tracing::warn!(error = %e, "reconciliation claim not released; it lapses by itself");
    }
}
