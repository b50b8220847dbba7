//! The `users` table: one mapping per user (bucket, state), and the admin switches on it.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::{SqliteStore, parse_time};
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::{Admission, NewUser, NewUserLimit, StoreError, UserQuery, UserRecord};

const USER_COLUMNS: &str =
    "user_id, issuer, subject, bucket, candidate, region, state, created_at, disabled_at, revoked_before, mode, prefix";

impl SqliteStore {
    pub async fn user(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| select_user(c, &id)).await
    }

    /// Inserts a new user's row unless they already have one (pending in bucket mode, ready in
    /// prefix mode: see `NewUser::prefix`); returns the row either way.
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<UserRecord, StoreError> {
        let row = NewRow::of(new);
        self.run(move |c| {
            row.insert(c)?;
            select_user(c, &row.id)?.ok_or_else(|| StoreError::Corrupt("row vanished after insert".to_owned()))
        })
        .await
    }

    /// The user's row, or a new one unless `limit` users were created within its window.
    pub async fn admit_user(&self, new: &NewUser<'_>, limit: NewUserLimit) -> Result<Admission, StoreError> {
        let row = NewRow::of(new);
        self.run(move |c| {
            // IMMEDIATE: the write lock is taken before counting, so no other process can
            // insert between the count and this insert.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(existing) = select_user(&tx, &row.id)? {
                return Ok(Admission::Row(existing));
            }
            let since = limit.window_start();
            let created: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM users WHERE created_at > ?1")?
                .query_row([&since], |r| r.get(0))?;
            let over = created - i64::from(limit.limit.get());
            if over >= 0 {
                // Room comes back when the oldest `over + 1` of them have left the window.
                let oldest: String = tx
                    .prepare_cached(
                        "SELECT created_at FROM users WHERE created_at > ?1 ORDER BY created_at LIMIT 1 OFFSET ?2",
                    )?
                    .query_row(params![since, over], |r| r.get(0))?;
                return Ok(Admission::Full {
                    room_at: parse_time(&oldest)? + limit.window,
                });
            }
            row.insert(&tx)?;
            let inserted = select_user(&tx, &row.id)?
                .ok_or_else(|| StoreError::Corrupt("row vanished after insert".to_owned()))?;
            tx.commit()?;
            Ok(Admission::Row(inserted))
        })
        .await
    }

    /// Moves a pending user to another bucket-name candidate.
    pub async fn set_bucket(&self, user_id: &UserId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        let (id, bucket) = (user_id.as_str().to_owned(), bucket.as_str().to_owned());
        self.run(move |c| {
            c.execute(
                "UPDATE users SET bucket = ?2, candidate = ?3, updated_at = ?4 WHERE user_id = ?1 AND state = 'pending'",
                params![id, bucket, candidate, format_time(now())],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn mark_ready(&self, user_id: &UserId) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        // Not a change in the feed: no process caches a row before it is ready (see
        // `Store::mark_ready`).
        self.run(move |c| {
            c.execute(
                "UPDATE users SET state = 'ready', updated_at = ?2 WHERE user_id = ?1",
                params![id, format_time(now())],
            )?;
            Ok(())
        })
        .await
    }

    /// Buckets the users' rows name: each bucket-mode user's, and each shared bucket once.
    pub async fn count_buckets(&self) -> Result<i64, StoreError> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(mode = 'bucket'), 0) + COUNT(DISTINCT CASE WHEN mode = 'prefix' THEN bucket END)
                 FROM users",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Number of user rows, by state: (ready, pending).
    pub async fn count_users(&self) -> Result<(i64, i64), StoreError> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(SUM(state = 'ready'), 0), COALESCE(SUM(state = 'pending'), 0) FROM users",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    /// Number of users in prefix mode.
    pub async fn count_prefix_users(&self) -> Result<i64, StoreError> {
        self.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM users WHERE mode = 'prefix'", [], |r| r.get(0))?))
            .await
    }

    /// Users matching `q`, with each one's last vend time.
    pub async fn list_users(&self, q: UserQuery) -> Result<Vec<(UserRecord, Option<String>)>, StoreError> {
        self.flush_audit().await?;
        self.run(move |c| {
            let last_vend = crate::store::sql::last_vend_of("users.user_id");
            let search = q.search.unwrap_or_default();
            let like = format!("%{}%", escape_like(&search));
            let prefix = format!("{}%", escape_like(&search));
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, {last_vend}
                 FROM users
                 WHERE user_id > ?1
                   AND (?2 = '' OR user_id LIKE ?3 ESCAPE '\\' OR bucket LIKE ?3 ESCAPE '\\'
                        OR subject LIKE ?4 ESCAPE '\\')
                 ORDER BY user_id LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![q.after.unwrap_or_default(), search, prefix, like, q.limit],
                |r| Ok((RawUser::from_row(r)?, r.get::<_, Option<String>>(12)?)),
            )?;
            rows.map(|r| {
                let (raw, last) = r?;
                Ok((raw.parse()?, last))
            })
            .collect()
        })
        .await
    }

    /// Sets or clears `disabled_at`; false when there is no such user.
    pub async fn set_disabled(&self, user_id: &UserId, disabled: bool) -> Result<bool, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let at = format_time(now());
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE users SET disabled_at = CASE WHEN ?2 THEN COALESCE(disabled_at, ?3) END, updated_at = ?3
                 WHERE user_id = ?1",
                params![id, disabled, at],
            )?;
            changed(&tx, &id)?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn set_revoked_before(&self, user_id: &UserId, before: OffsetDateTime) -> Result<(), StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                // Concurrent revocations: the later cut-off wins (RFC 3339 UTC sorts as text).
                "UPDATE users SET revoked_before = MAX(COALESCE(revoked_before, ''), ?2), updated_at = ?3
                 WHERE user_id = ?1",
                params![id, format_time(before), format_time(now())],
            )?;
            changed(&tx, &id)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Moves the user's row to `deleted_users` (the audit log keeps its rows).
    pub async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let moved = tx.execute(
                "INSERT INTO deleted_users (user_id, issuer, subject, bucket, created_at, deleted_at, prefix)
                 SELECT user_id, issuer, subject, bucket, created_at, ?2, prefix FROM users WHERE user_id = ?1",
                params![id, format_time(now())],
            )?;
            tx.execute("DELETE FROM users WHERE user_id = ?1", [&id])?;
            changed(&tx, &id)?;
            tx.commit()?;
            Ok(moved == 1)
        })
        .await
    }
}

/// A new user's row, owned, for the blocking pool.
struct NewRow {
    id: String,
    issuer: String,
    subject: String,
    bucket: String,
    region: String,
    mode: &'static str,
    prefix: String,
    state: &'static str,
}

impl NewRow {
    fn of(new: &NewUser<'_>) -> Self {
        let (mode, prefix, state) = crate::store::storage_columns(new);
        Self {
            id: new.user_id.as_str().to_owned(),
            issuer: new.issuer.to_owned(),
            subject: new.subject.to_owned(),
            bucket: new.bucket.as_str().to_owned(),
            region: new.region.to_owned(),
            mode,
            prefix,
            state,
        }
    }

    /// Inserts the row unless the user has one.
    fn insert(&self, c: &Connection) -> Result<(), StoreError> {
        let at = format_time(now());
        c.prepare_cached(
            "INSERT INTO users (user_id, issuer, subject, bucket, candidate, region, state, created_at, updated_at, mode, prefix)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?7, ?6, ?6, ?8, ?9)
             ON CONFLICT (user_id) DO NOTHING",
        )?
        .execute(params![
            self.id,
            self.issuer,
            self.subject,
            self.bucket,
            self.region,
            at,
            self.state,
            self.mode,
            self.prefix
        ])?;
        Ok(())
    }
}

/// Appends the user to the change feed, inside the transaction that changed them.
fn changed(tx: &rusqlite::Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO user_changes (user_id, at) VALUES (?1, unixepoch())")?
        .execute([id])?;
    Ok(())
}

/// `s` matched literally by `LIKE ... ESCAPE '\\'`.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A row as stored, before its values are parsed.
struct RawUser {
    user_id: String,
    issuer: String,
    subject: String,
    bucket: String,
    candidate: u32,
    region: String,
    state: String,
    created_at: String,
    disabled_at: Option<String>,
    revoked_before: Option<String>,
    mode: String,
    prefix: String,
}

impl RawUser {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_id: r.get(0)?,
            issuer: r.get(1)?,
            subject: r.get(2)?,
            bucket: r.get(3)?,
            candidate: r.get(4)?,
            region: r.get(5)?,
            state: r.get(6)?,
            created_at: r.get(7)?,
            disabled_at: r.get(8)?,
            revoked_before: r.get(9)?,
            mode: r.get(10)?,
            prefix: r.get(11)?,
        })
    }

    fn parse(self) -> Result<UserRecord, StoreError> {
        let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
        Ok(UserRecord {
            user_id: UserId::parse(&self.user_id).map_err(corrupt)?,
            issuer: self.issuer,
            subject: self.subject,
            bucket: BucketName::parse(&self.bucket).map_err(corrupt)?,
            candidate: self.candidate,
            region: self.region,
            state: self.state.parse()?,
            created_at: parse_time(&self.created_at)?,
            disabled_at: self.disabled_at.as_deref().map(parse_time).transpose()?,
            revoked_before: self.revoked_before.as_deref().map(parse_time).transpose()?,
            prefix: crate::store::parse_prefix(&self.mode, &self.prefix)?,
        })
    }
}

pub(super) fn select_user(c: &Connection, id: &str) -> Result<Option<UserRecord>, StoreError> {
    c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"))?
        .query_row([id], RawUser::from_row)
        .optional()?
        .map(RawUser::parse)
        .transpose()
}
