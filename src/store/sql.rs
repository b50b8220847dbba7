//! SQL text that both backends run as it is (the dialects agree on it); only the parameter
//! placeholder differs (`?1` for `SQLite`, `$1` for `PostgreSQL`).

/// The latest hand-out (first ones and repeats alike) of the user whose id is the SQL
/// expression `user`, as a scalar subquery: the single-user view and the user list both read
/// this one figure.
pub(super) fn last_vend_of(user: &str) -> String {
    format!("(SELECT MAX(COALESCE(v.last_at, v.vended_at)) FROM vend_audit v WHERE v.user_id = {user})")
}

/// Every party the access key id `key` (a placeholder) went to, newest first, with whose key
/// it was, also after the user was deleted. Columns in `KeyOwner`'s field order.
pub(super) fn key_owner(key: &str) -> String {
    format!(
        "SELECT v.user_id, COALESCE(u.issuer, d.issuer), COALESCE(u.subject, d.subject),
                COALESCE(u.bucket, d.bucket), u.user_id IS NULL AND d.user_id IS NOT NULL,
                v.template, v.vended_at, COALESCE(v.last_at, v.vended_at), v.hand_outs,
                v.expiration, v.client_addr, v.client_id, v.from_cache,
                NULLIF(COALESCE(u.prefix, d.prefix), '')
         FROM vend_audit v
         LEFT JOIN users u ON u.user_id = v.user_id
         LEFT JOIN (SELECT user_id, issuer, subject, bucket, prefix FROM deleted_users
                    WHERE id IN (SELECT MAX(id) FROM deleted_users GROUP BY user_id)) d
                ON d.user_id = v.user_id
         WHERE v.access_key_id = {key} ORDER BY v.id DESC LIMIT 100"
    )
}
