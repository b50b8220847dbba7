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
    repeats: Arc<crate::store::repeats::Repeats>,
    /// The credential spill's writer; see `spill`.
    spill: Arc<spill::SpillWriter>,
}

/// Hands the repeat counts to the audit writer every [`FLUSH_EVERY`], so they reach the database
/// within a second also when no further vend comes to hand them over. The thread ends with the
/// store.
///
/// [`FLUSH_EVERY`]: crate::store::repeats::FLUSH_EVERY
fn start_repeat_timer(
    repeats: &Arc<crate::store::repeats::Repeats>,
    audit: &Arc<audit_writer::AuditWriter>,
) -> Result<(), StoreError> {
    let (repeats, audit) = (Arc::downgrade(repeats), Arc::downgrade(audit));
    std::thread::Builder::new()
        .name("repeat-timer".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(crate::store::repeats::FLUSH_EVERY);
                let (Some(repeats), Some(audit)) = (repeats.upgrade(), audit.upgrade()) else {
                    return;
                };
                let due = repeats.take();
                if !due.is_empty()
                    && let Err(back) = audit.try_send_counts(due)
                {
                    repeats.put_back(back);
                }
            }
        })?;
    Ok(())
}

/// A stored time, or `Corrupt`.
fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    crate::runtime::clock::parse_time(s).ok_or_else(|| StoreError::Corrupt(format!("time `{s}`")))
}

/// Start-up steps that another process opening the same file can make fail: tried a few more
/// times, with a growing pause, before the error counts.
fn retrying(mut step: impl FnMut() -> Result<(), StoreError>) -> Result<(), StoreError> {
    const ATTEMPTS: u32 = 6;
    let mut attempt = 1;
    loop {
        match step() {
            Err(e) if attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "opening the database: trying again");
                std::thread::sleep(Duration::from_millis(20) * 2u32.pow(attempt));
                attempt += 1;
            }
            done => return done,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // WAL is a property of the file: set it once, before the pool opens connections in
        // parallel (concurrent journal-mode switches fail with "database is locked", which
        // `busy_timeout` does not cover; another process opening the file now can cause it).
        retrying(|| {
            let c = Connection::open(path)?;
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.pragma_update(None, "journal_mode", "WAL")?;
            Ok(())
        })?;
        let manager = SqliteConnectionManager::file(path).with_init(|c| {
            c.busy_timeout(BUSY_TIMEOUT)?;
            c.execute_batch(&format!(
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{POOL_PAGE_CACHE_KIB};"
            ))
        });
        let pool = r2d2::Pool::builder().max_size(POOL_SIZE).build(manager)?;
        let mut conn = pool.get()?;
        // Processes opening a new file together all read schema version 0; all but the first
        // then fail (on the tables it created, or upgrading a stale read to a write). Their
        // transactions rolled back; reading the version again finds the schema up to date.
        retrying(|| Ok(migrations::migrations().to_latest(&mut conn)?))?;
        let audit = Arc::new(audit_writer::AuditWriter::start(path)?);
        let spill = Arc::new(spill::SpillWriter::start(path)?);
        let repeats = Arc::new(crate::store::repeats::Repeats::new());
        start_repeat_timer(&repeats, &audit)?;
        Ok(Self {
            pool,
            audit,
            repeats,
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
