//! `prefix_revocations`: the revocation cut-offs a shared bucket's policy is rendered from.

use rusqlite::params;
use time::OffsetDateTime;

use super::{SqliteStore, parse_time};
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::format_time;
use crate::store::prefix::latest;
use crate::store::{PrefixRevocation, StoreError, UserActivity, sql};

fn optional_time(s: Option<&str>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.map(parse_time).transpose()
}

impl SqliteStore {
    pub async fn add_prefix_revocations(
        &self,
        bucket: &BucketName,
        users: &[UserId],
        cut_off: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let bucket = bucket.as_str().to_owned();
        let users: Vec<String> = users.iter().map(|u| u.as_str().to_owned()).collect();
        let at = format_time(cut_off);
        self.run(move |c| {
            let tx = c.transaction()?;
            {
                // The later cut-off wins (RFC 3339 UTC sorts as text).
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO prefix_revocations (bucket, user_id, cut_off) VALUES (?1, ?2, ?3)
                     ON CONFLICT (bucket, user_id) DO UPDATE SET cut_off = MAX(cut_off, excluded.cut_off)",
                )?;
                for u in &users {
                    stmt.execute(params![bucket, u, at])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Forgets `users`' cut-offs on `bucket`.
    pub async fn remove_prefix_revocations(&self, bucket: &BucketName, users: &[UserId]) -> Result<(), StoreError> {
        let bucket = bucket.as_str().to_owned();
        let users: Vec<String> = users.iter().map(|u| u.as_str().to_owned()).collect();
        self.run(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt =
                    tx.prepare_cached("DELETE FROM prefix_revocations WHERE bucket = ?1 AND user_id = ?2")?;
                for u in &users {
                    stmt.execute(params![bucket, u])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn prefix_revocations(
        &self,
        bucket: &BucketName,
        since: OffsetDateTime,
    ) -> Result<Vec<PrefixRevocation>, StoreError> {
        let (bucket, since) = (bucket.as_str().to_owned(), format_time(since));
        self.run(move |c| {
            c.execute(
                "DELETE FROM prefix_revocations WHERE bucket = ?1 AND cut_off < ?2",
                params![bucket, since],
            )?;
            let mut stmt = c.prepare_cached(&sql::prefix_revocations("?1"))?;
            let rows = stmt.query_map([&bucket], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            })?;
            rows.map(|r| {
                let (user, cut_off, vended, signed) = r?;
                Ok(PrefixRevocation {
                    user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    cut_off: parse_time(&cut_off)?,
                    last_hand_out: latest(optional_time(vended.as_deref())?, optional_time(signed.as_deref())?),
                })
            })
            .collect()
        })
        .await
    }

    pub async fn user_activity(&self, user_id: &UserId) -> Result<UserActivity, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let texts: [Option<String>; 4] = c
                .prepare_cached(&sql::user_activity("?1"))?
                .query_row([id], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))?;
            let [vended, signed, keys_expire, urls_expire] = texts.each_ref().map(|t| optional_time(t.as_deref()));
            Ok(UserActivity {
                last_hand_out: latest(vended?, signed?),
                sessions_until: latest(keys_expire?, urls_expire?),
            })
        })
        .await
    }
}
