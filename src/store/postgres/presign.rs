//! The presign audit: one row per pre-signed URL or form handed out.

use super::PgStore;
use crate::identity::UserId;
use crate::runtime::clock::{format_time, now};
use crate::store::{PresignRecord, PresignRow, StoreError};

impl PgStore {
    /// Writes the row in a transaction of its own; returns once it is committed.
    pub async fn record_presign(&self, p: PresignRecord) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO presign_audit (user_id, access_key_id, template, method, object_key, key_is_prefix,
                                            expires_at, signed_at, client_addr, client_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?;
        c.execute(
            &stmt,
            &[
                &p.user_id.as_str(),
                &p.access_key_id,
                &p.template,
                &p.method,
                &p.object_key,
                &p.key_is_prefix,
                &format_time(p.expires_at),
                &format_time(now()),
                &p.client_addr,
                &p.client_id,
            ],
        )
        .await?;
        Ok(())
    }

    /// The user's presign rows, newest first, at most `limit`.
    pub async fn presigns_of(&self, user_id: &UserId, limit: u32) -> Result<Vec<PresignRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT access_key_id, template, method, object_key, key_is_prefix, expires_at, signed_at,
                        client_addr, client_id
                 FROM presign_audit WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
                &[&user_id.as_str(), &i64::from(limit)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PresignRow {
                    access_key_id: r.try_get(0)?,
                    template: r.try_get(1)?,
                    method: r.try_get(2)?,
                    object_key: r.try_get(3)?,
                    key_is_prefix: r.try_get(4)?,
                    expires_at: r.try_get(5)?,
                    signed_at: r.try_get(6)?,
                    client_addr: r.try_get(7)?,
                    client_id: r.try_get(8)?,
                })
            })
            .collect()
    }
}
