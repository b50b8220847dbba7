//! The `users` table: one mapping per user (bucket, state), and the admin switches on it.

use deadpool_postgres::ClientWrapper;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};

use super::{PgStore, to_u32};
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::{Admission, NewUser, NewUserLimit, StoreError, UserQuery, UserRecord};

const USER_COLUMNS: &str =
    "user_id, issuer, subject, bucket, candidate, region, state, created_at, disabled_at, revoked_before, mode, prefix";

impl PgStore {
    pub async fn user(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        select_user(&*self.client().await?, user_id.as_str()).await
    }

    /// Inserts a new user's row unless they already have one (pending in bucket mode, ready in
    /// prefix mode: see `NewUser::prefix`); returns the row either way.
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<UserRecord, StoreError> {
        let c = self.client().await?;
        insert_row(&**c, new).await?;
        select_user(&c, new.user_id.as_str())
            .await?
            .ok_or_else(|| StoreError::Corrupt("new user's bucket or identity is already another user's".to_owned()))
    }

    /// The user's row, or a new one unless `limit` users were created within its window.
    pub async fn admit_user(&self, new: &NewUser<'_>, limit: NewUserLimit) -> Result<Admission, StoreError> {
        let id = new.user_id.as_str();
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1");
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Every replica's first logins queue here for the few statements below, so two of
        // them cannot both count `limit - 1` and both insert. Returning users never get here.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&NEW_USER_LOCK])
            .await?;
        if let Some(existing) = tx.query_opt(&select, &[&id]).await? {
            return Ok(Admission::Row(parse_user(&existing)?));
        }
        let since = limit.window_start();
        let created: i64 = tx
            .query_one("SELECT COUNT(*) FROM users WHERE created_at > $1", &[&since])
            .await?
            .try_get(0)?;
        let over = created - i64::from(limit.limit.get());
        if over >= 0 {
            // Room comes back when the oldest `over + 1` of them have left the window.
            let oldest: String = tx
                .query_one(
                    "SELECT created_at FROM users WHERE created_at > $1 ORDER BY created_at LIMIT 1 OFFSET $2",
                    &[&since, &over],
                )
                .await?
                .try_get(0)?;
            return Ok(Admission::Full {
                room_at: parse_time(&oldest)? + limit.window,
            });
        }
        insert_row(&*tx, new).await?;
        let row = tx
            .query_opt(&select, &[&id])
            .await?
            .ok_or_else(|| StoreError::Corrupt("new user's bucket or identity is already another user's".to_owned()))?;
        let row = parse_user(&row)?;
        tx.commit().await?;
        Ok(Admission::Row(row))
    }

    /// Moves a pending user to another bucket-name candidate.
    pub async fn set_bucket(&self, user_id: &UserId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE users SET bucket = $2, candidate = $3, updated_at = $4 WHERE user_id = $1 AND state = 'pending'",
                &[
                    &user_id.as_str(),
                    &bucket.as_str(),
                    &i64::from(candidate),
                    &format_time(now()),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn mark_ready(&self, user_id: &UserId) -> Result<(), StoreError> {
        // Not a change in the feed: no process caches a row before it is ready (see
        // `Store::mark_ready`).
        self.client()
            .await?
            .execute(
                "UPDATE users SET state = 'ready', updated_at = $2 WHERE user_id = $1",
                &[&user_id.as_str(), &format_time(now())],
            )
            .await?;
        Ok(())
    }

    /// Buckets the users' rows name: each bucket-mode user's, and each shared bucket once.
    pub async fn count_buckets(&self) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE mode = 'bucket') + COUNT(DISTINCT bucket) FILTER (WHERE mode = 'prefix')
                 FROM users",
                &[],
            )
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Number of user rows, by state: (ready, pending).
    pub async fn count_users(&self) -> Result<(i64, i64), StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FILTER (WHERE state = 'ready'), COUNT(*) FILTER (WHERE state = 'pending') FROM users",
                &[],
            )
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Number of users in prefix mode.
    pub async fn count_prefix_users(&self) -> Result<i64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT COUNT(*) FROM users WHERE mode = 'prefix'", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Users matching `q`, with each one's last vend time.
    pub async fn list_users(&self, q: UserQuery) -> Result<Vec<(UserRecord, Option<String>)>, StoreError> {
        self.flush_audit().await?;
        let last_vend = crate::store::sql::last_vend_of("users.user_id");
        let search = q.search.unwrap_or_default();
        let like = format!("%{}%", escape_like(&search));
        let prefix = format!("{}%", escape_like(&search));
        // ILIKE: `SQLite`'s LIKE ignores ASCII case, and both backends must find the same users.
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {USER_COLUMNS}, {last_vend}
                     FROM users
                     WHERE user_id > $1
                       AND ($2 = '' OR user_id ILIKE $3 ESCAPE '\\' OR bucket ILIKE $3 ESCAPE '\\'
                            OR subject ILIKE $4 ESCAPE '\\')
                     ORDER BY user_id LIMIT $5"
                ),
                &[
                    &q.after.unwrap_or_default(),
                    &search,
                    &prefix,
                    &like,
                    &i64::from(q.limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((parse_user(r)?, r.try_get::<_, Option<String>>(12)?)))
            .collect()
    }

    /// Sets or clears `disabled_at`; false when there is no such user.
    pub async fn set_disabled(&self, user_id: &UserId, disabled: bool) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET disabled_at = CASE WHEN $2 THEN COALESCE(disabled_at, $3) END, updated_at = $3
                 WHERE user_id = $1",
                &[&user_id.as_str(), &disabled, &format_time(now())],
            )
            .await?;
        super::changes::changed(&tx, user_id.as_str()).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn set_revoked_before(&self, user_id: &UserId, before: OffsetDateTime) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        tx.execute(
            // Concurrent revocations: the later cut-off wins (RFC 3339 UTC sorts as text).
            "UPDATE users SET revoked_before = GREATEST(COALESCE(revoked_before, ''), $2), updated_at = $3
             WHERE user_id = $1",
            &[&user_id.as_str(), &format_time(before), &format_time(now())],
        )
        .await?;
        super::changes::changed(&tx, user_id.as_str()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves the user's row to `deleted_users` (the audit log keeps its rows).
    pub async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let moved = tx
            .execute(
                "INSERT INTO deleted_users (user_id, issuer, subject, bucket, created_at, deleted_at, prefix)
                 SELECT user_id, issuer, subject, bucket, created_at, $2, prefix FROM users WHERE user_id = $1",
                &[&user_id.as_str(), &format_time(now())],
            )
            .await?;
        tx.execute("DELETE FROM users WHERE user_id = $1", &[&user_id.as_str()])
            .await?;
        super::changes::changed(&tx, user_id.as_str()).await?;
        tx.commit().await?;
        Ok(moved == 1)
    }
}

/// Advisory lock key serializing admissions of new users ("stsvend" + 3).
const NEW_USER_LOCK: i64 = 0x7374_7376_656e_6403;

/// Inserts a new user's row unless they already have one.
async fn insert_row(c: &impl GenericClient, new: &NewUser<'_>) -> Result<(), StoreError> {
    let at = format_time(now());
    // No conflict target: a replica inserting the same user at the same moment may meet
    // this row on any of its unique keys (user, bucket, issuer+subject); each one is the
    // same user, so none is an error. The caller's select says whose row won.
    let (mode, prefix, state) = crate::store::storage_columns(new);
    c.execute(
        "INSERT INTO users (user_id, issuer, subject, bucket, candidate, region, state, created_at, updated_at, mode, prefix)
         VALUES ($1, $2, $3, $4, 0, $5, $7, $6, $6, $8, $9)
         ON CONFLICT DO NOTHING",
        &[
            &new.user_id.as_str(),
            &new.issuer,
            &new.subject,
            &new.bucket.as_str(),
            &new.region,
            &at,
            &state,
            &mode,
            &prefix,
        ],
    )
    .await?;
    Ok(())
}

/// A stored time, or `Corrupt`.
pub(super) fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    crate::runtime::clock::parse_time(s).ok_or_else(|| StoreError::Corrupt(format!("time `{s}`")))
}

/// `s` matched literally by `LIKE ... ESCAPE '\\'`.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn parse_user(r: &Row) -> Result<UserRecord, StoreError> {
    let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
    let time = |i: usize| -> Result<Option<OffsetDateTime>, StoreError> {
        r.try_get::<_, Option<String>>(i)?
            .as_deref()
            .map(parse_time)
            .transpose()
    };
    Ok(UserRecord {
        user_id: UserId::parse(r.try_get(0)?).map_err(corrupt)?,
        issuer: r.try_get(1)?,
        subject: r.try_get(2)?,
        bucket: BucketName::parse(r.try_get(3)?).map_err(corrupt)?,
        candidate: to_u32(r.try_get(4)?, "candidate")?,
        region: r.try_get(5)?,
        state: r.try_get::<_, &str>(6)?.parse()?,
        created_at: parse_time(r.try_get(7)?)?,
        disabled_at: time(8)?,
        revoked_before: time(9)?,
        prefix: crate::store::parse_prefix(r.try_get(10)?, r.try_get(11)?)?,
    })
}

async fn select_user(c: &ClientWrapper, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = $1"))
        .await?;
    c.query_opt(&stmt, &[&id]).await?.as_ref().map(parse_user).transpose()
}
