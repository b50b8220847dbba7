//! What the process reports about itself: readiness (`/readyz`: the issuer's keys loaded, the
//! database answering) and the gauges counted from the database before each `/metrics` scrape.

use std::sync::Arc;

use crate::auth::JwksCache;
use crate::identity::BucketName;
use crate::runtime::metrics::Metrics;
use crate::store::{DatabaseHealth, QuotaLevel, Store};

/// The checks `/readyz` reports.
pub struct Readiness {
    /// The database answered its last probe.
    pub database: bool,
    /// The issuer's signing keys were loaded at least once.
    pub jwks: bool,
}

pub struct Health {
    database: Arc<DatabaseHealth>,
    jwks: Arc<JwksCache>,
}

impl Health {
    pub fn new(database: Arc<DatabaseHealth>, jwks: Arc<JwksCache>) -> Self {
        Self { database, jwks }
    }

    pub fn readiness(&self) -> Readiness {
        Readiness {
            database: self.database.is_up(),
            jwks: self.jwks.is_loaded(),
        }
    }
}

/// The gauges read from the database, shared by every replica: refreshed when scraped.
pub struct Gauges {
    store: Store,
    metrics: Arc<Metrics>,
    /// Prefix mode: the shared bucket, whose policy's size is reported.
    shared: Option<BucketName>,
}

impl Gauges {
    pub fn new(store: Store, metrics: Arc<Metrics>, shared: Option<BucketName>) -> Self {
        Self { store, metrics, shared }
    }

    /// Counts users, buckets and owners warned or over a quota (and the shared bucket's policy
    /// size) again; a count the
    /// database does not answer keeps its last value.
    pub async fn refresh(&self) {
        if let Ok((ready, pending)) = self.store.count_users().await {
            self.metrics.users.set(ready + pending);
        }
        if let Ok(buckets) = self.store.count_buckets().await {
            self.metrics.buckets.set(buckets);
        }
        if let Ok(states) = self.store.quota_states().await {
            for kind in ["user", "org"] {
                for level in [QuotaLevel::Warned, QuotaLevel::Over] {
                    let n = states
                        .iter()
                        .filter(|s| s.storage.owner.kind() == kind && s.level == level)
                        .count();
                    self.metrics
                        .quota_owners
                        .with_label_values(&[kind, level.as_str()])
                        .set(i64::try_from(n).unwrap_or(i64::MAX));
                }
            }
        }
        if let Some(bucket) = &self.shared
            && let Ok(Some(bytes)) = self.store.shared_policy_bytes(bucket).await
        {
            self.metrics.shared_policy_bytes.set(bytes);
        }
    }
}
