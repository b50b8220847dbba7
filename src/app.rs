//! The one wiring place: `Application::build(config)` gives a bound, ready-to-run server.
//! `main` and the tests both go through here.

pub mod selftest;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::auth::{JwksCache, Verifier};
use crate::aws::gate::AwsGate;
use crate::aws::s3::Buckets;
use crate::aws::sts::Sts;
use crate::config::Config;
use crate::http;
use crate::policy::{PolicyError, PolicySet};
use crate::provision::Provisioner;
use crate::runtime::limits::VendRate;
use crate::runtime::metrics::Metrics;
use crate::store::{DATABASE_WATCH_EVERY, DatabaseHealth, Store, StoreError};
use crate::usecase::admin::{Admin, AdminParts};
use crate::usecase::caller::Authenticator;
use crate::usecase::health::{Gauges, Health};
use crate::usecase::presign::{Presigner, S3Location};
use crate::usecase::vend::{FeedTimes, Grants, KeyCache, KeyCacheParts, Vend, VendParts, spawn_coherence};

/// What the handlers are given, each taking only the parts it needs (`web::Data<T>`).
#[derive(Clone)]
pub struct AppState {
    pub vend: web::Data<Vend>,
    pub admin: web::Data<Admin>,
    pub presigner: web::Data<Presigner>,
    pub auth: web::Data<Authenticator>,
    pub store: web::Data<Store>,
    pub health: web::Data<Health>,
    pub metrics: web::Data<Metrics>,
    max_body: web::Data<http::MaxBody>,
    endpoint: web::Data<http::Endpoint>,
    proxies: web::Data<http::TrustedProxies>,
}

impl AppState {
    /// Registers every part with an actix app.
    fn register(&self, cfg: &mut web::ServiceConfig) {
        cfg.app_data(self.vend.clone())
            .app_data(self.admin.clone())
            .app_data(self.presigner.clone())
            .app_data(self.auth.clone())
            .app_data(self.store.clone())
            .app_data(self.health.clone())
            .app_data(self.metrics.clone())
            .app_data(self.max_body.clone())
            .app_data(self.endpoint.clone())
            .app_data(self.proxies.clone());
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("policy templates:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Policies(Vec<PolicyError>),
    #[error("cannot open database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("credential sealing key: {0}")]
    Sealer(#[from] crate::usecase::vend::SealerError),
    /// The start-up trial `AssumeRole` was refused as every vend would be.
    #[error(transparent)]
    Trial(#[from] crate::aws::sts::TrialRefused),
}

pub struct Application {
    port: u16,
    tls_port: Option<u16>,
    server: Server,
    metrics_server: Option<(Server, u16)>,
    state: AppState,
    /// JWKS refresher, rate-limit pruner, change-feed reader and database watch; they end when
    /// the state is dropped.
    _background: Vec<tokio::task::JoinHandle<()>>,
}

fn bind(addr: std::net::SocketAddr) -> Result<(TcpListener, u16), StartError> {
    let err = |source| StartError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(err)?;
    let port = listener.local_addr().map_err(err)?.port();
    Ok((listener, port))
}

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

/// The use cases and what they share, wired from the config: what the HTTP server serves, and
/// what `stsvend selftest` drives directly (`app::selftest`), so both go through the same code.
pub struct UseCases {
    pub vend: Arc<Vend>,
    pub admin: Admin,
    pub presigner: Presigner,
    pub store: Store,
    pub database: Arc<DatabaseHealth>,
    pub metrics: Arc<Metrics>,
    /// Rate-limit pruner, change-feed reader and database watch.
    pub background: Vec<tokio::task::JoinHandle<()>>,
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
        let sts = Sts::new(&sdk, &config.aws, Arc::clone(&gate));
        // Boxed: an SDK call held inline would make every caller's start-up future large.
        let trial = Box::pin(sts.check_packing(
            &policies,
            &config.storage.bucket_prefix,
            &config.storage.prefix_root,
            &config.storage.org_prefix_root,
        ));
        if let Ok(tried) = tokio::time::timeout(Duration::from_secs(config.aws.call_timeout_seconds * 2), trial).await {
            tried?;
        } else {
            tracing::warn!("the start-up trial AssumeRole did not answer in time; vends will tell");
        }
        let buckets = Arc::new(Buckets::new(&sdk, &config.storage, &config.aws, gate));
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
        let vend = Arc::new(Vend::new(VendParts {
            policies,
            grants: Grants {
                by_template: config.policies.grants.clone(),
                default: config.policies.default.clone(),
            },
            provisioner,
            keys,
            store: store.clone(),
            rate: vend_rate,
            metrics: Arc::clone(&metrics),
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
            background: vec![pruner, coherence, database_watch],
        })
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let UseCases {
            vend,
            admin,
            presigner,
            store,
            database,
            metrics,
            mut background,
        } = UseCases::build(&config).await?;
        if config.auth.allow_insecure_http {
            tracing::warn!(
                issuer = %config.auth.issuer,
                "auth.allow_insecure_http is on: the issuer's keys may be fetched over plain http (local test issuers only)"
            );
        }
        let jwks = Arc::new(JwksCache::from_config(&config.auth).with_metrics(Arc::clone(&metrics)));
        let refresher = jwks.spawn_refresher();
        let health = Health::new(Arc::clone(&database), Arc::clone(&jwks));
        let verifier = Verifier::new(&config.auth, jwks)
            .with_token_cache_capacity(config.cache.token_entries)
            .with_orgs(config.orgs.as_ref());
        background.push(refresher);

        let (listener, port) = bind(config.server.bind)?;
        let tls = match &config.server.tls {
            Some(tls) => Some((
                bind(tls.bind)?,
                crate::runtime::tls::server_config(tls).map_err(StartError::Tls)?,
            )),
            None => None,
        };
        let cors_origins = config.server.cors_allowed_origins.clone();
        let metrics_listener = config.server.metrics_bind.map(bind).transpose()?;

        let state = AppState {
            vend: web::Data::from(vend),
            admin: web::Data::new(admin),
            presigner: web::Data::new(presigner),
            auth: web::Data::new(Authenticator::new(verifier)),
            store: web::Data::new(store.clone()),
            health: web::Data::new(health),
            metrics: web::Data::from(Arc::clone(&metrics)),
            max_body: web::Data::new(http::MaxBody(config.server.max_body_bytes)),
            endpoint: web::Data::new(http::Endpoint(config.aws.endpoint_url.clone())),
            proxies: web::Data::new(http::TrustedProxies::new(
                config.server.trusted_proxies.clone(),
                config.server.client_address_header,
            )),
        };
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .configure(|cfg| app_state.register(cfg))
                .wrap(http::cors(&cors_origins))
                // The last wrap is outermost: every request, refused or not, gets its log line.
                .wrap(from_fn(http::limit_headers))
                .wrap(from_fn(http::request_log))
                .configure(http::routes)
                .default_service(http::default_service())
        })
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: "api".to_owned(),
            source,
        })?;
        let mut tls_port = None;
        if let Some(((listener, port), tls_config)) = tls {
            server = server
                .listen_rustls_0_23(listener, tls_config)
                .map_err(|source| StartError::Bind {
                    addr: "api (TLS)".to_owned(),
                    source,
                })?;
            tls_port = Some(port);
        }
        let server = server.shutdown_timeout(30).run();

        let metrics_server = match metrics_listener {
            Some((listener, port)) => {
                let app_state = state.clone();
                let gauges = web::Data::new(Gauges::new(store, metrics, config.storage.shared_bucket()));
                let server = HttpServer::new(move || {
                    App::new()
                        .configure(|cfg| app_state.register(cfg))
                        .app_data(gauges.clone())
                        .route("/metrics", web::get().to(http::metrics))
                })
                .workers(1)
                // Signals are the API server's: when this listener finished its own quick
                // shutdown first, it would stop the whole system under in-flight API requests.
                .disable_signals()
                .listen(listener)
                .map_err(|source| StartError::Bind {
                    addr: "metrics".to_owned(),
                    source,
                })?
                .run();
                Some((server, port))
            }
            None => None,
        };

        Ok(Self {
            port,
            tls_port,
            server,
            metrics_server,
            state,
            _background: background,
        })
    }

    /// Port of the metrics listener, when one is configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Port of the TLS listener, when one is configured.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until the API server stops (SIGTERM/SIGINT drain in-flight requests first); the
    /// metrics listener follows it down.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self
            .metrics_server
            .map(|(server, _)| (server.handle(), tokio::spawn(server)));
        let result = self.server.await;
        // Counts of repeat hand-outs still in memory (store/repeats.rs).
        if let Err(e) = self.state.store.flush_audit().await {
            tracing::error!(error = %e, "could not write the last repeat hand-out counts");
        }
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        result
    }
}
