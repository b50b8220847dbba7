//! Prometheus metrics, one registry per application (so tests running several apps in one
//! process do not mix their counts). Served on `server.metrics_bind`, apart from the API.

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    registry: Registry,
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
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("stsvend".to_owned()), None).expect("static prefix is valid");
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric is valid");
            registry.register(Box::new(c.clone())).expect("metric registered once");
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
        let jwks_refreshes = counter_vec("jwks_refreshes_total", "JWKS fetches by outcome", &["outcome"]);
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("request_duration_seconds", "API request latency by route")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("static metric is valid");
        registry
            .register(Box::new(request_seconds.clone()))
            .expect("metric registered once");
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("static metric is valid");
            registry.register(Box::new(c.clone())).expect("metric registered once");
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
        let provision_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "provision_duration_seconds",
                "Time to create and configure a user's bucket",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("static metric is valid");
        registry
            .register(Box::new(provision_seconds.clone()))
            .expect("metric registered once");
        let users = IntGauge::new("users", "Users in the database").expect("static metric is valid");
        registry
            .register(Box::new(users.clone()))
            .expect("metric registered once");
        let shared_policy_bytes = IntGauge::new(
            "shared_bucket_policy_bytes",
            "Prefix mode: bytes of the shared bucket's policy as stsvend last wrote it (S3 allows 20480)",
        )
        .expect("static metric is valid");
        registry
            .register(Box::new(shared_policy_bytes.clone()))
            .expect("metric registered once");
        let cache_children = ["credentials", "mappings"]
            .into_iter()
            .map(|name| {
                let child = |result: &str| cache.with_label_values(&[name, result]);
                (name, [child("miss"), child("hit")])
            })
            .collect();
        Self {
            registry,
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
            jwks_refreshes,
            users,
            shared_policy_bytes,
            coherence_drops,
            coherence_errors,
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
