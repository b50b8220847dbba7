//! `SQLite` backend: the embedded default.
//!
//! Every call runs on tokio's blocking pool with a connection from an r2d2 pool; no
//! connection is held across an `.await`. `SQLite` allows one writer at a time: WAL lets
//! readers proceed during a write, and `busy_timeout` makes a second writer wait instead of
//! failing with `SQLITE_BUSY`. Vend audit rows go through a single writer thread that commits
//! them in batches (`audit_writer`); a cache hit for a party already on record writes nothing
//! on the request path (`repeats`). Spilled credentials have a writer thread of their own
//! (`spill`).

mod audit;
mod audit_writer;
mod changes;
mod migrations;
mod repeats;
mod spill;
mod users;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use time::OffsetDateTime;

use super::StoreError;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_SIZE: u32 = 8;
/// Page cache per pooled connection, KiB (`SQLite`'s default is 2,000). The pool serves indexed
/// single-row reads, mostly on cache misses of the mapping cache; the OS page cache holds the
/// file. With 8 connections the default costs up to 16 MiB of RSS.
const POOL_PAGE_CACHE_KIB: u32 = 512;

#[derive(Clone)]
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The vend audit log's writer (group commit); see `audit_writer`.
    audit: Arc<audit_writer::AuditWriter>,
    /// Repeat hand-outs counted in memory until the writer takes them; see `repeats`.
    repeats: Arc<repeats::Repeats>,
    /// The credential spill's writer; see `spill`.
    spill: Arc<spill::SpillWriter>,
}

/// A stored time, or `Corrupt`.
fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    crate::clock::parse_time(s).ok_or_else(|| StoreError::Corrupt(format!("time `{s}`")))
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // WAL is a property of the file: set it once, before the pool opens connections in
        // parallel (concurrent journal-mode switches fail with "database is locked").
        {
            let c = Connection::open(path)?;
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.pragma_update(None, "journal_mode", "WAL")?;
        }
        let manager = SqliteConnectionManager::file(path).with_init(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{POOL_PAGE_CACHE_KIB};"
            ))
        });
        let pool = r2d2::Pool::builder().max_size(POOL_SIZE).build(manager)?;
        let mut conn = pool.get()?;
        migrations::migrations().to_latest(&mut conn)?;
        let audit = Arc::new(audit_writer::AuditWriter::start(path)?);
        let spill = Arc::new(spill::SpillWriter::start(path)?);
        Ok(Self {
            pool,
            audit,
            repeats: Arc::new(repeats::Repeats::new()),
            spill,
        })
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            StoreError::Task(e.to_string())
        })?
    }

    /// True when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::now;
    use crate::identity::{BucketName, UserId};
    use crate::store::{NewUser, ProvisionState, Store, VendRecord};

    fn new_user<'a>(id: &'a UserId, bucket: &'a BucketName) -> NewUser<'a> {
        NewUser {
            user_id: id,
            issuer: "https://i/",
            subject: "auth0|a",
            bucket,
            region: "us-east-1",
        }
    }

    #[tokio::test]
    async fn pending_row_is_created_once_and_becomes_ready() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db/s.db")).unwrap();
        let id = UserId::derive("https://i/", "auth0|a");
        let b0 = id.bucket_candidate("p", 0).unwrap();
        let first = store.insert_pending(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(first.state, ProvisionState::Pending);
        let again = store.insert_pending(&new_user(&id, &b0)).await.unwrap();
        assert_eq!(again.created_at, first.created_at);

        let b1 = id.bucket_candidate("p", 1).unwrap();
        store.set_bucket(&id, &b1, 1).await.unwrap();
        store.mark_ready(&id).await.unwrap();
        let row = store.user(&id).await.unwrap().unwrap();
        assert_eq!((row.state, row.bucket, row.candidate), (ProvisionState::Ready, b1, 1));
        assert_eq!(store.count_users().await.unwrap(), (1, 0));
    }

    #[tokio::test]
    async fn audit_rows_lead_back_to_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let id = UserId::derive("https://i/", "auth0|a");
        let b0 = id.bucket_candidate("p", 0).unwrap();
        store.insert_pending(&new_user(&id, &b0)).await.unwrap();
        store
            .record_vend(VendRecord {
                user_id: id.clone(),
                access_key_id: "ASIAEXAMPLE".to_owned(),
                template: "read-write".to_owned(),
                expiration: now(),
                client_addr: Some("127.0.0.1".to_owned()),
                client_id: None,
                from_cache: false,
            })
            .await
            .unwrap();
        let found = store.key_owner("ASIAEXAMPLE").await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].user_id, id.as_str());
        assert!(store.key_owner("ASIAOTHER").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reopening_keeps_rows_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let id = UserId::derive("https://i/", "auth0|a");
        let b0 = id.bucket_candidate("p", 0).unwrap();
        Store::open(&path)
            .unwrap()
            .insert_pending(&new_user(&id, &b0))
            .await
            .unwrap();
        let row = Store::open(&path).unwrap().user(&id).await.unwrap();
        assert_eq!(row.unwrap().bucket, b0);
    }

    #[tokio::test]
    async fn the_user_list_and_the_single_user_view_agree_on_the_last_vend() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let id = UserId::derive("https://i/", "auth0|a");
        let b0 = id.bucket_candidate("p", 0).unwrap();
        store.insert_pending(&new_user(&id, &b0)).await.unwrap();
        let row = store
            .record_vend(VendRecord {
                user_id: id.clone(),
                access_key_id: "ASIAEXAMPLE".to_owned(),
                template: "read-write".to_owned(),
                expiration: now(),
                client_addr: None,
                client_id: None,
                from_cache: false,
            })
            .await
            .unwrap();
        let first = store.last_vend(&id).await.unwrap().unwrap();
        // A repeat hand-out of the same keys, a second later, moves the last vend.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        store.note_repeat(row);
        let shown = store.last_vend(&id).await.unwrap().unwrap();
        assert!(shown > first, "the repeat counts: {shown} after {first}");
        let listed = store
            .list_users(crate::store::UserQuery {
                search: None,
                after: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1.as_deref(), Some(shown.as_str()));
    }
}
