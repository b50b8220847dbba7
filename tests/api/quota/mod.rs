//! Storage quotas (issue 25): S3's object events reach the ledger through the usage queue,
//! exactly, in both storage modes, under duplicated and reordered deliveries and two consuming
//! replicas (the queue takes events only from this account's buckets); owners at a limit lose
//! their writes, live sessions included, through the bucket policy; listings reconcile the
//! ledger, and operators and users see the usage.

// The bucket-policy Deny of over-limit owners' writes (`usecase::quota::deny`).
mod deny;
mod deny_full;
mod deny_race;
// Events from S3 into the ledger (`usecase::quota::consume`).
mod events;
mod events_changed;
mod events_delivery;
mod events_fleet;
mod events_ops;
mod events_orgs;
mod events_outage;
// limits: overrides, enforcement on vend and presign, the warning, `/v1/me` usage. The
// ledger is filled directly here (`limits::fill`): the queue consumer's own tests feed it
// from S3.
mod enforce;
mod enforce_fleet;
mod enforce_presign;
mod limits;
mod overrides;
mod overrides_cli;
// The whole pipeline end to end: S3's events through the queue, the ledger, the limits and the
// bucket-policy Deny, with nothing filled or synced by hand.
mod pipeline;
mod pipeline_dropped;
mod pipeline_overshoot;
mod pipeline_replicas;

// Reconciliation (on demand and scheduled) and the usage views (admin API, console, web bar).
mod reconcile;
mod reconcile_schedule;
mod usage;
mod usage_bar;
mod usage_console;
mod usage_support;
