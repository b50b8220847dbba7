//! Storage quotas and usage (issue 25): S3 tells stsvend of every object written or removed,
//! the ledger (`store::ledger`) keeps each owner's exact totals, and owners at a limit lose
//! write access: their write vends and pre-signed uploads are refused and their live sessions'
//! writes are denied in the bucket policy until they are back under it.
//!
//! - `consume`: the queue consumer (SQS long polling, batches applied to the ledger, messages
//!   deleted after the commit), run by every replica;
//! - `limits`: each owner's limits (`[quota]` and the per-owner overrides), their state
//!   (under, warned, over) kept in memory on every replica, and the checks vend and presign
//!   make;
//! - `deny`: the bucket-policy statements that cut a live session's writes, written from the
//!   owners the database says are over;
//! - `reconcile`: full listings that replace an owner's ledger rows, on a schedule and on
//!   demand, with their drift.
//!
//! The parts hand each other [`Changed`]: the storages whose totals a batch or a
//! reconciliation changed, for `limits` to read again.

pub mod consume;
pub mod deny;
pub mod limits;
pub mod reconcile;

use crate::identity::OwnerStorage;

/// Storages whose totals just changed (a batch committed, a reconciliation finished).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed(pub Vec<OwnerStorage>);

/// Where [`Changed`] is sent: `limits` receives it and re-reads those owners' totals.
pub type ChangedSender = tokio::sync::mpsc::UnboundedSender<Changed>;
