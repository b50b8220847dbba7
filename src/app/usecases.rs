//! The use cases wired from the config, with what they share (the store, the AWS clients and
//! their gate, the caches, the metrics): what the HTTP server serves and what `stsvend
//! selftest` drives directly.

use std::sync::Arc;
use std::time::Duration;

use super::StartError;
use crate::aws::gate::AwsGate;
use crate::aws::s3::Buckets;
use crate::aws::sts::Sts;
use crate::config::Config;
use crate::policy::{PolicySet, TrialNames};
use crate::provision::Provisioner;
use crate::runtime::limits::VendRate;
use crate::runtime::metrics::Metrics;
use crate::store::{DATABASE_WATCH_EVERY, DatabaseHealth, Store};
use crate::usecase::admin::{Admin, AdminParts};
use crate::usecase::presign::{Presigner, S3Location};
use crate::usecase::quota::ChangedSender;
use crate::usecase::quota::deny::QuotaDeny;
use crate::usecase::quota::limits::{Quotas, spawn_receiver, spawn_sweep};
use crate::usecase::vend::{FeedTimes, Grants, KeyCache, KeyCacheParts, SessionTags, Vend, VendParts, spawn_coherence};

/// Loads the templates named by the config and checks them (`PolicySet::for_config`).
pub fn load_policies(config: &Config) -> Result<PolicySet, StartError> {
    PolicySet::for_config(
        &config.policies,
        config.storage.mode == crate::config::StorageMode::Prefix,
        config.orgs.is_some(),
    )
    .map_err(StartError::Policies)
}

/// Warns when users given a prefix (while the service ran in prefix mode) will be refused an
/// access because its `prefix-<access>.json` is gone: they get 409
/// `access_unavailable_in_prefix_mode` for it. (In prefix mode start-up already requires
/// every variant.)
async fn flag_accesses_without_variant(policies: &PolicySet, store: &Store) {
    let missing = policies.accesses_without_variant();
    if missing.is_empty() {
        return;
    }
    let accesses = missing.join(", ");
    match store.count_prefix_users().await {
        Ok(0) => tracing::info!(
            accesses,
            "these accesses have no prefix-mode template; no user is in prefix mode, so none is refused"
        ),
        Ok(users) => tracing::warn!(
            accesses,
            users,
            "prefix-mode users exist, and these accesses have no prefix-mode template (prefix-<access>.json): they are refused to those users (409 access_unavailable_in_prefix_mode)"
        ),
        Err(e) => tracing::warn!(
            accesses,
            error = %e,
            "these accesses have no prefix-mode template, and counting prefix-mode users failed: any such user is refused them (409 access_unavailable_in_prefix_mode)"
        ),
    }
}

/// With `[quota]`: the ARN of the queue every new bucket sends its object events to.
fn usage_queue(config: &Config) -> Option<String> {
    let quota = config.quota.as_ref()?;
    let arn = crate::aws::sqs::configured_queue_arn(&config.aws, &quota.queue_url);
    if arn.is_none() {
        tracing::error!(queue_url = %quota.queue_url, "quota.queue_url does not end in /<account>/<queue name>: new buckets get no event notifications and their usage is not counted");
    }
    arn
}

/// The use cases and what they share, wired from the config: what the HTTP server serves, and
/// what `stsvend selftest` drives directly (`app::selftest`), so both go through the same code.
pub struct UseCases {
    pub vend: Arc<Vend>,
    pub admin: Admin,
    pub presigner: Presigner,
    pub store: Store,
    pub database: Arc<DatabaseHealth>,
    pub metrics: Arc<Metrics>,
    /// Quotas' reconciliation (on demand, for the admin routes); `None` without `[quota]`.
    pub reconciler: Option<Arc<crate::usecase::quota::reconcile::Reconciler>>,
    /// Quotas: the bucket-policy Deny of over-limit owners' writes.
    pub quota_deny: Arc<QuotaDeny>,
    /// `[quota]` on: where the queue consumer and the reconciler send the storages whose
    /// totals changed (`quota::limits` re-evaluates them).
    pub quota_changes: Option<ChangedSender>,
    /// Rate-limit pruner, change-feed reader, database watch and quota receiver.
    pub background: Vec<tokio::task::JoinHandle<()>>,
}

/// `[quota]` on: the owners' limits and states, loaded from the store.
async fn load_quotas(config: &Config, store: &Store, deny: &Arc<QuotaDeny>) -> Result<Option<Arc<Quotas>>, StartError> {
    let Some(q) = &config.quota else { return Ok(None) };
    let quotas = Arc::new(Quotas::new(store.clone(), q).with_deny(Arc::clone(deny)));
    quotas.load().await?;
    Ok(Some(quotas))
}

impl UseCases {
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let policies = load_policies(config)?;
        let store = Store::connect(&config.database).await?;
        flag_accesses_without_variant(&policies, &store).await;

        let sdk = crate::aws::Sdk::load(&config.aws).await;

        let metrics = Arc::new(Metrics::new());
        metrics.index_templates(policies.names());
        metrics.bucket_quota.set(i64::from(config.storage.bucket_quota));
        let database = Arc::new(DatabaseHealth::new(metrics.database_up.clone()));
        let database_watch = database.spawn_watch(store.clone(), DATABASE_WATCH_EVERY);
        let gate = Arc::new(AwsGate::new(
            &config.limits,
            Duration::from_secs(config.aws.call_timeout_seconds),
            Arc::clone(&metrics),
        ));
        let sts =
            Sts::new(&sdk, &config.aws, Arc::clone(&gate)).with_session_tags(&config.sts, &config.policies.claims);
        // Boxed: an SDK call held inline would make every caller's start-up future large.
        let names = TrialNames::of(&config.storage);
        let trial = Box::pin(sts.check_packing(&policies, &names));
        if let Ok(tried) = tokio::time::timeout(Duration::from_secs(config.aws.call_timeout_seconds * 2), trial).await {
            tried?;
        } else {
            tracing::warn!("the start-up trial AssumeRole did not answer in time; vends will tell");
        }
        let buckets =
            Arc::new(Buckets::new(&sdk, &config.storage, &config.aws, gate).with_notifications(usage_queue(config)));
        let provisioner = Provisioner::new(store.clone(), Arc::clone(&buckets), config, Arc::clone(&metrics));
        let keys = KeyCache::new(KeyCacheParts {
            sts,
            min_remaining: Duration::from_secs(config.aws.min_remaining_seconds),
            templates: policies.all().map(|t| t.id().short()).collect(),
            store: store.clone(),
            memory_bytes: config.cache.credentials_mib.saturating_mul(1 << 20),
            metrics: Arc::clone(&metrics),
            sealing_keys: crate::config::parse_sealing_keys(&config.cache.sealing_keys.0)
                .map_err(crate::usecase::vend::SealerError::Keys)?,
            lease: Duration::from_secs(config.aws.call_timeout_seconds.saturating_mul(3)),
        })?;
        let vend_rate = Arc::new(VendRate::new(&config.limits));
        let pruner = vend_rate.spawn_pruner();
        let quota_deny = Arc::new(QuotaDeny::new(
            store.clone(),
            Arc::clone(&buckets),
            config,
            Arc::clone(&metrics),
        ));
        let quotas = load_quotas(config, &store, &quota_deny).await?;
        let vend = Arc::new(Vend::new(VendParts {
            policies,
            grants: Grants {
                by_template: config.policies.grants.clone(),
                default: config.policies.default.clone(),
            },
            tags: SessionTags(
                config
                    .sts
                    .tags(&config.policies.claims)
                    .into_iter()
                    .map(|(key, name)| (key.into(), name.into()))
                    .collect(),
            ),
            provisioner,
            keys,
            store: store.clone(),
            rate: vend_rate,
            metrics: Arc::clone(&metrics),
            quotas: quotas.clone(),
        }));
        let coherence = spawn_coherence(
            &vend,
            store.clone(),
            FeedTimes {
                poll: Duration::from_millis(config.cache.coherence_poll_ms),
                retention: Duration::from_secs(config.cache.change_retention_seconds),
            },
            Arc::clone(&metrics),
        );
        let presigner = Presigner::new(
            Arc::clone(&vend),
            store.clone(),
            S3Location::new(config.aws.endpoint_url.as_deref()),
            config.presign.clone(),
        );
        let mut background = vec![pruner, coherence, database_watch];
        let quota_changes = quotas.map(|q| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            background.push(spawn_sweep(Arc::clone(&q)));
            background.push(spawn_receiver(q, rx));
            tx
        });
        let reconciler = super::reconcile::wire(config, &store, &buckets, &metrics, quota_changes.clone()).map(
            |(reconciler, schedule)| {
                background.push(schedule);
                reconciler
            },
        );
        let admin = Admin::new(AdminParts {
            store: store.clone(),
            buckets,
            vend: Arc::clone(&vend),
            tag_key: config.aws.session_tag_key.clone(),
            permission: config.admin.permission.clone(),
            revoke_wait: Duration::from_secs(config.admin.revoke_wait_seconds),
            session_lifetime: time::Duration::seconds(
                i64::try_from(config.aws.session_duration_seconds).unwrap_or(i64::MAX),
            ),
            policy_lease_seconds: config.admin.policy_lease_seconds,
        });
        Ok(Self {
            vend,
            admin,
            presigner,
            store,
            database,
            metrics,
            reconciler,
            quota_deny,
            quota_changes,
            background,
        })
    }
}
