//! Quotas in the store (issue 25): each owner's override of the `[quota]` limits, and each
//! owner's quota state (warned at 90% of a limit, or over one) with the storage and the usage
//! that put them there. Both go on the change feed ([`Changed::Quota`](super::Changed)) in the
//! transaction that changes them, so every replica's in-memory view (`usecase::quota::limits`)
//! follows within the feed's bound.
//!
//! Only warned and over owners have a state row: an owner under every limit has none.
//! [`Store::evaluate_quota`] reads a storage's totals and writes the state in one transaction
//! that takes the ledger's lock on that storage first, so an evaluation never records a level
//! from totals older than the last one recorded.

use time::OffsetDateTime;

use super::ledger::{Totals, ms_time};
use super::{Store, StoreError};
use crate::identity::{BucketName, Owner, OwnerStorage};

/// Limits on one owner's storage; `None`: unlimited. A limit of 0 is a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    pub bytes: Option<u64>,
    pub objects: Option<u64>,
}

/// How close an owner is to a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QuotaLevel {
    /// At or over 90% of a limit, under every limit.
    Warned,
    /// At or over a limit: writes are refused.
    Over,
}

/// Percent of a limit at which an owner is warned.
pub const WARN_PERCENT: u64 = 90;

impl QuotaLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warned => "warned",
            Self::Over => "over",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "warned" => Ok(Self::Warned),
            "over" => Ok(Self::Over),
            other => Err(StoreError::Corrupt(format!("quota level `{other}`"))),
        }
    }
}

impl QuotaLimits {
    /// Unlimited in both.
    pub const NONE: Self = Self {
        bytes: None,
        objects: None,
    };

    /// The level `usage` is at under these limits; `None`: under 90% of each.
    pub fn level(&self, usage: Totals) -> Option<QuotaLevel> {
        [(usage.bytes, self.bytes), (usage.objects, self.objects)]
            .into_iter()
            .filter_map(|(used, limit)| Some((u64::try_from(used.max(0)).unwrap_or(0), limit?)))
            .map(|(used, limit)| {
                if used >= limit {
                    Some(QuotaLevel::Over)
                } else if u128::from(used) * 100 >= u128::from(limit) * u128::from(WARN_PERCENT) {
                    Some(QuotaLevel::Warned)
                } else {
                    None
                }
            })
            .max()
            .flatten()
    }
}

/// An owner warned or over, with the storage and usage that put them there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaState {
    pub storage: OwnerStorage,
    pub level: QuotaLevel,
    pub usage: Totals,
    /// The ledger's `as_of` for `usage`.
    pub as_of: OffsetDateTime,
    /// When the owner reached this level.
    pub since: OffsetDateTime,
}

/// What [`Store::evaluate_quota`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluated {
    pub before: Option<QuotaLevel>,
    pub after: Option<QuotaLevel>,
    pub usage: Totals,
}

impl Evaluated {
    /// True when the owner went into or out of "over" (the bucket's Deny must be rewritten).
    pub fn crossed_over(&self) -> bool {
        (self.before == Some(QuotaLevel::Over)) != (self.after == Some(QuotaLevel::Over))
    }
}

/// A state row as both backends read it.
pub(super) struct RawState {
    pub kind: String,
    pub id: String,
    pub level: String,
    pub bucket: String,
    pub prefix: String,
    pub bytes: i64,
    pub objects: i64,
    pub as_of_ms: i64,
    pub since_ms: i64,
}

/// The columns [`RawState`] is read from, in order.
pub(super) const STATE_COLUMNS: &str =
    "owner_kind, owner_id, level, bucket, prefix, bytes, objects, as_of_ms, since_ms";

impl RawState {
    pub fn parse(self) -> Result<QuotaState, StoreError> {
        let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
        Ok(QuotaState {
            storage: OwnerStorage {
                owner: Owner::parse(&self.kind, &self.id).map_err(corrupt)?,
                bucket: BucketName::parse(&self.bucket).map_err(corrupt)?,
                prefix: self.prefix,
            },
            level: QuotaLevel::parse(&self.level)?,
            usage: Totals {
                bytes: self.bytes,
                objects: self.objects,
            },
            as_of: ms_time(self.as_of_ms)?,
            since: ms_time(self.since_ms)?,
        })
    }
}

/// A stored limit (`BIGINT`) as a limit; a negative one cannot be written.
pub(super) fn limit_of(v: Option<i64>) -> Option<u64> {
    v.map(|v| u64::try_from(v).unwrap_or(0))
}

/// A limit as stored; limits above `i64::MAX` are refused at the admin API.
pub(super) fn stored_limit(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

impl Store {
    /// Every owner's override, for the in-memory view.
    pub async fn quota_overrides(&self) -> Result<Vec<(Owner, QuotaLimits)>, StoreError> {
        on_backend!(self, s => s.quota_overrides().await)
    }

    /// `owner`'s override, if they have one.
    pub async fn quota_override(&self, owner: &Owner) -> Result<Option<QuotaLimits>, StoreError> {
        on_backend!(self, s => s.quota_override(owner).await)
    }

    /// Sets (`Some`) or removes (`None`: back to the `[quota]` defaults) `owner`'s override,
    /// and puts the owner on the change feed.
    pub async fn set_quota_override(&self, owner: &Owner, limits: Option<QuotaLimits>) -> Result<(), StoreError> {
        on_backend!(self, s => s.set_quota_override(owner, limits).await)
    }

    /// Every owner warned or over, for the in-memory view and the admin views.
    pub async fn quota_states(&self) -> Result<Vec<QuotaState>, StoreError> {
        on_backend!(self, s => s.quota_states(None).await)
    }

    /// `owner`'s state; `None` when under 90% of every limit.
    pub async fn quota_state(&self, owner: &Owner) -> Result<Option<QuotaState>, StoreError> {
        Ok(on_backend!(self, s => s.quota_states(Some(owner)).await)?.pop())
    }

    /// Reads `storage`'s totals and records its owner's level under `limits`, in one
    /// transaction: a new level (or the same level reached in other storage) replaces the
    /// state row, under every limit removes it, and either goes on the change feed; the same
    /// level in the same storage changes nothing.
    pub async fn evaluate_quota(&self, storage: &OwnerStorage, limits: QuotaLimits) -> Result<Evaluated, StoreError> {
        on_backend!(self, s => s.evaluate_quota(storage, limits).await)
    }

    /// The storages at or over `user` (users') or `org` (organisations') totals, either
    /// measure (`None`: not asked): whom a sweep evaluates against the `[quota]` defaults.
    pub async fn storages_at_least(
        &self,
        user: QuotaLimits,
        org: QuotaLimits,
    ) -> Result<Vec<OwnerStorage>, StoreError> {
        on_backend!(self, s => s.storages_at_least(user, org).await)
    }

    /// The owners over a limit whose storage is in `bucket`: whose live sessions' writes the
    /// bucket policy must deny.
    pub async fn over_quota_in_bucket(&self, bucket: &BucketName) -> Result<Vec<OwnerStorage>, StoreError> {
        on_backend!(self, s => s.over_quota_in_bucket(bucket).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_at_or_over_a_limit_and_at_or_over_ninety_percent_of_one() {
        let l = |bytes, objects| QuotaLimits { bytes, objects };
        let u = |bytes, objects| Totals { bytes, objects };
        assert_eq!(QuotaLimits::NONE.level(u(i64::MAX, i64::MAX)), None);
        assert_eq!(l(Some(100), None).level(u(89, 1_000)), None);
        assert_eq!(l(Some(100), None).level(u(90, 0)), Some(QuotaLevel::Warned));
        assert_eq!(l(Some(100), None).level(u(100, 0)), Some(QuotaLevel::Over));
        assert_eq!(l(Some(100), Some(10)).level(u(95, 10)), Some(QuotaLevel::Over));
        assert_eq!(l(Some(100), Some(10)).level(u(0, 9)), Some(QuotaLevel::Warned));
        assert_eq!(l(Some(0), None).level(u(0, 0)), Some(QuotaLevel::Over), "0 is a limit");
        assert_eq!(l(Some(u64::MAX), None).level(u(i64::MAX, 0)), None);
    }
}
