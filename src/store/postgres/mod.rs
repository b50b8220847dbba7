//! `PostgreSQL` backend: several replicas of the service share one database.
//!
//! Every call takes a client from a deadpool pool and returns it when the call ends; no
//! client is held across requests. `PostgreSQL` takes concurrent writers, so a vend's audit
//! row is one `INSERT ... RETURNING id` of its own (no group commit). Repeat hand-outs are
//! counted in memory (`store::repeats`) and written by a task each second (`counts`); spilled
//! credentials are written by a task of their own, off the request path (`spill`). A dedicated
//! connection `LISTEN`s for the change feed's notifications (`changes`). The schema is
//! versioned in `migrations`, applied under an advisory lock.

mod audit;
mod changes;
mod counts;
mod ledger;
mod ledger_listing;
mod ledger_schedule;
mod migrations;
mod org_admin;
mod orgs;
mod presign;
mod quota;
mod revocations;
mod shared_policies;
mod spill;
mod tls;
mod users;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::Notify;
use tokio_postgres::NoTls;

use super::StoreError;
use super::repeats::Repeats;

/// Connections per process. A fleet of N replicas holds up to N x (this + 1 listener).
const POOL_SIZE: usize = 16;
/// How long a call waits for a free connection, and for a new one to be made.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// Connect timeout when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A server that stops answering (crashed host, cut network) fails the calls on its
/// connections after this, instead of TCP's ~15 minutes: unacknowledged data
/// (`tcp_user_timeout`) or an idle connection's keepalive probes. URL settings win.
const DEAD_PEER: Duration = Duration::from_secs(30);
/// `/readyz` answers within this even when the server does not.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Repeat hand-outs counted in memory until the count writer takes them.
    repeats: Arc<Repeats>,
    /// The task that writes repeat counts (each second, and when `flush_audit` asks).
    counts: counts::CountWriter,
    /// Vend audit rows committed since start.
    commits: Arc<AtomicU64>,
    spill: spill::SpillWriter,
    /// Woken by the change listener on every `NOTIFY`.
    signal: Arc<Notify>,
    _listener: Arc<changes::Listener>,
}

impl PgStore {
    /// Connects to the server at `url` (see `tls` for `sslmode`), brings the schema up to date
    /// and starts the background tasks.
    pub async fn connect(url: &str, ca_file: Option<&Path>) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEAD_PEER);
        }
        if config.get_keepalives_idle() == tokio_postgres::Config::new().get_keepalives_idle() {
            config.keepalives_idle(DEAD_PEER);
        }
        if config.get_application_name().is_none() {
            config.application_name("stsvend");
        }
        let tls = tls::Tls::for_config(&config, ca_file).await?;
        let pool = pool(config.clone(), &tls)?;
        migrations::run(&pool).await?;
        let repeats = Arc::new(Repeats::new());
        let counts = counts::CountWriter::start(pool.clone(), Arc::clone(&repeats));
        let spill = spill::SpillWriter::start(pool.clone());
        let signal = Arc::new(Notify::new());
        let listener = changes::Listener::start(config, tls, Arc::clone(&signal));
        Ok(Self {
            pool,
            repeats,
            counts,
            commits: Arc::new(AtomicU64::new(0)),
            spill,
            signal,
            _listener: Arc::new(listener),
        })
    }

    /// A pooled client for one call.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// True when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let ping = async {
            self.client().await?.simple_query("SELECT 1").await?;
            Ok(())
        };
        tokio::time::timeout(PING_TIMEOUT, ping)
            .await
            .map_err(|_| StoreError::Task(format!("PostgreSQL did not answer within {PING_TIMEOUT:?}")))?
    }

    /// Woken when any process commits a change to the feed.
    pub fn change_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.signal)
    }
}

fn pool(config: tokio_postgres::Config, tls: &tls::Tls) -> Result<Pool, StoreError> {
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls {
        tls::Tls::Plain => Manager::from_config(config, NoTls, manager_config),
        tls::Tls::Rustls(t) => Manager::from_config(config, t.clone(), manager_config),
    };
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_WAIT))
        .build()
        .map_err(|e| StoreError::PostgresSetup(format!("connection pool: {e}")))
}

/// `i64` column value as a `u32` field, or `Corrupt`.
fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} `{v}`")))
}
