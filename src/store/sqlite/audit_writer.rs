//! Group commit for the vend audit log.
//!
//! One thread owns one connection and writes the rows queued by concurrent vends in one
//! transaction: whatever queued while the previous commit ran (up to [`MAX_BATCH`] rows). Each
//! vend awaits its own row's commit before any key leaves, so the guarantee is the same as one
//! commit per vend (`synchronous = NORMAL` in WAL mode: durable once committed, up to a power
//! loss), while `SQLite`'s single writer lock and the commit are paid once per batch instead of
//! once per vend. A failed batch fails every vend waiting on it.
//!
//! The same thread applies the counts of repeat hand-outs (see `repeats`): one `UPDATE` per
//! row that was handed out again, in the batch that follows.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::BUSY_TIMEOUT;
use crate::runtime::clock::{format_time, now};
use crate::store::repeats::Repeat;
use crate::store::{StoreError, VendRecord};

/// Rows written in one transaction at most.
pub const MAX_BATCH: usize = 512;
/// Rows waiting for the writer at most; further vends wait for room (back-pressure).
const QUEUE: usize = 4 * MAX_BATCH;

/// The outcome each waiting vend receives: its row id, or the batch's error.
type Outcome = Result<i64, Arc<StoreError>>;

struct Pending {
    row: VendRecord,
    done: oneshot::Sender<Outcome>,
}

type Done = oneshot::Sender<Result<(), Arc<StoreError>>>;

/// Counts of repeat hand-outs, with whoever waits for them to be written.
struct Counts {
    repeats: Vec<Repeat>,
    done: Option<Done>,
}

enum Job {
    Row(Pending),
    Counts(Counts),
}

/// Handle to the writer thread; the thread ends when the last handle is dropped.
pub struct AuditWriter {
    queue: mpsc::Sender<Job>,
    commits: Arc<AtomicU64>,
}

impl AuditWriter {
    /// Opens the writer's own connection to `path` (schema already migrated) and starts the
    /// thread.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("audit-writer".to_owned())
            .spawn(move || run(conn, rx, &counter))?;
        Ok(Self { queue, commits })
    }

    /// Transactions committed so far (each holding one or more rows).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues `row` and waits until the transaction holding it has committed; returns its id.
    pub async fn write(&self, row: VendRecord) -> Result<i64, StoreError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Job::Row(Pending { row, done }))
            .await
            .map_err(|_| StoreError::Task("audit writer stopped".to_owned()))?;
        match committed.await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(StoreError::Batch(e)),
            Err(_) => Err(StoreError::Task("audit writer stopped".to_owned())),
        }
    }

    /// Hands counts of repeat hand-outs to the writer without waiting; gives them back when
    /// its queue is full.
    pub fn try_send_counts(&self, repeats: Vec<Repeat>) -> Result<(), Vec<Repeat>> {
        self.queue
            .try_send(Job::Counts(Counts { repeats, done: None }))
            .map_err(|e| match e.into_inner() {
                Job::Counts(c) => c.repeats,
                Job::Row(_) => Vec::new(),
            })
    }

    /// Writes counts of repeat hand-outs and waits for their commit.
    pub async fn write_counts(&self, repeats: Vec<Repeat>) -> Result<(), StoreError> {
        self.send_and_wait(|done| {
            Job::Counts(Counts {
                repeats,
                done: Some(done),
            })
        })
        .await
    }

    async fn send_and_wait(&self, job: impl FnOnce(Done) -> Job) -> Result<(), StoreError> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(job(done))
            .await
            .map_err(|_| StoreError::Task("audit writer stopped".to_owned()))?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Batch(e)),
            Err(_) => Err(StoreError::Task("audit writer stopped".to_owned())),
        }
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, commits: &AtomicU64) {
    let mut rows = Vec::with_capacity(MAX_BATCH);
    let mut counts = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Row(p) => rows.push(p),
                Job::Counts(c) => counts.push(c),
            }
            if rows.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let waiting: Vec<Done> = counts.iter_mut().filter_map(|c| c.done.take()).collect();
        match write_batch(&mut conn, &rows, &counts) {
            Ok(ids) => {
                commits.fetch_add(1, Ordering::Relaxed);
                for (p, id) in rows.drain(..).zip(ids) {
                    // The vend may have gone (client disconnected); its row stays written.
                    let _ = p.done.send(Ok(id));
                }
                counts.clear();
                for done in waiting {
                    let _ = done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, rows = rows.len(), "audit batch failed");
                let e = Arc::new(e);
                for p in rows.drain(..) {
                    let _ = p.done.send(Err(Arc::clone(&e)));
                }
                // Counts nobody waits for are lost with the batch: tallies of hand-outs whose
                // first row is already written.
                counts.clear();
                for done in waiting {
                    let _ = done.send(Err(Arc::clone(&e)));
                }
            }
        }
    }
}

/// Inserts the rows in queue order and applies the counts, in one transaction; nothing is
/// written unless all are.
fn write_batch(conn: &mut Connection, batch: &[Pending], counts: &[Counts]) -> Result<Vec<i64>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let vended_at = format_time(now());
    let mut ids = Vec::with_capacity(batch.len());
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO vend_audit (user_id, access_key_id, template, expiration, vended_at, client_addr, client_id, from_cache, org_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for Pending { row: v, .. } in batch {
            stmt.execute(params![
                v.user_id.as_str(),
                v.access_key_id,
                v.template,
                format_time(v.expiration),
                vended_at,
                v.client_addr,
                v.client_id,
                v.from_cache,
                v.org_id.as_ref().map(crate::identity::OrgId::as_str),
            ])?;
            ids.push(tx.last_insert_rowid());
        }
        let mut stmt = tx.prepare_cached(
            "UPDATE vend_audit SET hand_outs = hand_outs + ?2, last_at = MAX(COALESCE(last_at, vended_at), ?3)
             WHERE id = ?1",
        )?;
        for r in counts.iter().flat_map(|c| &c.repeats) {
            stmt.execute(params![r.row, r.count, format_time(r.last)])?;
        }
    }
    tx.commit()?;
    Ok(ids)
}

#[cfg(test)]
// Group commit is SQLite's own; what every backend does is in `store::tests`.
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::identity::UserId;
    use crate::store::Store;

    fn row(user_id: &UserId, key: &str) -> VendRecord {
        VendRecord {
            user_id: user_id.clone(),
            access_key_id: key.to_owned(),
            template: "read-write".to_owned(),
            expiration: now(),
            client_addr: None,
            client_id: None,
            from_cache: true,
            org_id: None,
        }
    }

    /// A store whose writer is stuck on its first row (`ASIA-first`) behind another
    /// connection's write lock, so rows submitted now queue up; commit `blocker` to release.
    async fn blocked_store(path: &Path) -> (Store, Connection, tokio::task::JoinHandle<Result<i64, StoreError>>) {
        let store = Store::open(path).unwrap();
        let blocker = Connection::open(path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let s = store.clone();
        let first = tokio::spawn(async move { s.record_vend(row(&user(), "ASIA-first")).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        (store, blocker, first)
    }

    fn user() -> UserId {
        UserId::derive("https://i/", "auth0|a")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn rows_queued_during_a_commit_share_the_next_one_and_each_gets_its_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (store, blocker, first) = blocked_store(&path).await;
        let writes: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { (i, store.record_vend(row(&user(), &format!("ASIA{i:03}"))).await) })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        blocker.execute_batch("COMMIT").unwrap();
        first.await.unwrap().unwrap();
        let mut ids = Vec::new();
        for w in writes {
            let (i, id) = w.await.unwrap();
            ids.push((i, id.unwrap()));
        }
        assert_eq!(
            store.audit_commits(),
            2,
            "the first row alone, then the 200 queued behind it"
        );
        let conn = Connection::open(&path).unwrap();
        for (i, rowid) in &ids {
            let key: String = conn
                .query_row("SELECT access_key_id FROM vend_audit WHERE id = ?1", [rowid], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(key, format!("ASIA{i:03}"), "each waiter gets its own row's id");
        }
        // Ids follow queue order: a request queued earlier never gets a later id.
        let mut by_id = ids;
        by_id.sort_by_key(|(_, id)| *id);
        assert_eq!(by_id.len(), 200);
        assert!(by_id.windows(2).all(|w| w[0].1 < w[1].1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_batch_fails_every_waiter_in_it_writes_none_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (store, blocker, first) = blocked_store(&path).await;
        // A row that cannot be inserted makes its whole transaction fail.
        blocker
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON vend_audit WHEN NEW.access_key_id = 'ASIABAD'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let writes: Vec<_> = ["ASIA1", "ASIABAD", "ASIA2"]
            .into_iter()
            .map(|k| {
                let store = store.clone();
                tokio::spawn(async move { store.record_vend(row(&user(), k)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        blocker.execute_batch("COMMIT").unwrap();
        first.await.unwrap().unwrap();
        for w in writes {
            assert!(
                w.await.unwrap().is_err(),
                "every waiter of the failed batch gets the error"
            );
        }
        for k in ["ASIA1", "ASIABAD", "ASIA2"] {
            assert!(store.key_owner(k).await.unwrap().is_empty(), "{k} not written");
        }
        store.record_vend(row(&user(), "ASIA3")).await.unwrap();
        assert_eq!(store.key_owner("ASIA3").await.unwrap().len(), 1);
    }
}
