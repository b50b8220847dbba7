//! `SQLite` store: user mappings and the vend audit log.
//!
//! Every call runs on tokio's blocking pool with a connection from an r2d2 pool; no
//! connection is held across an `.await`. `SQLite` allows one writer at a time: WAL lets
//! readers proceed during a write, and `busy_timeout` makes a second writer wait instead of
//! failing with `SQLITE_BUSY`. Vend audit rows go through a single writer thread that commits
//! them in batches (`audit_writer`); a cache hit for a party already on record writes nothing
//! on the request path (`repeats`).

mod audit;
mod audit_writer;
mod migrations;
mod repeats;
mod spill;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::{BucketName, UserId};

pub use audit::{AdminAction, KeyOwner};
pub use spill::Spilled;
pub use users::UserQuery;

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_SIZE: u32 = 8;
/// Page cache per pooled connection, KiB (`SQLite`'s default is 2,000). The pool serves indexed
/// single-row reads, mostly on cache misses of the mapping cache; the OS page cache holds the
/// file. With 8 connections the default costs up to 16 MiB of RSS.
const POOL_PAGE_CACHE_KIB: u32 = 512;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("database holds an invalid value: {0}")]
    Corrupt(String),
    #[error("cannot create database directory: {0}")]
    Io(#[from] std::io::Error),
    /// The audit transaction this row was part of failed (shared by every row in it).
    #[error("audit batch: {0}")]
    Batch(Arc<StoreError>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionState {
    Pending,
    Ready,
}

impl ProvisionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
        }
    }
}

impl FromStr for ProvisionState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "ready" => Ok(Self::Ready),
            other => Err(StoreError::Corrupt(format!("state `{other}`"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: UserId,
    pub issuer: String,
    pub subject: String,
    pub bucket: BucketName,
    pub candidate: u32,
    pub region: String,
    pub state: ProvisionState,
    pub created_at: OffsetDateTime,
    /// Set while an admin has disabled the user: no credentials are vended.
    pub disabled_at: Option<OffsetDateTime>,
    /// Sessions issued before this instant are denied by the bucket policy.
    pub revoked_before: Option<OffsetDateTime>,
}

/// What a new user's row starts as.
pub struct NewUser<'a> {
    pub user_id: &'a UserId,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub bucket: &'a BucketName,
    pub region: &'a str,
}

/// One audit row.
pub struct VendRecord {
    pub user_id: UserId,
    pub access_key_id: String,
    pub template: String,
    pub expiration: OffsetDateTime,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
    pub from_cache: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// The vend audit log's writer (group commit); see `audit_writer`.
    audit: Arc<audit_writer::AuditWriter>,
    /// Repeat hand-outs counted in memory until the writer takes them; see `repeats`.
    repeats: Arc<repeats::Repeats>,
    /// When expired spilled credentials were last deleted; see `spill`.
    spill_pruned: Arc<std::sync::Mutex<std::time::Instant>>,
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc())
}

pub fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| StoreError::Corrupt(format!("time `{s}`")))
}

impl Store {
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
        Ok(Self {
            pool,
            audit,
            repeats: Arc::new(repeats::Repeats::new()),
            spill_pruned: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
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
    use super::*;

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
}
