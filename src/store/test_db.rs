//! Databases for the store test suite (`tests`): each test runs once on a temporary `SQLite`
//! file and once on a `PostgreSQL` database of its own, created on the server at
//! `STSVEND_TEST_DATABASE_URL` (so tests run in parallel) and dropped when it passes.
//!
//! Without that variable the `PostgreSQL` half fails, naming the script that provides it:
//! a suite that silently skips a backend proves nothing about it.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use super::Store;
use crate::config::DatabaseConfig;

pub const URL_VAR: &str = "STSVEND_TEST_DATABASE_URL";
pub const CA_VAR: &str = "STSVEND_TEST_DATABASE_CA_FILE";

/// A required variable set by `eval "$(bash scripts/postgres.sh env)"`, or a panic saying so.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the store suite runs on PostgreSQL as well as SQLite. Start one with \
             `bash scripts/postgres.sh start` and run `eval \"$(bash scripts/postgres.sh env)\"` first"
        )
    })
}

/// One test's database; clones share it, and `open` makes another store (another replica) on it.
#[derive(Clone)]
pub struct TestDb(Arc<Inner>);

enum Inner {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { url: String },
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db/s.db");
        Self(Arc::new(Inner::Sqlite { _dir: dir, path }))
    }

    /// A fresh database on the test server; returns it with its name.
    async fn postgres() -> (Self, String) {
        let server = required_env(URL_VAR);
        let name = format!("stsvend_t_{}", uuid::Uuid::new_v4().simple());
        admin(&server, &format!("CREATE DATABASE {name}")).await;
        let url = with_database(&server, &name);
        (Self(Arc::new(Inner::Postgres { url })), name)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(*self.0, Inner::Postgres { .. })
    }

    /// The database's settings, as `database.*` would hold them.
    pub fn config(&self) -> DatabaseConfig {
        match &*self.0 {
            Inner::Sqlite { path, .. } => DatabaseConfig {
                path: path.clone(),
                url: None,
                ca_file: None,
            },
            Inner::Postgres { url } => DatabaseConfig {
                path: PathBuf::from("unused.db"),
                url: Some(url.clone()),
                ca_file: None,
            },
        }
    }

    /// Another store on this database (migrations run again, as on every start).
    pub async fn open(&self) -> Store {
        Store::connect(&self.config()).await.unwrap()
    }
}

/// Runs `f` on `SQLite`, then on `PostgreSQL`.
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    eprintln!("-- on SQLite");
    f(TestDb::sqlite()).await;
    eprintln!("-- on PostgreSQL");
    let (db, name) = TestDb::postgres().await;
    f(db).await;
    drop_database(&name).await;
}

/// Drops a test database, even with stores still connected to it. `PostgreSQL` refuses to end
/// a backend still authenticating (its role is not known yet: "must be a member of the role
/// whose process is being terminated"), so a pool opening a connection at that moment makes
/// the drop fail: it is tried again, a bounded number of times.
pub async fn drop_database(name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    for _ in 0..20 {
        match try_admin(&required_env(URL_VAR), &sql).await {
            Ok(()) => return,
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    panic!("{sql}: a backend kept the database open");
}

/// Runs `sql` on the test server's own database, returning `PostgreSQL`'s refusal.
async fn try_admin(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {URL_VAR} (is `bash scripts/postgres.sh start` running?): {e}"));
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

/// Runs `sql` on the test server's own database (the URL must be sslmode=disable).
pub async fn admin(url: &str, sql: &str) {
    try_admin(url, sql).await.unwrap();
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.split_once('?').map_or(String::new(), |(_, q)| format!("?{q}"));
    format!("{scheme}://{authority}/{name}{query}")
}

/// `url` with its `sslmode` replaced (or added).
pub fn with_sslmode(url: &str, mode: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("sslmode="))
        .collect();
    let sslmode = format!("sslmode={mode}");
    params.push(&sslmode);
    format!("{base}?{}", params.join("&"))
}
