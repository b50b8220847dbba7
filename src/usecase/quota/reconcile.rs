//! Reconciliation: one owner's current storage (a user's or org's own bucket, or their prefix of
//! the shared bucket, as their row says now) listed page by page through S3, each page staged in
//! the database, and the ledger's rows and totals for that storage replaced at the end in one
//! transaction (`store::ledger`'s rules: events newer than the listing's start win). What it
//! corrected is the drift: counted in `stsvend_quota_reconcile_drift_{bytes,objects}_total`
//! by direction, logged, and answered to the operator who asked.
//!
//! Every run holds the owner's claim in the schedule table (`store::ledger_schedule`), so one
//! owner is listed by one replica at a time; on demand, a held claim answers 409
//! `reconcile_running`. The schedule (`schedule`) runs them every `quota.reconcile_hours`.

mod schedule;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Changed, ChangedSender};
use crate::aws::s3::Buckets;
use crate::identity::{BucketName, OrgId, Owner, OwnerStorage, UserId};
use crate::runtime::metrics::Metrics;
use crate::store::{Reconciled, Store, StoreError, Totals};
use crate::usecase::error::{Failure, code};

pub use schedule::{Schedule, ScheduleTimes};

/// How long a claim holds an owner's reconciliation: a replica that dies mid-listing frees the
/// owner after this (on demand: 409 `reconcile_running` until then). A listing still running
/// then goes on, and a second may start beside it: harmless (each replaces the rows from its
/// own start), only wasted; 100k objects list in seconds, a few million in this time.
pub const CLAIM_LEASE: Duration = Duration::from_mins(15);

/// Why a reconciliation did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("no {0}")]
    NoSuchOwner(String),
    #[error("a reconciliation of {0}'s storage is running already")]
    Running(String),
    #[error("the listing was dropped before it finished")]
    ListingGone,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] crate::aws::Error),
}

impl From<ReconcileError> for Failure {
    fn from(e: ReconcileError) -> Self {
        match e {
            ReconcileError::NoSuchOwner(what) => Self::not_found(format!("no {what}")),
            e @ ReconcileError::Running(_) => Self::conflict(code::Conflict::ReconcileRunning, &e),
            e @ ReconcileError::ListingGone => Self::internal("reconciliation", &e),
            ReconcileError::Store(e) => Self::store("reconciliation", &e),
            ReconcileError::Aws(e) => Self::aws("reconciliation", &e),
        }
    }
}

/// What one reconciliation found: the storage's totals before and after, and their difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub storage: OwnerStorage,
    pub before: Totals,
    pub after: Totals,
    /// After minus before: positive when events were missed.
    pub drift: Totals,
    /// When the listing started: the new totals are as of then.
    pub started: OffsetDateTime,
}

/// Runs reconciliations, on demand and for the schedule.
pub struct Reconciler {
    store: Store,
    buckets: Arc<Buckets>,
    metrics: Arc<Metrics>,
    changed: Option<ChangedSender>,
    /// `quota.reconcile_hours`: after a run, the owner's next one is due this much later.
    period: Duration,
}

impl Reconciler {
    /// `changed`: where each finished run's storage is sent (`limits` reads its totals again).
    pub fn new(
        store: Store,
        buckets: Arc<Buckets>,
        metrics: Arc<Metrics>,
        changed: Option<ChangedSender>,
        period: Duration,
    ) -> Self {
        Self {
            store,
            buckets,
            metrics,
            changed,
            period,
        }
    }

    /// Reconciles the user's current storage now; 409 `reconcile_running` while a run for them
    /// holds the claim anywhere in the fleet.
    #[tracing::instrument(skip(self), fields(user_id = %id))]
    pub async fn reconcile_user(&self, id: &UserId) -> Result<Report, Failure> {
        Ok(self.on_demand(&Owner::User(id.clone())).await?)
    }

    /// The same for an organisation's team storage.
    #[tracing::instrument(skip(self), fields(org_id = %id))]
    pub async fn reconcile_org(&self, id: &OrgId) -> Result<Report, Failure> {
        Ok(self.on_demand(&Owner::Org(*id)).await?)
    }

    async fn on_demand(&self, owner: &Owner) -> Result<Report, ReconcileError> {
        // 404 before the claim, so no row is made for an owner that does not exist.
        let storage = self.storage_of(owner).await?;
        let now = OffsetDateTime::now_utc();
        if !self.store.claim_reconciliation(owner, now, lease()).await? {
            return Err(ReconcileError::Running(describe(owner)));
        }
        let ran = self.run(storage).await;
        // Just listed: the schedule's next run is a period from now (a failed run keeps its
        // due time).
        let next = ran.is_ok().then(|| OffsetDateTime::now_utc() + to_time(self.period));
        if let Err(e) = self.store.release_reconciliation(owner, next).await {
            tracing::warn!(error = %e, "reconciliation claim not released; it lapses by itself");
        }
        ran
    }

    /// The owner's current storage, from their row.
    async fn storage_of(&self, owner: &Owner) -> Result<OwnerStorage, ReconcileError> {
        let (bucket, prefix): (BucketName, String) = match owner {
            Owner::User(id) => {
                let row = self.store.user(id).await?;
                let row = row.ok_or_else(|| ReconcileError::NoSuchOwner(describe(owner)))?;
                let prefix = row.key_prefix().to_owned();
                (row.bucket, prefix)
            }
            Owner::Org(id) => {
                let row = self.store.org(id).await?;
                let row = row.ok_or_else(|| ReconcileError::NoSuchOwner(describe(owner)))?;
                let prefix = row.key_prefix().to_owned();
                (row.bucket, prefix)
            }
        };
        Ok(OwnerStorage {
            owner: owner.clone(),
            bucket,
            prefix,
        })
    }

    /// Lists `storage` and replaces its ledger rows; abandons the staged listing when S3 or the
    /// database fails part way.
    async fn run(&self, storage: OwnerStorage) -> Result<Report, ReconcileError> {
        let started = OffsetDateTime::now_utc();
        let listing = self.store.begin_listing(&storage, started).await?;
        let listed = async {
            let mut token = None;
            loop {
                let page = self.buckets.list_page(&storage.bucket, &storage.prefix, token).await?;
                self.store.add_listed(listing, page.objects).await?;
                match page.next {
                    Some(next) => token = Some(next),
                    None => return Ok::<_, ReconcileError>(()),
                }
            }
        }
        .await;
        let finished = match listed {
            Ok(()) => self.store.finish_listing(listing).await.map_err(ReconcileError::from),
            Err(e) => Err(e),
        };
        let done = match finished {
            Ok(Some(done)) => done,
            Ok(None) => return Err(self.failed(&storage, ReconcileError::ListingGone)),
            Err(e) => {
                if let Err(abandon) = self.store.abandon_listing(listing).await {
                    tracing::warn!(error = %abandon, "staged listing not dropped; the next listing drops it after a day");
                }
                return Err(self.failed(&storage, e));
            }
        };
        Ok(self.finished(storage, done, started))
    }

    fn failed(&self, storage: &OwnerStorage, e: ReconcileError) -> ReconcileError {
        self.metrics.quota_reconciliations.with_label_values(&["failed"]).inc();
        tracing::warn!(owner = %describe(&storage.owner), bucket = %storage.bucket, error = %e, "reconciliation failed");
        e
    }

    /// Counts and logs the drift, and tells `limits` the storage's totals changed.
    fn finished(&self, storage: OwnerStorage, done: Reconciled, started: OffsetDateTime) -> Report {
        let drift = done.drift();
        self.metrics.quota_reconciliations.with_label_values(&["ok"]).inc();
        count_drift(&self.metrics.quota_drift_bytes, drift.bytes);
        count_drift(&self.metrics.quota_drift_objects, drift.objects);
        if drift == Totals::default() {
            tracing::info!(owner = %describe(&storage.owner), bytes = done.after.bytes, objects = done.after.objects, "reconciled; no drift");
        } else {
            tracing::warn!(
                owner = %describe(&storage.owner),
                bytes = done.after.bytes,
                objects = done.after.objects,
                drift_bytes = drift.bytes,
                drift_objects = drift.objects,
                "reconciled; the ledger had drifted from S3 (events lost, or written before notifications were set)"
            );
        }
        if let Some(changed) = &self.changed {
            // Closed only when `limits` is gone (shutting down): nothing to tell then.
            let _ = changed.send(Changed(vec![storage.clone()]));
        }
        Report {
            storage,
            before: done.before,
            after: done.after,
            drift,
            started,
        }
    }
}

fn count_drift(counter: &prometheus::IntCounterVec, signed: i64) {
    let direction = if signed >= 0 { "missed" } else { "overcounted" };
    counter.with_label_values(&[direction]).inc_by(signed.unsigned_abs());
}

/// `user <id>` or `organisation <id>`, for messages and logs.
fn describe(owner: &Owner) -> String {
    match owner {
        Owner::User(id) => format!("user {id}"),
        Owner::Org(id) => format!("organisation {id}"),
    }
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

fn lease() -> time::Duration {
    to_time(CLAIM_LEASE)
}
