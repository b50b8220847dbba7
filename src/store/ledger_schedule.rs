//! Reconciliation's schedule and the admin's view of the ledger (issue 25, quotas).
//!
//! Every owner (user or org) has one row: when its storage's next full listing is due, and
//! until when a replica holds the claim to list it. Claims are taken by one atomic statement
//! (`UPDATE … WHERE due … RETURNING`; `PostgreSQL` skips rows another replica has locked), so a
//! fleet of N replicas lists each owner once per period, not N times; a claim that its replica
//! never released (it died) lapses after its lease. An on-demand run takes the same claim, so
//! two runs for one owner never overlap anywhere in the fleet.
//!
//! Owners get their row lazily ([`Store::schedule_owners`], run by the scheduler now and then),
//! due at a random point of the first period, so a fleet started on a full database does not
//! list every bucket at once; after a run, the next is one period later.

use time::{Duration, OffsetDateTime};

use super::ledger::{Usage, event_ms};
use super::{Store, StoreError};
use crate::identity::Owner;

/// Which owners a usage list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    Org,
}

impl OwnerKind {
    /// As the ledger stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Org => "org",
        }
    }
}

/// Where a page of the largest owners starts: after this owner's (bytes, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCursor {
    pub bytes: i64,
    pub owner_id: String,
}

/// `d` in milliseconds, for SQL.
pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

impl Store {
    /// Gives every user and org without a row one, due at a random point within `period` from
    /// `now`, and drops the rows of owners deleted since. Returns how many were added.
    pub async fn schedule_owners(&self, now: OffsetDateTime, period: Duration) -> Result<u64, StoreError> {
        let (now, period) = (event_ms(now), duration_ms(period).max(1));
        on_backend!(self, s => s.schedule_owners(now, period).await)
    }

    /// Claims up to `limit` owners whose reconciliation is due at `now` and that nobody holds:
    /// each is held until `now + lease` and next due at `now + period`.
    pub async fn claim_due_reconciliations(
        &self,
        now: OffsetDateTime,
        period: Duration,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Owner>, StoreError> {
        let (now, period, lease) = (event_ms(now), duration_ms(period), duration_ms(lease));
        on_backend!(self, s => s.claim_due_reconciliations(now, period, lease, limit).await)
    }

    /// Claims `owner`'s reconciliation at once (on demand), held until `now + lease`; `false`
    /// when a replica holds it already.
    pub async fn claim_reconciliation(
        &self,
        owner: &Owner,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let (now, lease) = (event_ms(now), duration_ms(lease));
        on_backend!(self, s => s.claim_reconciliation(owner, now, lease).await)
    }

    /// Ends the claim on `owner`'s reconciliation; `next`: when the next one is due (unchanged
    /// when `None`).
    pub async fn release_reconciliation(&self, owner: &Owner, next: Option<OffsetDateTime>) -> Result<(), StoreError> {
        let next = next.map(event_ms);
        on_backend!(self, s => s.release_reconciliation(owner, next).await)
    }

    /// When `owner`'s next reconciliation is due, and whether a replica holds its claim at
    /// `now`; `None` before the owner has a row.
    pub async fn reconciliation_due(
        &self,
        owner: &Owner,
        now: OffsetDateTime,
    ) -> Result<Option<(OffsetDateTime, bool)>, StoreError> {
        let row = on_backend!(self, s => s.reconciliation_due(owner).await)?;
        row.map(|(due, until)| Ok((super::ledger::ms_time(due)?, until > event_ms(now))))
            .transpose()
    }

    /// The `limit` owners of `kind` storing the most bytes in their current storage (a
    /// deleted owner's old storage is not shown), largest first, after `after`.
    pub async fn largest_usage(
        &self,
        kind: OwnerKind,
        after: Option<UsageCursor>,
        limit: u32,
    ) -> Result<Vec<Usage>, StoreError> {
        on_backend!(self, s => s.largest_usage(kind, after, limit).await)
    }
}
