//! The presign audit: one row per pre-signed URL or form handed out.

use rusqlite::params;

use super::SqliteStore;
use crate::identity::UserId;
use crate::runtime::clock::{format_time, now};
use crate::store::{PresignRecord, PresignRow, StoreError};

impl SqliteStore {
    /// Writes the row; returns once it is committed.
    pub async fn record_presign(&self, p: PresignRecord) -> Result<(), StoreError> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO presign_audit (user_id, access_key_id, template, method, object_key, key_is_prefix,
                                            expires_at, signed_at, client_addr, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                p.user_id.as_str(),
                p.access_key_id,
                p.template,
                p.method,
                p.object_key,
                p.key_is_prefix,
                format_time(p.expires_at),
                format_time(now()),
                p.client_addr,
                p.client_id,
            ])?;
            Ok(())
        })
        .await
    }

    /// The user's presign rows, newest first, at most `limit`.
    pub async fn presigns_of(&self, user_id: &UserId, limit: u32) -> Result<Vec<PresignRow>, StoreError> {
        let id = user_id.as_str().to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT access_key_id, template, method, object_key, key_is_prefix, expires_at, signed_at,
                        client_addr, client_id
                 FROM presign_audit WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![id, limit], |r| {
                Ok(PresignRow {
                    access_key_id: r.get(0)?,
                    template: r.get(1)?,
                    method: r.get(2)?,
                    object_key: r.get(3)?,
                    key_is_prefix: r.get(4)?,
                    expires_at: r.get(5)?,
                    signed_at: r.get(6)?,
                    client_addr: r.get(7)?,
                    client_id: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
