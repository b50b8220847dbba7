//! Storage quotas (issue 25): usage from S3's events, reconciled from listings and shown to
//! operators, limits, and the cut of live write sessions in the bucket policy.

// The bucket-policy Deny of over-limit owners' writes (`usecase::quota::deny`).
mod deny;
mod deny_full;
mod deny_race;

// Reconciliation (on demand and scheduled) and the usage views (admin API, console, web bar).
mod reconcile;
mod reconcile_schedule;
mod usage;
mod usage_bar;
mod usage_console;
mod usage_support;
