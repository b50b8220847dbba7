//! The shared credential table (`credential_spill`): every issued key set, sealed (see
//! `vend::seal`), until it expires, so any process finds it instead of asking STS again; and
//! the issuing leases (`credential_leases`). Both are keyed by the user and the template's
//! identity (name and body digest), never by its position in the folder.
//!
//! Writes go through one thread with its own connection, in their order: a user's rows are
//! forgotten after any earlier publication of theirs.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::{BUSY_TIMEOUT, SqliteStore};
use crate::identity::{TemplateId, UserId};
use crate::store::{Spilled, StoreError};

/// Expired rows are deleted at most this often (with a spill write).
const PRUNE_EVERY: Duration = Duration::from_mins(1);
/// Writes waiting for the writer at most; further ones wait for room.
const QUEUE: usize = 1024;

enum Job {
    Publish(Spilled, oneshot::Sender<Result<(), StoreError>>),
    Forget(String, oneshot::Sender<Result<(), StoreError>>),
}

/// Handle to the spill writer thread; the thread ends when the last handle is dropped.
pub struct SpillWriter {
    queue: mpsc::Sender<Job>,
}

impl SpillWriter {
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        let (queue, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("spill-writer".to_owned())
            .spawn(move || run(&conn, rx))?;
        Ok(Self { queue })
    }

    async fn wait(&self, job: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Job) -> Result<(), StoreError> {
        let stopped = || StoreError::Task("spill writer stopped".to_owned());
        let (done, finished) = oneshot::channel();
        self.queue.send(job(done)).await.map_err(|_| stopped())?;
        finished.await.map_err(|_| stopped())?
    }
}

fn run(conn: &Connection, mut rx: mpsc::Receiver<Job>) {
    let mut pruned = Instant::now();
    while let Some(job) = rx.blocking_recv() {
        match job {
            Job::Publish(entry, done) => {
                let prune = pruned.elapsed() >= PRUNE_EVERY;
                if prune {
                    pruned = Instant::now();
                }
                let _ = done.send(publish(conn, &entry, prune));
            }
            Job::Forget(id, done) => {
                let r = conn
                    .prepare_cached("DELETE FROM credential_spill WHERE user_id = ?1")
                    .and_then(|mut s| s.execute([id]));
                let _ = done.send(r.map(|_| ()).map_err(StoreError::from));
            }
        }
    }
}

/// The entry written and the issuing lease on it released, together.
fn publish(conn: &Connection, entry: &Spilled, prune: bool) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = put(conn, entry, prune).and_then(|()| {
        conn.prepare_cached("DELETE FROM credential_leases WHERE user_id = ?1 AND template = ?2 AND digest = ?3")?
            .execute(params![
                entry.user_id.as_str(),
                entry.template.name(),
                entry.template.digest()
            ])?;
        Ok(())
    });
    conn.execute_batch(if done.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    done
}

fn put(conn: &Connection, entry: &Spilled, prune: bool) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO credential_spill (user_id, template, digest, expires_at, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        entry.user_id.as_str(),
        entry.template.name(),
        entry.template.digest(),
        entry.expires_at,
        entry.sealed
    ])?;
    if prune {
        conn.prepare_cached("DELETE FROM credential_spill WHERE expires_at <= unixepoch()")?
            .execute([])?;
    }
    Ok(())
}

impl SqliteStore {
    /// Writes `entry` for every process to find and releases the issuing lease on it; returns
    /// once both are committed.
    pub async fn publish_issued(&self, entry: Spilled) -> Result<(), StoreError> {
        self.spill.wait(|done| Job::Publish(entry, done)).await
    }

    /// Takes the lease on issuing keys for (user, template) for `lease` seconds, unless another
    /// process holds an unexpired one: true when this call got it.
    pub async fn claim_issue(&self, user_id: &UserId, template: &TemplateId, lease: u32) -> Result<bool, StoreError> {
        let (id, template) = (user_id.as_str().to_owned(), template.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO credential_leases (user_id, template, digest, until)
                     VALUES (?1, ?2, ?3, unixepoch() + ?4)
                     ON CONFLICT (user_id, template, digest) DO UPDATE SET until = excluded.until
                     WHERE credential_leases.until <= unixepoch()",
                )?
                .execute(params![id, template.name(), template.digest(), lease])?;
            Ok(n == 1)
        })
        .await
    }

    /// Gives up a lease taken by [`SqliteStore::claim_issue`] (the issue failed).
    pub async fn release_issue(&self, user_id: &UserId, template: &TemplateId) -> Result<(), StoreError> {
        let (id, template) = (user_id.as_str().to_owned(), template.clone());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM credential_leases WHERE user_id = ?1 AND template = ?2 AND digest = ?3")?
                .execute(params![id, template.name(), template.digest()])?;
            Ok(())
        })
        .await
    }

    /// The sealed entry for (user, template), if one is spilled and not expired.
    pub async fn spilled(&self, user_id: &UserId, template: &TemplateId) -> Result<Option<Spilled>, StoreError> {
        let (user_id, template) = (user_id.clone(), template.clone());
        self.run(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT expires_at, sealed FROM credential_spill
                     WHERE user_id = ?1 AND template = ?2 AND digest = ?3 AND expires_at > unixepoch()",
                )?
                .query_row(params![user_id.as_str(), template.name(), template.digest()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            Ok(row.map(|(expires_at, sealed)| Spilled {
                user_id,
                template,
                expires_at,
                sealed,
            }))
        })
        .await
    }

    /// Deletes every spilled entry of the user, after any spill of theirs already queued.
    pub async fn forget_spilled(&self, user_id: &UserId) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        self.spill.wait(|done| Job::Forget(id, done)).await
    }
}
