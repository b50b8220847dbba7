//! The change feed (`user_changes`): which users and organisations changed, in commit order, and the
//! `LISTEN`/`NOTIFY` signal that wakes every process's coherence poll (`vend::coherence`) as
//! soon as one commits, instead of at its next poll.
//!
//! `seq` comes from a sequence, and sequence values are handed out at insert, not at commit:
//! two concurrent transactions could commit seq 6 before seq 5, and a reader that saw 6 would
//! skip 5 for good. So feed writers take a transaction-scoped advisory lock before they draw a
//! seq; it is held until their commit, which makes seq order commit order. State changes are
//! operator actions and first logins: the lock is never busy for long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, Socket, Transaction};

use super::PgStore;
use super::tls::Tls;
use crate::identity::{OrgId, Owner};
use crate::store::{Change, StoreError};

/// The notification channel; the payload is the change's seq (nothing secret).
pub const CHANNEL: &str = "stsvend_changes";
/// The listener connection's `application_name`.
pub const LISTENER_NAME: &str = "stsvend-changes";
/// Advisory lock key serializing feed writers ("stsvend" + 2).
const FEED_LOCK: i64 = 0x7374_7376_656e_6402;
/// Reconnect delays of the listener: doubling from the first to the last.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lived this long was healthy: the next failure starts the backoff over.
const HEALTHY_AFTER: Duration = Duration::from_mins(1);

/// Appends the user to the change feed and announces it, inside the transaction that changed
/// them (the notification is delivered at commit, or not at all).
pub(super) async fn changed(tx: &Transaction<'_>, user_id: &str) -> Result<(), StoreError> {
    append(tx, user_id, None).await
}

/// Appends the organisation to the change feed, like [`changed`]. The row's `user_id` holds
/// the org id's random part (migration 9 says why).
pub(super) async fn org_changed(tx: &Transaction<'_>, org_id: &OrgId) -> Result<(), StoreError> {
    let id = org_id.as_str();
    append(tx, &id[1..], Some(id)).await
}

/// Appends an owner's quota (override or state) to the change feed, like [`changed`]
/// (migration 10).
pub(super) async fn quota_changed(tx: &Transaction<'_>, owner: &Owner) -> Result<(), StoreError> {
    match owner {
        Owner::User(u) => append_row(tx, u.as_str(), None, true).await,
        Owner::Org(o) => append_row(tx, &o.as_str()[1..], Some(o.as_str()), true).await,
    }
}

async fn append(tx: &Transaction<'_>, user_id: &str, org_id: Option<&str>) -> Result<(), StoreError> {
    append_row(tx, user_id, org_id, false).await
}

async fn append_row(tx: &Transaction<'_>, user_id: &str, org_id: Option<&str>, quota: bool) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK]).await?;
    let seq: i64 = tx
        .query_one(
            "INSERT INTO user_changes (user_id, org_id, quota, at) VALUES ($1, $2, $3, EXTRACT(EPOCH FROM now())::BIGINT) RETURNING seq",
            &[&user_id, &org_id, &quota],
        )
        .await?
        .try_get(0)?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])
        .await?;
    Ok(())
}

impl PgStore {
    /// The newest change's sequence number; 0 when the feed is empty.
    pub async fn latest_change(&self) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM user_changes", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The oldest change still kept; 0 when the feed is empty.
    pub async fn oldest_change(&self) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COALESCE(MIN(seq), 0)::BIGINT FROM user_changes", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn changes_since(&self, seq: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT seq, user_id, org_id, quota FROM user_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .await?;
        c.query(&stmt, &[&seq, &i64::from(limit)])
            .await?
            .iter()
            .map(|r| Change::parse(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
            .collect()
    }

    /// Deletes changes recorded before `before` (the newest one is always kept, so the
    /// sequence never restarts).
    pub async fn prune_changes(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self
            .client()
            .await?
            .execute(
                "DELETE FROM user_changes WHERE at < $1 AND seq < (SELECT MAX(seq) FROM user_changes)",
                &[&before.unix_timestamp()],
            )
            .await?)
    }
}

/// The task holding the `LISTEN` connection; stopped when the store is dropped.
pub struct Listener(tokio::task::JoinHandle<()>);

impl Listener {
    pub fn start(mut config: tokio_postgres::Config, tls: Tls, signal: Arc<Notify>) -> Self {
        // Named apart from the pool's connections in `pg_stat_activity`.
        config.application_name(LISTENER_NAME);
        Self(tokio::spawn(listen(config, tls, signal)))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens for ever: reconnects with backoff when the connection fails or drops. Changes
/// announced while it was away are found by the next poll (that is what the feed's seq is for).
async fn listen(config: tokio_postgres::Config, tls: Tls, signal: Arc<Notify>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let since = Instant::now();
        let outcome = match &tls {
            Tls::Plain => listen_once(&config, tokio_postgres::NoTls, &signal).await,
            Tls::Rustls(t) => listen_once(&config, t.clone(), &signal).await,
        };
        if since.elapsed() >= HEALTHY_AFTER {
            backoff = BACKOFF_MIN;
        }
        tracing::warn!(
            error = %outcome.err().map_or_else(|| "connection closed".to_owned(), |e| e.to_string()),
            retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            "the change-feed listener lost its PostgreSQL connection; coherence falls back to polling until it is back"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life: `LISTEN`, then wake `signal` on every notification until the
/// connection ends.
async fn listen_once<T>(config: &tokio_postgres::Config, tls: T, signal: &Notify) -> Result<(), StoreError>
where
    T: MakeTlsConnect<Socket>,
{
    let (client, mut connection) = config.connect(tls).await?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = format!("LISTEN {CHANNEL}");
    let listen = client.batch_execute(&sql);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            r = &mut listen, if !listening => {
                r?;
                listening = true;
                // Whatever was announced while this connection was being made is in the feed.
                signal.notify_one();
            }
            m = messages.next() => match m {
                Some(Ok(AsyncMessage::Notification(_))) => signal.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
        }
    }
}
