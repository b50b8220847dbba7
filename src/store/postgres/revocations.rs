//! `prefix_revocations`: the revocation cut-offs a shared bucket's policy is rendered from.

use time::OffsetDateTime;

use super::PgStore;
use super::users::parse_time;
use crate::clock::format_time;
use crate::identity::{BucketName, UserId};
use crate::store::{PrefixRevocation, StoreError};

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
        let rows = c
            .query(
                "SELECT user_id, cut_off FROM prefix_revocations WHERE bucket = $1 ORDER BY cut_off, user_id",
                &[&bucket.as_str()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PrefixRevocation {
                    user_id: UserId::parse(r.try_get(0)?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    cut_off: parse_time(r.try_get(1)?)?,
                })
            })
            .collect()
    }
}
