//! Whether the database answers, as this process last found it. A task pings it every second;
//! the state is kept in the `stsvend_database_up` gauge and each change of it is logged once.
//!
//! `/readyz` reports the state without failing on it: every replica shares the database, so a
//! balancer taking replicas out for it would take them all out at once, although each still
//! serves the users it has cached. Meanwhile what needs the database (first logins, admin
//! changes, fresh keys' audit rows) answers 503 `service_unavailable` by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus::IntGauge;

use super::{Store, StoreError};

/// How often the database is pinged (each ping gives up after a few seconds).
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

pub struct DatabaseHealth {
    up: AtomicBool,
    /// `stsvend_database_up`: 1 or 0.
    gauge: IntGauge,
}

impl DatabaseHealth {
    /// The state of a database that answered at start-up.
    pub fn new(gauge: IntGauge) -> Self {
        gauge.set(1);
        Self {
            up: AtomicBool::new(true),
            gauge,
        }
    }

    /// True when the last ping was answered.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Takes in one ping's outcome; logs only a change, never each failed ping.
    pub fn observe(&self, ping: &Result<(), StoreError>) {
        let up = ping.is_ok();
        self.gauge.set(i64::from(up));
        if self.up.swap(up, Ordering::Relaxed) == up {
            return;
        }
        match ping {
            Ok(()) => tracing::info!("database reachable again: first logins and admin changes are served again"),
            Err(e) => tracing::error!(
                error = %e,
                "database unreachable: cached users are still served; first logins, admin changes and fresh keys answer 503 until it is back"
            ),
        }
    }

    /// Pings `store` every `every` until `self` is dropped.
    pub fn spawn_watch(self: &Arc<Self>, store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
        let health = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let ping = store.ping().await;
                let Some(health) = health.upgrade() else { return };
                health.observe(&ping);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), StoreError> {
        Err(StoreError::Unavailable("connection refused".to_owned()))
    }

    #[test]
    fn the_state_follows_the_pings_and_the_gauge_with_it() {
        let gauge = IntGauge::new("database_up", "test").unwrap();
        let health = DatabaseHealth::new(gauge.clone());
        assert!(health.is_up());
        assert_eq!(gauge.get(), 1);
        health.observe(&down());
        assert!(!health.is_up());
        assert_eq!(gauge.get(), 0);
        health.observe(&down());
        assert_eq!(gauge.get(), 0);
        health.observe(&Ok(()));
        assert!(health.is_up());
        assert_eq!(gauge.get(), 1);
    }
}
