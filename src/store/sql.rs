//! SQL text that both backends run as it is (the dialects agree on it); only the parameter
//! placeholder differs (`?1` for `SQLite`, `$1` for `PostgreSQL`).

/// The latest hand-out (first ones and repeats alike) of the user whose id is the SQL
/// expression `user`, as a scalar subquery: the single-user view and the user list both read
/// this one figure.
pub(super) fn last_vend_of(user: &str) -> String {
    format!("(SELECT MAX(COALESCE(v.last_at, v.vended_at)) FROM vend_audit v WHERE v.user_id = {user})")
}

/// The latest first hand-out of keys, and the latest pre-signed URL, to the user whose id is
/// the SQL expression `user`, as two columns (RFC 3339 or NULL).
pub(super) fn last_hand_outs_of(user: &str) -> String {
    format!(
        "(SELECT MAX(v.vended_at) FROM vend_audit v WHERE v.user_id = {user}),
         (SELECT p.signed_at FROM presign_audit p WHERE p.user_id = {user} ORDER BY p.id DESC LIMIT 1)"
    )
}

/// What the audit says about the user `user` (a placeholder): the two columns of
/// [`last_hand_outs_of`], then the latest expiry of keys handed to them and of a URL signed for
/// them.
pub(super) fn user_activity(user: &str) -> String {
    format!(
        "SELECT {},
                (SELECT MAX(v.expiration) FROM vend_audit v WHERE v.user_id = {user}),
                (SELECT MAX(p.expires_at) FROM presign_audit p WHERE p.user_id = {user})",
        last_hand_outs_of(user)
    )
}

/// A shared bucket's recorded cut-offs (bucket: the placeholder `bucket`), oldest first, each
/// with its user's two hand-out columns ([`last_hand_outs_of`]).
pub(super) fn prefix_revocations(bucket: &str) -> String {
    format!(
        "SELECT r.user_id, r.cut_off, {} FROM prefix_revocations r
         WHERE r.bucket = {bucket} ORDER BY r.cut_off, r.user_id",
        last_hand_outs_of("r.user_id")
    )
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
