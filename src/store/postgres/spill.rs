//! The credential spill (see `store::sqlite::spill` for what it is for), shared by the fleet's
//! processes. Each process seals with a key only it holds, so its rows carry its own random
//! `owner` id: a process reads only its own rows, and another replica's start-up clears only
//! that replica's. Forgetting a user deletes their rows of every owner (an operator action
//! seen by one process must not leave keys with another).
//!
//! Writes go through one task, in their order, off the request path: a user's rows are
//! forgotten after any earlier spill of theirs. A lost write costs one `AssumeRole` later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::PgStore;
use crate::identity::UserId;
use crate::store::{Spilled, StoreError};

/// Expired rows (of every owner) are deleted at most this often (with a spill write).
const PRUNE_EVERY: Duration = Duration::from_mins(1);
/// Spills waiting for the writer at most; further ones are dropped (they are an optimisation).
const QUEUE: usize = 1024;

type Done = oneshot::Sender<Result<(), StoreError>>;

enum Job {
    Put(Spilled),
    Forget(String, Done),
    Clear(Done),
}

/// Handle to the spill writer task; the task ends when every handle is gone.
#[derive(Clone)]
pub struct SpillWriter {
    queue: mpsc::Sender<Job>,
    owner: Arc<str>,
}

impl SpillWriter {
    pub fn start(pool: Pool) -> Self {
        let owner: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, Arc::clone(&owner), rx));
        Self { queue, owner }
    }

    async fn wait(&self, job: impl FnOnce(Done) -> Job) -> Result<(), StoreError> {
        let stopped = || StoreError::Task("spill writer stopped".to_owned());
        let (done, finished) = oneshot::channel();
        self.queue.send(job(done)).await.map_err(|_| stopped())?;
        finished.await.map_err(|_| stopped())?
    }
}

async fn run(pool: Pool, owner: Arc<str>, mut rx: mpsc::Receiver<Job>) {
    let mut pruned = Instant::now();
    while let Some(job) = rx.recv().await {
        match job {
            Job::Put(entry) => {
                let prune = pruned.elapsed() >= PRUNE_EVERY;
                if prune {
                    pruned = Instant::now();
                }
                if let Err(e) = put(&pool, &owner, &entry, prune).await {
                    tracing::debug!(error = %e, "spill write failed; entry dropped");
                }
            }
            Job::Forget(id, done) => {
                let _ = done.send(execute(&pool, "DELETE FROM credential_spill WHERE user_id = $1", &id).await);
            }
            Job::Clear(done) => {
                let _ = done.send(clear(&pool, &owner).await);
            }
        }
    }
}

async fn execute(pool: &Pool, sql: &str, arg: &str) -> Result<(), StoreError> {
    pool.get().await?.execute(sql, &[&arg]).await?;
    Ok(())
}

/// This process's rows, and every owner's expired ones.
async fn clear(pool: &Pool, owner: &str) -> Result<(), StoreError> {
    pool.get()
        .await?
        .execute(
            "DELETE FROM credential_spill WHERE owner = $1 OR expires_at <= $2",
            &[&owner, &unix_now()],
        )
        .await?;
    Ok(())
}

async fn put(pool: &Pool, owner: &str, entry: &Spilled, prune: bool) -> Result<(), StoreError> {
    let c = pool.get().await?;
    let stmt = c
        .prepare_cached(
            "INSERT INTO credential_spill (owner, user_id, template, expires_at, sealed)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner, user_id, template)
             DO UPDATE SET expires_at = EXCLUDED.expires_at, sealed = EXCLUDED.sealed",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &owner,
            &entry.user_id.as_str(),
            &i16::from(entry.template),
            &entry.expires_at,
            &entry.sealed,
        ],
    )
    .await?;
    if prune {
        c.execute("DELETE FROM credential_spill WHERE expires_at <= $1", &[&unix_now()])
            .await?;
    }
    Ok(())
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl PgStore {
    /// Queues `entry` for the spill writer without waiting; dropped when the queue is full.
    pub fn spill(&self, entry: Spilled) {
        if self.spill.queue.try_send(Job::Put(entry)).is_err() {
            tracing::debug!("spill queue full; entry dropped");
        }
    }

    /// This process's sealed entry for (user, template), if one is spilled and not expired.
    pub async fn spilled(&self, user_id: &UserId, template: u8) -> Result<Option<Spilled>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT expires_at, sealed FROM credential_spill
                 WHERE owner = $1 AND user_id = $2 AND template = $3 AND expires_at > $4",
            )
            .await?;
        let row = c
            .query_opt(
                &stmt,
                &[
                    &&*self.spill.owner,
                    &user_id.as_str(),
                    &i16::from(template),
                    &unix_now(),
                ],
            )
            .await?;
        row.map(|r| {
            Ok(Spilled {
                user_id: user_id.clone(),
                template,
                expires_at: r.try_get(0)?,
                sealed: r.try_get(1)?,
            })
        })
        .transpose()
    }

    /// Deletes every spilled entry of the user (of every process), after any spill of theirs
    /// already queued here.
    pub async fn forget_spilled(&self, user_id: &UserId) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        self.spill.wait(|done| Job::Forget(id, done)).await
    }

    /// Deletes this process's spilled entries and every expired one (at start-up).
    pub async fn clear_spill(&self) -> Result<(), StoreError> {
        self.spill.wait(Job::Clear).await
    }
}
