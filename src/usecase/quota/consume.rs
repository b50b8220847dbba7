//! The queue consumer (issue 25, quotas): every replica receives the buckets' S3 events from
//! the `[quota]` queue (long polling, up to 10 messages at once), applies them to the ledger in
//! one transaction (`Store::apply_notifications`), deletes the messages only once that has
//! committed, and tells `limits` which storages' totals changed ([`Changed`]).
//!
//! At-least-once is safe: the ledger applies an event only over an older sequencer, so a
//! message applied twice (by two replicas, or because its delete failed) counts once. When the
//! database or SQS fails, nothing is deleted: the messages come back after the queue's
//! visibility timeout and are applied then. The consumer backs off, logs one warning when a
//! run of failures starts and one line when it is over (`stsvend_quota_consumer_errors_total`
//! counts each). About once an hour it prunes the ledger's tombstones older than SQS's longest
//! retention (`Store::prune_tombstones`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Changed, ChangedSender};
use crate::aws::Sdk;
use crate::aws::s3::notification;
use crate::aws::sqs::{MAX_MESSAGES, MAX_WAIT, Message, Sqs};
use crate::config::Config;
use crate::identity::BucketName;
use crate::runtime::metrics::Metrics;
use crate::store::{BatchReport, OwnerResolver, Store, TOMBSTONE_DAYS};

/// How often tombstones are pruned.
const PRUNE_EVERY: Duration = Duration::from_hours(1);
/// Longest pause between two attempts while the database or SQS fails.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a consumer is made of.
pub struct ConsumerParts {
    pub store: Store,
    pub sqs: Sqs,
    pub queue_url: String,
    /// Resolves each event's key to its owner's storage (one per consumer: its cache is inside).
    pub owners: OwnerResolver,
    pub metrics: Arc<Metrics>,
    /// Where the storages whose totals changed are sent (`limits`'s receiver); `None`: nobody
    /// listens.
    pub changed: Option<ChangedSender>,
    /// How long one receive waits for a message (at most 20 s: SQS's long-poll limit).
    pub wait: Duration,
}

/// One replica's consumer of the usage queue.
pub struct Consumer {
    parts: ConsumerParts,
    receive: Outage,
    apply: Outage,
    delete: Outage,
    pruned: Option<Instant>,
    /// Set by `spawn`: a receive in progress ends when it turns true (a batch in hand is
    /// still applied and deleted).
    stop: Option<watch::Receiver<bool>>,
}

/// Stops the consumer: [`ConsumerHandle::stop`] waits for the batch in hand to be applied
/// and deleted; dropping the handle asks it to stop without waiting.
pub struct ConsumerHandle {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ConsumerHandle {
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ConsumerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Consumer {
    pub fn new(parts: ConsumerParts) -> Self {
        Self {
            parts,
            receive: Outage::new("receiving from the usage queue"),
            apply: Outage::new("applying usage events to the ledger"),
            delete: Outage::new("deleting applied messages from the usage queue"),
            pruned: None,
            stop: None,
        }
    }

    /// The consumer `config` asks for: `None` without `[quota]`. Its SQS calls are counted in
    /// `metrics` like the service's other AWS calls.
    pub async fn from_config(
        config: &Config,
        store: Store,
        metrics: Arc<Metrics>,
        changed: Option<ChangedSender>,
    ) -> Option<Self> {
        let quota = config.quota.as_ref()?;
        let sdk = Sdk::load(&config.aws).await;
        let shared: Option<BucketName> = config.storage.shared_bucket();
        let owners = OwnerResolver::new(
            store.clone(),
            &config.storage.prefix_root,
            &config.storage.org_prefix_root,
            shared,
        );
        Some(Self::new(ConsumerParts {
            store,
            sqs: Sqs::new(&sdk, Arc::clone(&metrics)),
            queue_url: quota.queue_url.clone(),
            owners,
            metrics,
            changed,
            wait: MAX_WAIT,
        }))
    }

    /// Runs until the handle says stop (or is dropped).
    pub fn spawn(mut self) -> ConsumerHandle {
        let (stop, mut stopped) = watch::channel(false);
        self.stop = Some(stopped.clone());
        let task = tokio::spawn(async move {
            let mut failures = 0u32;
            while !*stopped.borrow_and_update() {
                let round = self.round().await;
                failures = if round.is_ok() { 0 } else { failures.saturating_add(1) };
                if failures > 0 {
                    let pause = MAX_BACKOFF.min(Duration::from_millis(500) * 2u32.saturating_pow(failures.min(6)));
                    tokio::select! {
                        _ = stopped.changed() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                self.prune_now_and_then().await;
            }
            tracing::debug!("usage queue consumer stopped");
        });
        ConsumerHandle { stop, task: Some(task) }
    }

    /// One receive, apply and delete. An error leaves the messages on the queue (they come back
    /// after its visibility timeout); it has been counted and logged.
    async fn round(&mut self) -> Result<(), ()> {
        let p = &self.parts;
        let receive = p.sqs.receive(&p.queue_url, p.wait, MAX_MESSAGES);
        let received = match self.stop.as_mut() {
            Some(stop) => tokio::select! {
                _ = stop.wait_for(|s| *s) => return Ok(()),
                r = receive => r,
            },
            None => receive.await,
        };
        let messages = match received {
            Ok(m) => {
                self.receive.over();
                m
            }
            Err(e) => {
                p.metrics.quota_consumer_errors.with_label_values(&["receive"]).inc();
                self.receive.failed(&e);
                return Err(());
            }
        };
        p.metrics
            .quota_queue_lag
            .set(lag_seconds(&messages, time::OffsetDateTime::now_utc()));
        if messages.is_empty() {
            return Ok(());
        }
        let parsed = messages.iter().map(|m| notification::parse(&m.body)).collect();
        let report = match p.store.apply_notifications(&p.owners, parsed).await {
            Ok(r) => {
                self.apply.over();
                r
            }
            Err(e) => {
                p.metrics.quota_consumer_errors.with_label_values(&["apply"]).inc();
                self.apply.failed(&e);
                return Err(());
            }
        };
        count(&p.metrics, &report);
        let receipts: Vec<String> = messages.into_iter().map(|m| m.receipt).collect();
        match p.sqs.delete(&p.queue_url, &receipts).await {
            Ok(left) if left.is_empty() => self.delete.over(),
            Ok(left) => {
                // Applied already: they come back, and are found stale.
                p.metrics
                    .quota_consumer_errors
                    .with_label_values(&["delete"])
                    .inc_by(left.len() as u64);
                self.delete.failed(&format!(
                    "{} of {} messages: {}",
                    left.len(),
                    receipts.len(),
                    left[0].code
                ));
            }
            Err(e) => {
                p.metrics.quota_consumer_errors.with_label_values(&["delete"]).inc();
                self.delete.failed(&e);
            }
        }
        if let Some(tx) = p.changed.as_ref().filter(|_| !report.changed.is_empty()) {
            // A receiver gone means the service is stopping.
            let _ = tx.send(Changed(report.changed));
        }
        Ok(())
    }

    async fn prune_now_and_then(&mut self) {
        if self.pruned.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
            return;
        }
        self.pruned = Some(Instant::now());
        let before = time::OffsetDateTime::now_utc() - time::Duration::days(TOMBSTONE_DAYS);
        match self.parts.store.prune_tombstones(before).await {
            Ok(n) => tracing::debug!(pruned = n, "ledger tombstones pruned"),
            Err(e) => tracing::debug!(error = %e, "pruning ledger tombstones failed; the next hour tries again"),
        }
    }
}

/// Seconds from when the oldest message of a batch was sent to `now`; 0 for none.
fn lag_seconds(messages: &[Message], now: time::OffsetDateTime) -> i64 {
    messages
        .iter()
        .filter_map(|m| m.sent)
        .min()
        .map_or(0, |oldest| (now - oldest).whole_seconds().max(0))
}

fn count(metrics: &Metrics, r: &BatchReport) {
    for (result, n) in [
        ("applied", r.applied),
        ("stale", r.stale),
        ("no_owner", r.no_owner),
        ("test_event", r.test_events),
        ("unparsable", r.unparsable),
        ("other_kind", r.other_kinds),
    ] {
        if n > 0 {
            metrics.quota_events.with_label_values(&[result]).inc_by(u64::from(n));
        }
    }
}

/// A run of failures of one stage: one warning when it starts, one line when it is over.
struct Outage {
    what: &'static str,
    since: Option<Instant>,
}

impl Outage {
    fn new(what: &'static str) -> Self {
        Self { what, since: None }
    }

    fn failed(&mut self, e: &dyn std::fmt::Display) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(error = %e, "{} failed; the messages stay on the queue and come back (logged once until it works)", self.what);
        } else {
            tracing::debug!(error = %e, "{} failed again", self.what);
        }
    }

    fn over(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(after_seconds = since.elapsed().as_secs(), "{} works again", self.what);
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn sent(at: Option<time::OffsetDateTime>) -> Message {
        Message {
            id: String::new(),
            receipt: String::new(),
            body: String::new(),
            sent: at,
        }
    }

    #[test]
    fn the_lag_is_the_oldest_messages_age_and_zero_for_none() {
        let now = datetime!(2026-12-07 12:00:30 UTC);
        assert_eq!(lag_seconds(&[], now), 0);
        let batch = [
            sent(Some(datetime!(2026-12-07 12:00:20 UTC))),
            sent(None),
            sent(Some(datetime!(2026-12-07 12:00:05 UTC))),
        ];
        assert_eq!(lag_seconds(&batch, now), 25);
        assert_eq!(
            lag_seconds(&[sent(Some(now + time::Duration::seconds(3)))], now),
            0,
            "clock skew"
        );
    }

    #[test]
    fn each_result_is_counted_under_its_label() {
        let metrics = Metrics::new();
        count(
            &metrics,
            &BatchReport {
                applied: 3,
                stale: 2,
                no_owner: 1,
                test_events: 1,
                unparsable: 4,
                other_kinds: 5,
                changed: Vec::new(),
            },
        );
        let got = |r: &str| metrics.quota_events.with_label_values(&[r]).get();
        assert_eq!(
            ["applied", "stale", "no_owner", "test_event", "unparsable", "other_kind"].map(got),
            [3, 2, 1, 1, 4, 5]
        );
    }
}
