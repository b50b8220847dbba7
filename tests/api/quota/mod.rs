//! Quotas (issue 25): S3's object events reach the ledger through the usage queue, exactly,
//! in both storage modes, under duplicated and reordered deliveries and two consuming replicas;
//! the queue takes events only from this account's buckets.

mod events;
mod events_changed;
mod events_delivery;
mod events_fleet;
mod events_ops;
mod events_orgs;
mod events_outage;
