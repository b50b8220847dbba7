//! A sweep: every owner who may be warned or over (at or over 90% of their kind's `[quota]`
//! default, with an override, or with a state recorded) evaluated in their current storage.
//! Run at start, so a changed `[quota]` default, or a state recorded for storage its owner
//! no longer has, holds before that storage's next event or reconciliation; then every
//! bucket holding an owner over has its Deny written again.

use super::Quotas;
use crate::identity::{Owner, OwnerStorage};
use crate::store::{QuotaLevel, QuotaLimits, StoreError, WARN_PERCENT};

/// Where warning starts under `limits`: 90% of each, rounded up.
fn warn_bound(limits: QuotaLimits) -> QuotaLimits {
    let bound = |l: u64| u64::try_from((u128::from(l) * u128::from(WARN_PERCENT)).div_ceil(100)).unwrap_or(u64::MAX);
    QuotaLimits {
        bytes: limits.bytes.map(bound),
        objects: limits.objects.map(bound),
    }
}

impl Quotas {
    /// Evaluates everyone who may be warned or over (see the module); returns how many
    /// storages were evaluated.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let mut storages = self
            .store
            .storages_at_least(warn_bound(self.defaults.user), warn_bound(self.defaults.org))
            .await?;
        let mut owners: Vec<Owner> = self.read().overrides.keys().cloned().collect();
        owners.extend(self.store.quota_states().await?.into_iter().map(|s| s.storage.owner));
        for owner in owners {
            if let Some(s) = self.current_storage(&owner).await? {
                storages.push(s);
            }
        }
        storages.sort_by(|a, b| (a.bucket.as_str(), &a.prefix).cmp(&(b.bucket.as_str(), &b.prefix)));
        storages.dedup();
        let n = storages.len();
        self.reevaluate(super::Changed(storages)).await;
        // A replica that stopped between recording a level and writing the Deny left the
        // bucket's policy behind the database: write every bucket holding an owner over.
        let over = self
            .store
            .quota_states()
            .await?
            .into_iter()
            .filter(|s| s.level == QuotaLevel::Over);
        self.sync_buckets(over.map(|s| s.storage.bucket).collect()).await?;
        Ok(n)
    }

    /// What `owner`'s row names as their storage now; `None` without a row.
    async fn current_storage(&self, owner: &Owner) -> Result<Option<OwnerStorage>, StoreError> {
        let at = |bucket: &crate::identity::BucketName, prefix: &str| OwnerStorage {
            owner: owner.clone(),
            bucket: bucket.clone(),
            prefix: prefix.to_owned(),
        };
        Ok(match owner {
            Owner::User(u) => self.store.user(u).await?.map(|r| at(&r.bucket, r.key_prefix())),
            Owner::Org(o) => self.store.org(o).await?.map(|r| at(&r.bucket, r.key_prefix())),
        })
    }
}

/// Sweeps once in the background (at start: the service serves meanwhile, from the states
/// recorded).
pub fn spawn_sweep(quotas: std::sync::Arc<Quotas>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match quotas.sweep().await {
            Ok(n) => tracing::info!(storages = n, "quota sweep done"),
            Err(e) => {
                tracing::warn!(error = %e, "quota sweep failed; each storage is evaluated at its next event or reconciliation");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_starts_at_ninety_percent_rounded_up() {
        let l = |bytes, objects| QuotaLimits { bytes, objects };
        assert_eq!(warn_bound(l(Some(1000), Some(10))), l(Some(900), Some(9)));
        assert_eq!(warn_bound(l(Some(7), None)), l(Some(7), None), "6.3 rounds up to 7");
        assert_eq!(warn_bound(l(Some(0), None)), l(Some(0), None));
        assert_eq!(warn_bound(QuotaLimits::NONE), QuotaLimits::NONE);
    }
}
