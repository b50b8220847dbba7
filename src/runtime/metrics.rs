//! Prometheus metrics, one registry per application (so tests running several apps in one
//! process do not mix their counts). Served on `server.metrics_bind`, apart from the API.

use std::cell::RefCell;
use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

pub struct Metrics {
    registry: Registry,
    /// Every metric's full name, histograms' series included (`stsvend metrics`).
    names: Vec<String>,
    /// Vend requests by outcome (`ok` or the error code) and access level.
    pub vends: IntCounterVec,
    /// Children of `vends` for `ok`, by template index (see `index_templates`).
    vends_ok: OnceLock<Vec<IntCounter>>,
    /// Latency of API requests by route.
    pub request_seconds: HistogramVec,
    /// AWS calls by service and operation, and those that failed, by kind.
    pub aws_calls: IntCounterVec,
    pub aws_errors: IntCounterVec,
    /// Attempts after the first, by service and operation.
    pub aws_retries: IntCounterVec,
    /// Cache lookups by cache (`credentials`, `mappings`) and result (`hit`, `miss`).
    pub cache: IntCounterVec,
    /// Children of `cache` resolved once, for the warm path: (cache, [miss, hit]).
    cache_children: Vec<(&'static str, [IntCounter; 2])>,
    pub provisioned: IntCounter,
    pub provision_seconds: Histogram,
    /// First logins refused because AWS's bucket quota is used up.
    pub bucket_quota_exhausted: IntCounter,
    /// First logins refused by `limits.new_users_per_minute` (`per_minute`) or
    /// `limits.new_users_per_day` (`per_day`).
    pub new_users_refused: IntCounterVec,
    /// Buckets the users hold (own buckets, and each shared bucket once; refreshed at each
    /// scrape), and `storage.bucket_quota`: the quota alert compares the two.
    pub buckets: IntGauge,
    pub bucket_quota: IntGauge,
    /// JWKS fetches by outcome.
    pub jwks_refreshes: IntCounterVec,
    /// Users in the database (refreshed at each scrape).
    pub users: IntGauge,
    /// Prefix mode: bytes of the shared bucket's policy as last written, of S3's 20480
    /// (refreshed at each scrape, from the database: the same on every replica).
    pub shared_policy_bytes: IntGauge,
    /// Users whose cached state was dropped because the change feed named them.
    pub coherence_drops: IntCounter,
    /// Reads of the change feed that failed (caches may be stale while they do).
    pub coherence_errors: IntCounter,
    /// Times this process found changes it never read pruned from the feed, and dropped
    /// every cached mapping and credential.
    pub coherence_gaps: IntCounter,
    /// The change feed's sequence number this process has read up to: a replica whose value
    /// trails the others' is behind on the fleet's changes.
    pub change_feed_read: IntGauge,
    /// Stored mappings refused because they disagree with the configuration, by reason.
    pub mapping_rejected: IntCounterVec,
    /// 1 while the database answers this process's pings, 0 while it does not.
    pub database_up: IntGauge,
    /// Quotas: reconciliations of an owner's storage by result (`ok`, `failed`), and the
    /// drift they found, by direction (`missed`: the listing held more than the ledger, from
    /// lost events or writes from before notifications were set; `overcounted`: less).
    pub quota_reconciliations: IntCounterVec,
    pub quota_drift_bytes: IntCounterVec,
    pub quota_drift_objects: IntCounterVec,
    /// Quotas: owners whose writes this process's last sync of each bucket denies in its policy.
    pub quota_denied_owners: IntGauge,
    /// Quotas: owners warned (at 90% of a limit) or over one, by kind (`user`, `org`) and
    /// level (`warned`, `over`), counted in the database at each scrape (fleet-wide).
    pub quota_owners: IntGaugeVec,
    /// Quotas: syncs of a bucket's quota statements that failed, or left owners out, by reason.
    pub quota_deny_errors: IntCounterVec,
    /// Quotas: S3 events the consumer read, by what became of them (`applied`, `stale`,
    /// `no_owner`, `test_event`, `unparsable`, `other_kind`).
    pub quota_events: IntCounterVec,
    /// Quotas: age of the oldest message in the last batch received (0 when none came).
    pub quota_queue_lag: IntGauge,
    /// Quotas: consumer failures by stage (`receive`, `apply`, `delete`).
    pub quota_consumer_errors: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("stsvend".to_owned()), None).expect("static prefix is valid");
        let names = RefCell::new(Vec::new());
        // Registers a metric and records its names: the registry's text output leaves out a
        // labelled metric until one of its series has been used.
        let register = |c: Box<dyn Collector>, histogram: bool| {
            for desc in c.desc() {
                let name = format!("stsvend_{}", desc.fq_name);
                if histogram {
                    names
                        .borrow_mut()
                        .extend(["_bucket", "_sum", "_count"].map(|s| format!("{name}{s}")));
                }
                names.borrow_mut().push(name);
            }
            registry.register(c).expect("metric registered once");
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric is valid");
            register(Box::new(c.clone()), false);
            c
        };
        let vends = counter_vec(
            "vends_total",
            "Vend requests by outcome and access level",
            &["outcome", "access"],
        );
        let aws_calls = counter_vec(
            "aws_calls_total",
            "AWS calls by service and operation",
            &["service", "operation"],
        );
        let aws_retries = counter_vec(
            "aws_retries_total",
            "AWS calls the SDK sent again (throttling, 5xx), by service and operation",
            &["service", "operation"],
        );
        let aws_errors = counter_vec(
            "aws_errors_total",
            "Failed AWS calls by service, operation and kind",
            &["service", "operation", "kind"],
        );
        let cache = counter_vec(
            "cache_lookups_total",
            "Cache lookups by cache and result",
            &["cache", "result"],
        );
        let mapping_rejected = counter_vec(
            "mapping_rejected_total",
            "Stored user mappings refused because they disagree with the configuration (a tampered or corrupt row), by reason",
            &["reason"],
        );
        let quota_events = counter_vec(
            "quota_events_total",
            "Quotas: S3 object events read from the queue, by result (applied, stale, no_owner, test_event, unparsable, other_kind)",
            &["result"],
        );
        let quota_consumer_errors = counter_vec(
            "quota_consumer_errors_total",
            "Quotas: queue consumer failures by stage (receive, apply, delete); the messages come back and are applied later",
            &["stage"],
        );
        for result in ["applied", "stale", "no_owner", "test_event", "unparsable", "other_kind"] {
            quota_events.with_label_values(&[result]);
        }
        for stage in ["receive", "apply", "delete"] {
            quota_consumer_errors.with_label_values(&[stage]);
        }
        let jwks_refreshes = counter_vec("jwks_refreshes_total", "JWKS fetches by outcome", &["outcome"]);
        let new_users_refused = counter_vec(
            "new_users_refused_total",
            "First logins refused by a new-user limit (per_minute: the rate, per_day: the daily bound)",
            &["limit"],
        );
        // Both series exist from the start, so an alert's increase() sees the first refusal.
        for limit in ["per_minute", "per_day"] {
            new_users_refused.with_label_values(&[limit]);
        }
        let quota_reconciliations = counter_vec(
            "quota_reconciliations_total",
            "Reconciliations (full listings) of an owner's storage, by result",
            &["result"],
        );
        let quota_drift_bytes = counter_vec(
            "quota_reconcile_drift_bytes_total",
            "Bytes reconciliations corrected in the usage ledger, by direction (missed: the listing held more)",
            &["direction"],
        );
        let quota_drift_objects = counter_vec(
            "quota_reconcile_drift_objects_total",
            "Objects reconciliations corrected in the usage ledger, by direction (missed: the listing held more)",
            &["direction"],
        );
        for direction in ["missed", "overcounted"] {
            quota_drift_bytes.with_label_values(&[direction]);
            quota_drift_objects.with_label_values(&[direction]);
        }
        for result in ["ok", "failed"] {
            quota_reconciliations.with_label_values(&[result]);
        }
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("request_duration_seconds", "API request latency by route")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("static metric is valid");
        register(Box::new(request_seconds.clone()), true);
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("static metric is valid");
            register(Box::new(c.clone()), false);
            c
        };
        let provisioned = counter("users_provisioned_total", "First-login provisioning runs completed");
        let bucket_quota_exhausted = counter(
            "bucket_quota_exhausted_total",
            "First logins refused because the AWS account's bucket quota is used up (TooManyBuckets)",
        );
        let coherence_drops = counter(
            "coherence_drops_total",
            "Users whose cached state was dropped after a change made anywhere in the fleet",
        );
        let coherence_errors = counter("coherence_errors_total", "Failed reads of the change feed");
        let coherence_gaps = counter(
            "coherence_gaps_total",
            "Times changes this process never read had been pruned from the feed (every cache dropped)",
        );
        let provision_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "provision_duration_seconds",
                "Time to create and configure a user's bucket",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("static metric is valid");
        register(Box::new(provision_seconds.clone()), true);
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("static metric is valid");
            register(Box::new(g.clone()), false);
            g
        };
        let users = gauge("users", "Users in the database");
        let buckets = gauge(
            "buckets",
            "Buckets stsvend's users hold: one per bucket-mode user, each shared bucket once",
        );
        let bucket_quota = gauge(
            "bucket_quota",
            "The account's bucket quota as configured (storage.bucket_quota)",
        );
        let database_up = gauge(
            "database_up",
            "1 while the database answers, 0 while it does not (cached users are still served)",
        );
        let shared_policy_bytes = gauge(
            "shared_bucket_policy_bytes",
            "Prefix mode: bytes of the shared bucket's policy as stsvend last wrote it (S3 allows 20480)",
        );
        let change_feed_read = gauge(
            "change_feed_read_sequence",
            "The change feed's sequence number this process has read up to (its caches reflect every change before it)",
        );
        let quota_denied_owners = gauge(
            "quota_denied_owners",
            "Owners over a storage limit whose writes are denied in bucket policies (as this process last wrote them)",
        );
        let quota_owners = IntGaugeVec::new(
            Opts::new(
                "quota_owners",
                "Quotas: owners warned (90% of a limit) or over a limit, by kind and level (counted in the database at each scrape)",
            ),
            &["kind", "level"],
        )
        .expect("static metric is valid");
        register(Box::new(quota_owners.clone()), false);
        for kind in ["user", "org"] {
            for level in ["warned", "over"] {
                quota_owners.with_label_values(&[kind, level]);
            }
        }
        let quota_deny_errors = counter_vec(
            "quota_deny_errors_total",
            "Syncs of a bucket's quota Deny that failed (store, aws, policy_busy) or left owners undenied (policy_full)",
            &["reason"],
        );
        for reason in ["store", "aws", "policy_busy", "policy_full"] {
            quota_deny_errors.with_label_values(&[reason]);
        }
        let quota_queue_lag = gauge(
            "quota_queue_lag_seconds",
            "Quotas: age of the oldest message in the last batch received from the queue (0 when none came)",
        );
        let cache_children = ["credentials", "mappings"]
            .into_iter()
            .map(|name| {
                let child = |result: &str| cache.with_label_values(&[name, result]);
                (name, [child("miss"), child("hit")])
            })
            .collect();
        let mut names = names.into_inner();
        names.sort();
        Self {
            registry,
            names,
            vends,
            vends_ok: OnceLock::new(),
            request_seconds,
            aws_calls,
            aws_errors,
            aws_retries,
            cache,
            cache_children,
            provisioned,
            provision_seconds,
            bucket_quota_exhausted,
            new_users_refused,
            buckets,
            bucket_quota,
            jwks_refreshes,
            users,
            shared_policy_bytes,
            coherence_drops,
            coherence_errors,
            coherence_gaps,
            change_feed_read,
            mapping_rejected,
            database_up,
            quota_reconciliations,
            quota_drift_bytes,
            quota_drift_objects,
            quota_denied_owners,
            quota_owners,
            quota_deny_errors,
            quota_events,
            quota_queue_lag,
            quota_consumer_errors,
        }
    }

    pub fn cache_lookup(&self, cache: &str, hit: bool) {
        match self.cache_children.iter().find(|(name, _)| *name == cache) {
            Some((_, children)) => children[usize::from(hit)].inc(),
            None => self
                .cache
                .with_label_values(&[cache, if hit { "hit" } else { "miss" }])
                .inc(),
        }
    }

    /// Resolves the `ok` vend counter of each template once; `names` in template-index order.
    pub fn index_templates<'a>(&self, names: impl Iterator<Item = &'a str>) {
        let _ = self
            .vends_ok
            .set(names.map(|n| self.vends.with_label_values(&["ok", n])).collect());
    }

    /// One vend answered with keys of the template at `index`.
    pub fn vend_ok(&self, index: u8) {
        if let Some(c) = self.vends_ok.get().and_then(|v| v.get(usize::from(index))) {
            c.inc();
        }
    }

    /// The full name of every metric this service exports, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
