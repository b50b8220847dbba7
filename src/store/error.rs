//! The store's one error type, for every backend.

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("PostgreSQL: {}", postgres_detail(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Connecting, TLS, the pool: what stops the `PostgreSQL` backend from starting.
    #[error("PostgreSQL set-up: {0}")]
    PostgresSetup(String),
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
    /// No connection could be had in time (the server is down or unreachable).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// True when the database could not be reached or was busy, as opposed to refusing what
    /// was asked: worth retrying later (503), not a bug (500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Unavailable(_) => true,
            Self::Postgres(e) => {
                // No SQLSTATE: the connection broke. Class 08: connection exception; 57P01-03:
                // the server is shutting down or starting; class 53: out of resources.
                e.is_closed()
                    || e.code().is_none_or(|c| {
                        let c = c.code();
                        c.starts_with("08") || c.starts_with("53") || matches!(c, "57P01" | "57P02" | "57P03")
                    })
            }
            Self::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Self::Batch(inner) => inner.is_unavailable(),
            Self::PostgresSetup(_) | Self::Migration(_) | Self::Task(_) | Self::Corrupt(_) | Self::Io(_) => false,
        }
    }
}

/// `tokio_postgres::Error` shows only its kind ("db error"); the server's message and the I/O
/// or TLS cause are in its source. Neither ever holds the connection's password.
fn postgres_detail(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Self::Postgres(e),
            other => Self::Unavailable(format!("connection pool: {other}")),
        }
    }
}
