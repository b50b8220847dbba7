//! A batch of queue messages for the usage ledger (issue 25, quotas), already parsed
//! (`aws::s3::notification`): each event's owner resolved, the events applied in one
//! transaction, and everything left out counted, so the consumer can delete the messages once
//! this returns and report what it did.

use super::ledger::Applied;
use super::owners::OwnerResolver;
use super::{Store, StoreError};
use crate::identity::{Notification, OwnerStorage};

/// What a batch did, event by event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub applied: u32,
    /// Duplicates and events older than the ledger's state of their key.
    pub stale: u32,
    /// Keys in no owner's storage.
    pub no_owner: u32,
    pub test_events: u32,
    pub unparsable: u32,
    /// Records of kinds that change no size.
    pub other_kinds: u32,
    /// The storages whose totals the batch changed (for `usecase::quota::Changed`).
    pub changed: Vec<OwnerStorage>,
}

impl Store {
    /// Applies every event of `messages` (one transaction) and counts the rest.
    pub async fn apply_notifications(
        &self,
        owners: &OwnerResolver,
        messages: Vec<Notification>,
    ) -> Result<BatchReport, StoreError> {
        let mut all = Notification::default();
        for m in messages {
            all.absorb(m);
        }
        let mut report = BatchReport {
            test_events: all.test_events,
            unparsable: all.unparsable,
            other_kinds: all.other_kinds,
            ..BatchReport::default()
        };
        let mut batch = Vec::with_capacity(all.events.len());
        for event in all.events {
            match owners.resolve(&event.bucket, &event.key).await? {
                Some(storage) => batch.push((storage, event)),
                None => report.no_owner += 1,
            }
        }
        let Applied {
            applied,
            stale,
            changed,
        } = self.ledger_apply(batch).await?;
        report.applied = applied;
        report.stale = stale;
        report.changed = changed;
        Ok(report)
    }
}
