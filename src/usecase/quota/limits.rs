//! Each owner's limits and quota state, kept in memory on every replica ([`Quotas`]): loaded at
//! start, refreshed from the change feed (`Changed::Quota`, read by `vend::coherence`), so a
//! vend asks "is this owner over, or warned?" without a database round trip.
//!
//! The state is written by [`Quotas::reevaluate`]: for each storage whose totals changed (a
//! ledger batch, a reconciliation) that is still its owner's current storage, the store reads
//! the totals and records the owner's level under their limits in one transaction
//! (`Store::evaluate_quota`). A change into or out of "over" rewrites the bucket's Deny
//! ([`Quotas::sync_deny`], the one call site). The local view is refreshed at once; other
//! replicas follow within the feed's bound.
//!
//! Limits: an owner's override (admin API) wins over the `[quota]` default of their kind; a
//! limit left unset is unlimited.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;

mod sweep;

pub use sweep::spawn_sweep;

use super::Changed;
use super::deny::QuotaDeny;
use crate::config::QuotaConfig;
use crate::identity::{BucketName, Owner, OwnerStorage};
use crate::store::{Evaluated, QuotaLevel, QuotaLimits, QuotaState, Store, StoreError, Totals};

/// An owner's usage against their limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub owner: Owner,
    pub usage: Totals,
    pub limits: QuotaLimits,
    /// The ledger's time for `usage`.
    pub as_of: OffsetDateTime,
}

impl Report {
    /// The measures at or over 90% of their limit, with the percentage used (floored), e.g.
    /// `[("bytes", 93)]`.
    pub fn percents(&self) -> Vec<(&'static str, u64)> {
        [
            ("bytes", self.usage.bytes, self.limits.bytes),
            ("objects", self.usage.objects, self.limits.objects),
        ]
        .into_iter()
        .filter_map(|(name, used, limit)| {
            let limit = limit?;
            let used = u128::from(u64::try_from(used.max(0)).unwrap_or(0));
            let percent = if limit == 0 {
                100
            } else {
                u64::try_from(used * 100 / u128::from(limit)).unwrap_or(u64::MAX)
            };
            (percent >= crate::store::WARN_PERCENT).then_some((name, percent))
        })
        .collect()
    }
}

impl Report {
    /// `{"owner": "user"|"org", "usage": {bytes, objects, limit_bytes, limit_objects, as_of}}`:
    /// a `quota_exceeded` refusal's details (limits `null` when unlimited).
    pub fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "owner": self.owner.kind(),
            "usage": self.usage_json(),
        })
    }

    /// `{bytes, objects, limit_bytes, limit_objects, as_of}`.
    pub fn usage_json(&self) -> serde_json::Value {
        serde_json::json!({
            "bytes": self.usage.bytes,
            "objects": self.usage.objects,
            "limit_bytes": self.limits.bytes,
            "limit_objects": self.limits.objects,
            "as_of": crate::runtime::clock::format_time(self.as_of),
        })
    }
}

/// Where an owner stands, as this replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Under,
    /// At or over 90% of a limit.
    Warned(Report),
    /// At or over a limit: writes are refused.
    Over(Report),
}

/// The `[quota]` defaults by owner kind.
#[derive(Debug, Clone, Copy, Default)]
struct Defaults {
    user: QuotaLimits,
    org: QuotaLimits,
}

/// What this replica holds: every override, and every owner warned or over.
#[derive(Default)]
struct View {
    overrides: HashMap<Owner, QuotaLimits>,
    states: HashMap<Owner, QuotaState>,
}

/// Owners' limits and states, in memory (see the module).
pub struct Quotas {
    store: Store,
    defaults: Defaults,
    view: RwLock<View>,
    /// Serializes reads of the store into `view`, so a refresh that read older rows never
    /// lands after one that read newer rows.
    refreshing: tokio::sync::Mutex<()>,
    /// Writes the buckets' quota Deny (`None` in unit tests of the levels alone).
    deny: Option<Arc<QuotaDeny>>,
    /// Buckets whose Deny could not be written (lease busy, S3 or the database away): tried
    /// again by the receiver task every [`DENY_RETRY_EVERY`] until a write succeeds.
    deny_pending: std::sync::Mutex<Vec<BucketName>>,
    #[cfg(test)]
    pub(super) deny_calls: std::sync::Mutex<Vec<(BucketName, Vec<OwnerStorage>)>>,
}

impl Quotas {
    /// With the `[quota]` defaults; nothing loaded yet ([`Quotas::load`]).
    pub fn new(store: Store, config: &QuotaConfig) -> Self {
        Self {
            store,
            defaults: Defaults {
                user: QuotaLimits {
                    bytes: config.user_bytes,
                    objects: config.user_objects,
                },
                org: QuotaLimits {
                    bytes: config.org_bytes,
                    objects: config.org_objects,
                },
            },
            view: RwLock::new(View::default()),
            refreshing: tokio::sync::Mutex::new(()),
            deny: None,
            deny_pending: std::sync::Mutex::new(Vec::new()),
            #[cfg(test)]
            deny_calls: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The same, writing each bucket's quota Deny through `deny` when an owner goes into or
    /// out of "over".
    #[must_use]
    pub fn with_deny(mut self, deny: Arc<QuotaDeny>) -> Self {
        self.deny = Some(deny);
        self
    }

    /// Reads every override and state from the store (at start, and after a gap in the
    /// change feed).
    pub async fn load(&self) -> Result<(), StoreError> {
        let _turn = self.refreshing.lock().await;
        let overrides = self.store.quota_overrides().await?.into_iter().collect();
        let states = self
            .store
            .quota_states()
            .await?
            .into_iter()
            .map(|s| (s.storage.owner.clone(), s))
            .collect();
        *self.write() = View { overrides, states };
        Ok(())
    }

    /// Reads `owner`'s override and state again (the change feed named them).
    pub async fn refresh(&self, owner: &Owner) -> Result<(), StoreError> {
        let _turn = self.refreshing.lock().await;
        let limits = self.store.quota_override(owner).await?;
        let state = self.store.quota_state(owner).await?;
        let mut view = self.write();
        match limits {
            Some(l) => view.overrides.insert(owner.clone(), l),
            None => view.overrides.remove(owner),
        };
        match state {
            Some(s) => view.states.insert(owner.clone(), s),
            None => view.states.remove(owner),
        };
        Ok(())
    }

    /// `owner`'s limits: their override, else the default of their kind.
    pub fn limits(&self, owner: &Owner) -> QuotaLimits {
        let overridden = self.read().overrides.get(owner).copied();
        overridden.unwrap_or_else(|| self.default_of(owner))
    }

    /// The `[quota]` default of `owner`'s kind.
    fn default_of(&self, owner: &Owner) -> QuotaLimits {
        match owner {
            Owner::User(_) => self.defaults.user,
            Owner::Org(_) => self.defaults.org,
        }
    }

    /// `owner`'s override, if they have one.
    pub fn override_of(&self, owner: &Owner) -> Option<QuotaLimits> {
        self.read().overrides.get(owner).copied()
    }

    /// Where `owner` stands, from memory: one map lookup for an owner under every limit (the
    /// vend path).
    pub fn standing(&self, owner: &Owner) -> Standing {
        self.standing_with(owner, |_| true)
    }

    /// Where `owner` stands in `storage` (bucket, prefix), their current storage: a state
    /// recorded for other storage (an owner deleted while over and made again with new
    /// storage) does not count.
    pub fn standing_in(&self, owner: &Owner, storage: (&BucketName, &str)) -> Standing {
        self.standing_with(owner, |s| {
            s.storage.bucket == *storage.0 && s.storage.prefix == storage.1
        })
    }

    fn standing_with(&self, owner: &Owner, counts: impl Fn(&QuotaState) -> bool) -> Standing {
        let view = self.read();
        let Some(state) = view.states.get(owner).filter(|s| counts(s)) else {
            return Standing::Under;
        };
        let report = Report {
            owner: owner.clone(),
            usage: state.usage,
            limits: view
                .overrides
                .get(owner)
                .copied()
                .unwrap_or_else(|| self.default_of(owner)),
            as_of: state.as_of,
        };
        match state.level {
            QuotaLevel::Warned => Standing::Warned(report),
            QuotaLevel::Over => Standing::Over(report),
        }
    }

    /// `owner`'s current usage of `storage` read from the ledger (not the vend path: `/v1/me`
    /// and the admin views), with their limits.
    pub async fn report(&self, owner: &Owner, storage: (&BucketName, &str)) -> Result<Report, StoreError> {
        let usage = self.store.ledger_usage(storage.0, storage.1).await?;
        Ok(Report {
            owner: owner.clone(),
            usage: usage.as_ref().map_or_else(Totals::default, |u| u.totals),
            limits: self.limits(owner),
            as_of: usage.map_or_else(OffsetDateTime::now_utc, |u| u.as_of),
        })
    }

    /// Sets (`Some`) or removes (`None`) `owner`'s override, then evaluates the owner at once
    /// in `storage`, their current storage (`None`: they have none yet).
    pub async fn set_override(
        &self,
        owner: &Owner,
        limits: Option<QuotaLimits>,
        storage: Option<OwnerStorage>,
    ) -> Result<(), StoreError> {
        self.store.set_quota_override(owner, limits).await?;
        self.refresh(owner).await?;
        if let Some(storage) = storage {
            self.evaluate(&storage).await?;
        }
        Ok(())
    }

    /// Evaluates each storage of `changed` that is still its owner's current storage.
    pub async fn reevaluate(&self, changed: Changed) {
        for storage in changed.0 {
            let done = match self.is_current(&storage).await {
                Ok(true) => self.evaluate(&storage).await.map(|_| ()),
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                // The next batch or reconciliation of this storage evaluates it again.
                tracing::warn!(error = %e, owner_kind = storage.owner.kind(), owner_id = storage.owner.id(), "quota evaluation failed");
            }
        }
    }

    /// Records the owner's level in `storage` under their limits, refreshes this replica's
    /// view when it changed, and rewrites the bucket's Deny when they went into or out of
    /// "over".
    async fn evaluate(&self, storage: &OwnerStorage) -> Result<Evaluated, StoreError> {
        let limits = self.limits(&storage.owner);
        // Most batches change no level: two reads settle that without the write transaction
        // (which waits on the ledger's lock). Skipping is safe: a write made after these reads
        // by another replica reads totals at least as new.
        let usage = self
            .store
            .ledger_usage(&storage.bucket, &storage.prefix)
            .await?
            .map_or_else(Totals::default, |u| u.totals);
        let held = self.store.quota_state(&storage.owner).await?;
        let level = limits.level(usage);
        if held.as_ref().map(|h| h.level) == level && held.as_ref().is_none_or(|h| h.storage == *storage) {
            return Ok(Evaluated {
                before: level,
                after: level,
                usage,
            });
        }
        let e = self.store.evaluate_quota(storage, limits).await?;
        if e.before != e.after {
            tracing::info!(
                owner_kind = storage.owner.kind(),
                owner_id = storage.owner.id(),
                before = e.before.map(QuotaLevel::as_str),
                after = e.after.map(QuotaLevel::as_str),
                bytes = e.usage.bytes,
                objects = e.usage.objects,
                "quota state changed"
            );
            self.refresh(&storage.owner).await?;
        }
        if e.crossed_over() {
            let over = self.store.over_quota_in_bucket(&storage.bucket).await?;
            self.sync_deny(&storage.bucket, over).await;
        }
        Ok(e)
    }

    /// THE deny call site: every owner over a limit whose storage is in `bucket` (from
    /// `Store::over_quota_in_bucket`), after one of them went into or out of "over". A failed
    /// write leaves the bucket pending: the receiver task tries it again, reading the owners
    /// over afresh, until one succeeds (meanwhile their write vends are refused all the same).
    async fn sync_deny(&self, bucket: &BucketName, over: Vec<OwnerStorage>) {
        tracing::debug!(bucket = %bucket, over = over.len(), "the bucket's quota Deny is due a rewrite");
        #[cfg(test)]
        self.deny_calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((bucket.clone(), over.clone()));
        let Some(deny) = &self.deny else { return };
        let owners: Vec<Owner> = over.into_iter().map(|s| s.owner).collect();
        let written = deny.sync(bucket, &owners).await;
        let mut pending = self
            .deny_pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        pending.retain(|b| b != bucket);
        if let Err(e) = written {
            tracing::warn!(bucket = %bucket, error = %e, "writing the bucket's quota Deny failed; trying again shortly");
            pending.push(bucket.clone());
        }
    }

    /// Writes the Deny of every bucket left pending by a failed write, and of `also`.
    pub(super) async fn sync_buckets(&self, also: Vec<BucketName>) -> Result<(), StoreError> {
        let mut buckets = std::mem::take(
            &mut *self
                .deny_pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        buckets.extend(also);
        buckets.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        buckets.dedup();
        for (i, bucket) in buckets.iter().enumerate() {
            match self.store.over_quota_in_bucket(bucket).await {
                Ok(over) => self.sync_deny(bucket, over).await,
                Err(e) => {
                    self.deny_pending
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .extend(buckets[i..].iter().cloned());
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// True when `storage` is what its owner's row names as their storage now (a deleted
    /// owner's old storage, or one left by a mode switch, counts for no one).
    async fn is_current(&self, storage: &OwnerStorage) -> Result<bool, StoreError> {
        let at = |bucket: &BucketName, prefix: &str| *bucket == storage.bucket && prefix == storage.prefix;
        Ok(match &storage.owner {
            Owner::User(u) => self.store.user(u).await?.is_some_and(|r| at(&r.bucket, r.key_prefix())),
            Owner::Org(o) => self.store.org(o).await?.is_some_and(|r| at(&r.bucket, r.key_prefix())),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, View> {
        // A panic while holding it leaves plain maps; keep using them.
        self.view.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How often buckets whose quota Deny could not be written are tried again.
pub const DENY_RETRY_EVERY: Duration = Duration::from_secs(10);

/// Receives [`Changed`] (from the queue consumer and the reconciler) and re-evaluates those
/// storages, until every sender is dropped; between them, writes again the Deny of buckets
/// whose last write failed.
pub fn spawn_receiver(quotas: Arc<Quotas>, mut changes: UnboundedReceiver<Changed>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut retry = tokio::time::interval(DENY_RETRY_EVERY);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                next = changes.recv() => match next {
                    Some(storages) => quotas.reevaluate(storages).await,
                    None => break,
                },
                _ = retry.tick() => {
                    if let Err(e) = quotas.sync_buckets(Vec::new()).await {
                        tracing::warn!(error = %e, "reading the owners over quota failed; their buckets' Deny is tried again shortly");
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests;
