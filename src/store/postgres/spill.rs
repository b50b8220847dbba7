//! Sealed credentials shared by the fleet (see `vend::keys`): the keys one process was issued,
//! published for the others; plus the lease a process takes on issuing keys for a (user,
//! template), so the others wait for its keys instead of asking STS. A template is its
//! identity (name and body digest), never its position in the folder.
//!
//! Writes go through one task, in their order: a user's rows are forgotten after any earlier
//! publication of theirs.

use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::PgStore;
use crate::identity::{TemplateId, UserId};
use crate::store::{Spilled, StoreError};

/// Expired rows are deleted at most this often (with a spill write).
const PRUNE_EVERY: Duration = Duration::from_mins(1);
/// Spills waiting for the writer at most; further ones are dropped (they are an optimisation).
const QUEUE: usize = 1024;

type Done = oneshot::Sender<Result<(), StoreError>>;

enum Job {
    Publish(Spilled, Done),
    Forget(String, Done),
}

/// Handle to the spill writer task; the task ends when every handle is gone.
#[derive(Clone)]
pub struct SpillWriter {
    queue: mpsc::Sender<Job>,
}

impl SpillWriter {
    pub fn start(pool: Pool) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        Self { queue }
    }

    async fn wait(&self, job: impl FnOnce(Done) -> Job) -> Result<(), StoreError> {
        let stopped = || StoreError::Task("spill writer stopped".to_owned());
        let (done, finished) = oneshot::channel();
        self.queue.send(job(done)).await.map_err(|_| stopped())?;
        finished.await.map_err(|_| stopped())?
    }
}

async fn run(pool: Pool, mut rx: mpsc::Receiver<Job>) {
    let mut pruned = Instant::now();
    let mut prune_due = || {
        let due = pruned.elapsed() >= PRUNE_EVERY;
        if due {
            pruned = Instant::now();
        }
        due
    };
    while let Some(job) = rx.recv().await {
        match job {
            Job::Publish(entry, done) => {
                let _ = done.send(publish(&pool, &entry, prune_due()).await);
            }
            Job::Forget(id, done) => {
                let _ = done.send(execute(&pool, "DELETE FROM credential_spill WHERE user_id = $1", &[&id]).await);
            }
        }
    }
}

async fn execute(
    pool: &Pool,
    sql: &str,
    args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<(), StoreError> {
    pool.get().await?.execute(sql, args).await?;
    Ok(())
}

/// Writes `entry` and gives up the issuing lease on it, in one transaction.
async fn publish(pool: &Pool, entry: &Spilled, prune: bool) -> Result<(), StoreError> {
    let mut c = pool.get().await?;
    let tx = c.transaction().await?;
    let (id, name, digest) = (
        entry.user_id.as_str(),
        entry.template.name(),
        &entry.template.digest()[..],
    );
    let stmt = tx
        .prepare_cached(
            "INSERT INTO credential_spill (user_id, template, digest, expires_at, sealed)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, template, digest)
             DO UPDATE SET expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed",
        )
        .await?;
    tx.execute(&stmt, &[&id, &name, &digest, &entry.expires_at, &entry.sealed])
        .await?;
    tx.execute(
        "DELETE FROM credential_leases WHERE user_id = $1 AND template = $2 AND digest = $3",
        &[&id, &name, &digest],
    )
    .await?;
    if prune {
        tx.execute("DELETE FROM credential_spill WHERE expires_at <= $1", &[&unix_now()])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl PgStore {
    /// Writes `entry` for every process to find and releases the issuing lease on it; returns
    /// once both are committed.
    pub async fn publish_issued(&self, entry: Spilled) -> Result<(), StoreError> {
        self.spill.wait(|done| Job::Publish(entry, done)).await
    }

    /// Takes the lease on issuing keys for (user, template) for `lease` seconds, unless another
    /// process holds an unexpired one: true when this call got it. Two processes claiming at
    /// once: the second waits for the first's insert, then finds its lease unexpired.
    pub async fn claim_issue(&self, user_id: &UserId, template: &TemplateId, lease: u32) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO credential_leases (user_id, template, digest, until)
                 VALUES ($1, $2, $3, $4::BIGINT + $5::BIGINT)
                 ON CONFLICT (user_id, template, digest) DO UPDATE SET until = EXCLUDED.until
                 WHERE credential_leases.until <= $4",
            )
            .await?;
        let n = c
            .execute(
                &stmt,
                &[
                    &user_id.as_str(),
                    &template.name(),
                    &&template.digest()[..],
                    &unix_now(),
                    &i64::from(lease),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Gives up a lease taken by [`PgStore::claim_issue`] (the issue failed).
    pub async fn release_issue(&self, user_id: &UserId, template: &TemplateId) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM credential_leases WHERE user_id = $1 AND template = $2 AND digest = $3",
                &[&user_id.as_str(), &template.name(), &&template.digest()[..]],
            )
            .await?;
        Ok(())
    }

    /// The sealed entry for (user, template), if one is spilled and not expired.
    pub async fn spilled(&self, user_id: &UserId, template: &TemplateId) -> Result<Option<Spilled>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT expires_at, sealed FROM credential_spill
                 WHERE user_id = $1 AND template = $2 AND digest = $3 AND expires_at > $4",
            )
            .await?;
        let row = c
            .query_opt(
                &stmt,
                &[
                    &user_id.as_str(),
                    &template.name(),
                    &&template.digest()[..],
                    &unix_now(),
                ],
            )
            .await?;
        row.map(|r| {
            Ok(Spilled {
                user_id: user_id.clone(),
                template: template.clone(),
                expires_at: r.try_get(0)?,
                sealed: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Deletes every spilled entry of the user, after any spill of theirs already queued.
    pub async fn forget_spilled(&self, user_id: &UserId) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        self.spill.wait(|done| Job::Forget(id, done)).await
    }
}
