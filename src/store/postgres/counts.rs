//! The task that writes repeat hand-out counts (`store::repeats`) to the vend audit: every
//! [`FLUSH_EVERY`], when a vend finds its counts due, and when `flush_audit` asks. Jobs are
//! handled one at a time in the order they were sent, so a flush's commit comes after that of
//! every count handed over before it.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::runtime::clock::format_time;
use crate::store::StoreError;
use crate::store::repeats::{FLUSH_EVERY, Repeat, Repeats};

/// Count jobs waiting at most; beyond, counts stay in memory for the next flush.
const QUEUE: usize = 64;

type Done = oneshot::Sender<Result<(), Arc<StoreError>>>;

struct Job {
    repeats: Vec<Repeat>,
    done: Option<Done>,
}

/// Handle to the count writer; the task ends (after a last flush) when every handle is gone.
#[derive(Clone)]
pub struct CountWriter {
    queue: mpsc::Sender<Job>,
}

impl CountWriter {
    pub fn start(pool: Pool, repeats: Arc<Repeats>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, repeats, rx));
        Self { queue }
    }

    /// Hands counts over without waiting; gives them back when the queue is full.
    pub fn try_send(&self, repeats: Vec<Repeat>) -> Result<(), Vec<Repeat>> {
        self.queue
            .try_send(Job { repeats, done: None })
            .map_err(|e| e.into_inner().repeats)
    }

    /// Writes `repeats` after every count handed over earlier, and waits for the commit.
    pub async fn write(&self, repeats: Vec<Repeat>) -> Result<(), StoreError> {
        let stopped = || StoreError::Task("audit count writer stopped".to_owned());
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Job {
                repeats,
                done: Some(done),
            })
            .await
            .map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?.map_err(StoreError::Batch)
    }
}

async fn run(pool: Pool, repeats: Arc<Repeats>, mut rx: mpsc::Receiver<Job>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let job = tokio::select! {
            job = rx.recv() => job,
            _ = tick.tick() => Some(Job { repeats: repeats.take(), done: None }),
        };
        let Some(job) = job else {
            // Every store handle is gone: write what is left, then stop.
            if let Err(e) = write(&pool, &repeats.take()).await {
                tracing::warn!(error = %e, "writing the last repeat counts failed");
            }
            return;
        };
        let result = write(&pool, &job.repeats).await.map_err(Arc::new);
        match job.done {
            Some(done) => {
                let _ = done.send(result);
            }
            None => {
                if let Err(e) = result {
                    // Counts nobody waits for go back, to be tried again with the next ones.
                    tracing::warn!(error = %e, "writing repeat counts failed; retrying with the next flush");
                    repeats.put_back(job.repeats);
                }
            }
        }
    }
}

/// Adds the counts to their rows in one transaction.
async fn write(pool: &Pool, counts: &[Repeat]) -> Result<(), StoreError> {
    if counts.is_empty() {
        return Ok(());
    }
    let mut c = pool.get().await?;
    let tx = c.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE vend_audit SET hand_outs = hand_outs + $2,
                                   last_at = GREATEST(COALESCE(last_at, vended_at), $3)
             WHERE id = $1",
        )
        .await?;
    for r in counts {
        tx.execute(&stmt, &[&r.row, &i64::from(r.count), &format_time(r.last)])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
