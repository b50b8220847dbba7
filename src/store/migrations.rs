//! Embedded, versioned schema migrations (tracked in `SQLite`'s `user_version`).
//! Append new migrations; never edit one that has shipped.

use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[M::up(
    r"
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bucket      TEXT NOT NULL UNIQUE,
    -- index of the deterministic bucket-name candidate in use (see identity.rs)
    candidate   INTEGER NOT NULL DEFAULT 0,
    region      TEXT NOT NULL,
    -- pending: bucket creation/configuration not finished; resumed on the next request
    state       TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (issuer, subject)
) STRICT;

-- One row per credential hand-out (fresh or cached), so an AccessKeyId seen in CloudTrail
-- leads back to its user.
CREATE TABLE vend_audit (
    id             INTEGER PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (user_id),
    access_key_id  TEXT NOT NULL,
    template       TEXT NOT NULL,
    expiration     TEXT NOT NULL,
    vended_at      TEXT NOT NULL,
    client_addr    TEXT,
    client_id      TEXT,
    from_cache     INTEGER NOT NULL
) STRICT;
CREATE INDEX vend_audit_by_key ON vend_audit (access_key_id);
CREATE INDEX vend_audit_by_user ON vend_audit (user_id, vended_at);
",
)];

pub fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
