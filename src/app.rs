//! The one wiring place: `Application::build(config)` gives a bound, ready-to-run server.
//! `main` and the tests both go through here. This file binds the listeners and serves the
//! routes; `usecases` wires the use cases from the config; `selftest` drives those use cases
//! for probe users.
mod reconcile;
pub mod selftest;
mod usecases;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::auth::{JwksCache, Verifier};
use crate::config::Config;
use crate::http;
use crate::policy::PolicyError;
use crate::runtime::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::usecase::admin::Admin;
use crate::usecase::caller::Authenticator;
use crate::usecase::health::{Gauges, Health};
use crate::usecase::presign::Presigner;
use crate::usecase::quota::consume::{Consumer, ConsumerHandle};
use crate::usecase::vend::Vend;

pub use usecases::{UseCases, load_policies};

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
    /// Quotas' reconciliation; `None` without `[quota]`.
    pub reconciler: Option<web::Data<crate::usecase::quota::reconcile::Reconciler>>,
    /// Quotas: the bucket-policy Deny of over-limit owners' writes (not served over HTTP).
    pub quota_deny: Arc<crate::usecase::quota::deny::QuotaDeny>,
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
        if let Some(reconciler) = &self.reconciler {
            cfg.app_data(reconciler.clone());
        }
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
    /// With `[quota]`: the usage queue's consumer, stopped after the server.
    quota_consumer: Option<ConsumerHandle>,
}

fn bind(addr: std::net::SocketAddr) -> Result<(TcpListener, u16), StartError> {
    let shown = addr.to_string();
    let listener = TcpListener::bind(addr).map_err(bind_failed(&shown))?;
    let port = listener.local_addr().map_err(bind_failed(&shown))?.port();
    Ok((listener, port))
}

/// `StartError::Bind` for the listener shown as `addr`.
fn bind_failed(addr: &str) -> impl Fn(std::io::Error) -> StartError + '_ {
    move |source| StartError::Bind {
        addr: addr.to_owned(),
        source,
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let mut wired = UseCases::build(&config).await?;
        if config.auth.allow_insecure_http {
            tracing::warn!(
                issuer = %config.auth.issuer,
                "auth.allow_insecure_http is on: the issuer's keys may be fetched over plain http (local test issuers only)"
            );
        }
        let jwks = Arc::new(JwksCache::from_config(&config.auth).with_metrics(Arc::clone(&wired.metrics)));
        let refresher = jwks.spawn_refresher();
        let health = Health::new(Arc::clone(&wired.database), Arc::clone(&jwks));
        let verifier = Verifier::new(&config.auth, jwks)
            .with_token_cache_capacity(config.cache.token_entries)
            .with_orgs(config.orgs.as_ref())
            .with_claims(&config.policies.claims);
        wired.background.push(refresher);

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

        // The storages each batch changes go to `limits`, which re-evaluates their owners.
        let quota_consumer = Consumer::from_config(
            &config,
            wired.store.clone(),
            Arc::clone(&wired.metrics),
            wired.quota_changes.clone(),
        )
        .await
        .map(Consumer::spawn);

        let state = AppState {
            vend: web::Data::from(wired.vend),
            admin: web::Data::new(wired.admin),
            presigner: web::Data::new(wired.presigner),
            auth: web::Data::new(Authenticator::new(verifier)),
            store: web::Data::new(wired.store.clone()),
            health: web::Data::new(health),
            metrics: web::Data::from(Arc::clone(&wired.metrics)),
            reconciler: wired.reconciler.map(web::Data::from),
            quota_deny: Arc::clone(&wired.quota_deny),
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
        .map_err(bind_failed("api"))?;
        let mut tls_port = None;
        if let Some(((listener, port), tls_config)) = tls {
            server = server
                .listen_rustls_0_23(listener, tls_config)
                .map_err(bind_failed("api (TLS)"))?;
            tls_port = Some(port);
        }
        let server = server.shutdown_timeout(30).run();

        let metrics_server = match metrics_listener {
            Some((listener, port)) => {
                let app_state = state.clone();
                let gauges = web::Data::new(Gauges::new(wired.store, wired.metrics, config.storage.shared_bucket()));
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
                .map_err(bind_failed("metrics"))?
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
            _background: wired.background,
            quota_consumer,
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
        if let Some(consumer) = self.quota_consumer {
            consumer.stop().await;
        }
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
