//! Wiring of quotas' reconciliation (`usecase::quota::reconcile`): with `[quota]` set, the
//! reconciler the admin routes call and this replica's part of the schedule; without it,
//! nothing (the routes answer 404).

use std::sync::Arc;

use crate::aws::s3::Buckets;
use crate::config::Config;
use crate::runtime::metrics::Metrics;
use crate::store::Store;
use crate::usecase::quota::ChangedSender;
use crate::usecase::quota::reconcile::{Reconciler, Schedule, ScheduleTimes};

/// The reconciler and its schedule's task (ends when the reconciler is dropped), when quotas
/// are on. `changed`: where finished runs are told (`limits`' receiver).
pub fn wire(
    config: &Config,
    store: &Store,
    buckets: &Arc<Buckets>,
    metrics: &Arc<Metrics>,
    changed: Option<ChangedSender>,
) -> Option<(Arc<Reconciler>, tokio::task::JoinHandle<()>)> {
    let quota = config.quota.as_ref()?;
    let period = quota.reconcile_period();
    let reconciler = Arc::new(Reconciler::new(
        store.clone(),
        Arc::clone(buckets),
        Arc::clone(metrics),
        changed,
        period,
    ));
    let schedule = Schedule::spawn(&reconciler, store.clone(), ScheduleTimes::for_period(period));
    Some((reconciler, schedule))
}
