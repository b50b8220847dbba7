//! `prefix_revocations`: the revocation cut-offs a shared bucket's policy is rendered from.

use time::OffsetDateTime;

use super::PgStore;
use super::users::parse_time;
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::format_time;
use crate::store::prefix::latest;
use crate::store::{PrefixRevocation, StoreError, UserActivity, sql};

fn optional_time(s: Option<&str>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.map(parse_time).transpose()
}

impl PgStore {
    pub async fn add_prefix_revocations(
        &self,
        bucket: &BucketName,
        users: &[UserId],
        cut_off: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let users: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let c = self.client().await?;
        // The later cut-off wins (RFC 3339 UTC in the "C" collation sorts as time).
        c.execute(
            "INSERT INTO prefix_revocations (bucket, user_id, cut_off)
             SELECT $1, u, $3 FROM unnest($2::text[]) AS u
             ON CONFLICT (bucket, user_id) DO UPDATE
                 SET cut_off = GREATEST(prefix_revocations.cut_off, excluded.cut_off)",
            &[&bucket.as_str(), &users, &format_time(cut_off)],
        )
        .await?;
        Ok(())
    }

    /// Forgets `users`' cut-offs on `bucket`.
    pub async fn remove_prefix_revocations(&self, bucket: &BucketName, users: &[UserId]) -> Result<(), StoreError> {
        let users: Vec<&str> = users.iter().map(UserId::as_str).collect();
        let c = self.client().await?;
        c.execute(
            "DELETE FROM prefix_revocations WHERE bucket = $1 AND user_id = ANY($2::text[])",
            &[&bucket.as_str(), &users],
        )
        .await?;
        Ok(())
    }

    pub async fn prefix_revocations(
        &self,
        bucket: &BucketName,
        since: OffsetDateTime,
    ) -> Result<Vec<PrefixRevocation>, StoreError> {
        let c = self.client().await?;
        let since = format_time(since);
        c.execute(
            "DELETE FROM prefix_revocations WHERE bucket = $1 AND cut_off < $2",
            &[&bucket.as_str(), &since],
        )
        .await?;
        let rows = c.query(&sql::prefix_revocations("$1"), &[&bucket.as_str()]).await?;
        rows.iter()
            .map(|r| {
                Ok(PrefixRevocation {
                    user_id: UserId::parse(r.try_get(0)?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    cut_off: parse_time(r.try_get(1)?)?,
                    last_hand_out: latest(optional_time(r.try_get(2)?)?, optional_time(r.try_get(3)?)?),
                })
            })
            .collect()
    }

    pub async fn user_activity(&self, user_id: &UserId) -> Result<UserActivity, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&sql::user_activity("$1")).await?;
        let r = c.query_one(&stmt, &[&user_id.as_str()]).await?;
        Ok(UserActivity {
            last_hand_out: latest(optional_time(r.try_get(0)?)?, optional_time(r.try_get(1)?)?),
            sessions_until: latest(optional_time(r.try_get(2)?)?, optional_time(r.try_get(3)?)?),
        })
    }
}
