//! Versioned schema migrations for `PostgreSQL`, recorded in `schema_migrations`.
//! Append new migrations; never edit one that has shipped.
//!
//! All pending migrations run in one transaction that first takes an advisory lock, so
//! replicas starting together apply each migration once: the others wait, then find it
//! recorded. DDL is transactional in `PostgreSQL`, so a failed migration leaves nothing behind.
//!
//! The schema is `SQLite`'s latest (`store/sqlite/migrations.rs`) with `PostgreSQL` types:
//! times stay RFC 3339 text (the records parse them the same way) in the "C" collation, so
//! comparisons and `MAX` order them as `SQLite` does, byte by byte.

use deadpool_postgres::Pool;

use crate::store::StoreError;

/// Advisory lock key held while migrating ("stsvend" + 1).
const LOCK: i64 = 0x7374_7376_656e_6401;

/// (version, what it does, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "users, audit logs, shared credentials and their leases, change feed",
        r#"
CREATE TABLE users (
    user_id        TEXT COLLATE "C" PRIMARY KEY,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    bucket         TEXT COLLATE "C" NOT NULL UNIQUE,
    candidate      BIGINT NOT NULL DEFAULT 0,
    region         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    created_at     TEXT COLLATE "C" NOT NULL,
    updated_at     TEXT COLLATE "C" NOT NULL,
    disabled_at    TEXT COLLATE "C",
    revoked_before TEXT COLLATE "C",
    UNIQUE (issuer, subject)
);

CREATE TABLE vend_audit (
    id             BIGSERIAL PRIMARY KEY,
    user_id        TEXT COLLATE "C" NOT NULL,
    access_key_id  TEXT NOT NULL,
    template       TEXT NOT NULL,
    expiration     TEXT COLLATE "C" NOT NULL,
    vended_at      TEXT COLLATE "C" NOT NULL,
    client_addr    TEXT,
    client_id      TEXT,
    from_cache     BOOLEAN NOT NULL,
    hand_outs      BIGINT NOT NULL DEFAULT 1,
    last_at        TEXT COLLATE "C"
);
CREATE INDEX vend_audit_by_key ON vend_audit (access_key_id);
CREATE INDEX vend_audit_by_user ON vend_audit (user_id, vended_at);

CREATE TABLE deleted_users (
    id          BIGSERIAL PRIMARY KEY,
    user_id     TEXT COLLATE "C" NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    deleted_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX deleted_users_by_user ON deleted_users (user_id);

CREATE TABLE admin_audit (
    id           BIGSERIAL PRIMARY KEY,
    at           TEXT COLLATE "C" NOT NULL,
    actor        TEXT NOT NULL,
    actor_client TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    client_addr  TEXT
);
CREATE INDEX admin_audit_by_target ON admin_audit (target, id);

-- Sealed credentials shared by the fleet (vend/keys.rs, vend/seal.rs).
CREATE TABLE credential_spill (
    user_id     TEXT NOT NULL,
    template    SMALLINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    sealed      BYTEA NOT NULL,
    PRIMARY KEY (user_id, template)
);
CREATE INDEX credential_spill_by_expiry ON credential_spill (expires_at);

-- Who is asking STS for a (user, template) right now, so the other processes wait for its keys.
CREATE TABLE credential_leases (
    user_id   TEXT NOT NULL,
    template  SMALLINT NOT NULL,
    until     BIGINT NOT NULL,
    PRIMARY KEY (user_id, template)
);

-- The change feed; writers serialize on an advisory lock so seq order is commit order.
CREATE TABLE user_changes (
    seq      BIGSERIAL PRIMARY KEY,
    user_id  TEXT NOT NULL,
    at       BIGINT NOT NULL
);
"#,
    ),
    (
        2,
        "prefix mode: storage mode and prefix per user, revocation cut-offs of shared buckets",
        r#"
ALTER TABLE users ADD COLUMN mode TEXT NOT NULL DEFAULT 'bucket' CHECK (mode IN ('bucket', 'prefix'));
ALTER TABLE users ADD COLUMN prefix TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE users DROP CONSTRAINT users_bucket_key;
ALTER TABLE users ADD CONSTRAINT users_bucket_prefix_key UNIQUE (bucket, prefix);
ALTER TABLE deleted_users ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

CREATE TABLE prefix_revocations (
    bucket   TEXT COLLATE "C" NOT NULL,
    user_id  TEXT COLLATE "C" NOT NULL,
    cut_off  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (bucket, user_id)
);
"#,
    ),
    (
        3,
        "presign audit: one row per pre-signed URL or form, never its signature",
        r#"
CREATE TABLE presign_audit (
    id             BIGSERIAL PRIMARY KEY,
    user_id        TEXT COLLATE "C" NOT NULL,
    access_key_id  TEXT NOT NULL,
    template       TEXT NOT NULL,
    method         TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    key_is_prefix  BOOLEAN NOT NULL,
    expires_at     TEXT COLLATE "C" NOT NULL,
    signed_at      TEXT COLLATE "C" NOT NULL,
    client_addr    TEXT,
    client_id      TEXT
);
CREATE INDEX presign_audit_by_user ON presign_audit (user_id, id);
CREATE INDEX presign_audit_by_key ON presign_audit (access_key_id);
"#,
    ),
    (
        4,
        "users by creation time: first logins are counted over the last day (limits.new_users_per_day)",
        "CREATE INDEX users_by_created_at ON users (created_at);",
    ),
    (
        5,
        "shared keys and their leases keyed by the template's identity (name and body digest), not its position",
        // Caches: the rows keyed by position are dropped, not converted. A replica still
        // running the previous build fails to use the new tables and asks STS itself.
        r"
DROP TABLE credential_spill;
DROP TABLE credential_leases;
CREATE TABLE credential_spill (
    user_id     TEXT NOT NULL,
    template    TEXT NOT NULL,
    digest      BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,
    sealed      BYTEA NOT NULL,
    PRIMARY KEY (user_id, template, digest)
);
CREATE INDEX credential_spill_by_expiry ON credential_spill (expires_at);
CREATE TABLE credential_leases (
    user_id   TEXT NOT NULL,
    template  TEXT NOT NULL,
    digest    BYTEA NOT NULL,
    until     BIGINT NOT NULL,
    PRIMARY KEY (user_id, template, digest)
);
",
    ),
    (
        6,
        "shared bucket policies: the fenced lease on writing one, and the size last written",
        r#"
CREATE TABLE shared_policies (
    bucket        TEXT COLLATE "C" PRIMARY KEY,
    lease_token   BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL,
    policy_bytes  BIGINT NOT NULL DEFAULT 0
);
"#,
    ),
    (
        7,
        "organisations: (issuer, org claim) -> internal org id and storage; the org id on vend-audit rows",
        r#"
CREATE TABLE orgs (
    org_id      TEXT COLLATE "C" PRIMARY KEY,
    issuer      TEXT NOT NULL,
    claim       TEXT NOT NULL,
    bucket      TEXT COLLATE "C" NOT NULL,
    candidate   BIGINT NOT NULL DEFAULT 0,
    region      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    mode        TEXT NOT NULL CHECK (mode IN ('bucket', 'prefix')),
    prefix      TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (issuer, claim),
    UNIQUE (bucket, prefix)
);
ALTER TABLE vend_audit ADD COLUMN org_id TEXT COLLATE "C";
"#,
    ),
    (
        8,
        "the usage ledger: objects with their last sequencer, owners' totals, staged listings",
        r#"
CREATE TABLE ledger_objects (
    bucket      TEXT COLLATE "C" NOT NULL,
    object_key  TEXT COLLATE "C" NOT NULL,
    prefix      TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    removed     BOOLEAN NOT NULL,
    sequencer   TEXT COLLATE "C" NOT NULL,
    event_ms    BIGINT NOT NULL,
    PRIMARY KEY (bucket, object_key)
);
CREATE INDEX ledger_objects_by_storage ON ledger_objects (bucket, prefix);

CREATE TABLE ledger_owners (
    bucket            TEXT COLLATE "C" NOT NULL,
    prefix            TEXT COLLATE "C" NOT NULL,
    owner_kind        TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id          TEXT COLLATE "C" NOT NULL,
    bytes             BIGINT NOT NULL,
    objects           BIGINT NOT NULL,
    as_of_ms          BIGINT NOT NULL,
    listed_before_ms  BIGINT NOT NULL,
    PRIMARY KEY (bucket, prefix)
);
CREATE INDEX ledger_owners_by_owner ON ledger_owners (owner_kind, owner_id);

CREATE TABLE ledger_listings (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket      TEXT COLLATE "C" NOT NULL,
    prefix      TEXT COLLATE "C" NOT NULL,
    owner_kind  TEXT NOT NULL,
    owner_id    TEXT COLLATE "C" NOT NULL,
    started_ms  BIGINT NOT NULL
);
CREATE TABLE ledger_listed (
    listing     BIGINT NOT NULL,
    object_key  TEXT COLLATE "C" NOT NULL,
    size        BIGINT NOT NULL,
    PRIMARY KEY (listing, object_key)
);
"#,
    ),
    (
        9,
        "operating organisations: disabled and revoked orgs, one member's revocation, deleted orgs, orgs in the change feed",
        // As SQLite's migration 14: an org change's `user_id` holds the org id's random part.
        r#"
ALTER TABLE orgs ADD COLUMN disabled_at TEXT COLLATE "C";
ALTER TABLE orgs ADD COLUMN revoked_before TEXT COLLATE "C";
ALTER TABLE user_changes ADD COLUMN org_id TEXT;
CREATE TABLE org_member_revocations (
    org_id   TEXT COLLATE "C" NOT NULL,
    user_id  TEXT COLLATE "C" NOT NULL,
    cut_off  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE TABLE deleted_orgs (
    id          BIGSERIAL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL,
    issuer      TEXT NOT NULL,
    claim       TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    deleted_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX vend_audit_by_org ON vend_audit (org_id, user_id) WHERE org_id IS NOT NULL;
"#,
    ),
    (
        10,
        "quotas: per-owner overrides, owners warned or over, quota changes in the change feed",
        // As SQLite's migration 15.
        r#"
CREATE TABLE quota_overrides (
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id    TEXT COLLATE "C" NOT NULL,
    bytes       BIGINT CHECK (bytes >= 0),
    objects     BIGINT CHECK (objects >= 0),
    updated_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
CREATE TABLE quota_states (
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id    TEXT COLLATE "C" NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('warned', 'over')),
    bucket      TEXT COLLATE "C" NOT NULL,
    prefix      TEXT COLLATE "C" NOT NULL,
    bytes       BIGINT NOT NULL,
    objects     BIGINT NOT NULL,
    as_of_ms    BIGINT NOT NULL,
    since_ms    BIGINT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
CREATE INDEX quota_states_over_by_bucket ON quota_states (bucket) WHERE level = 'over';
ALTER TABLE user_changes ADD COLUMN quota BOOLEAN NOT NULL DEFAULT false;
"#,
    ),
    (
        11,
        "reconciliation's schedule: each owner's due time and the claim of the replica listing it; owners by bytes",
        r#"
CREATE TABLE ledger_reconcile (
    owner_kind        TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id          TEXT COLLATE "C" NOT NULL,
    due_ms            BIGINT NOT NULL,
    running_until_ms  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_kind, owner_id)
);
CREATE INDEX ledger_reconcile_by_due ON ledger_reconcile (due_ms);
CREATE INDEX ledger_owners_by_bytes ON ledger_owners (owner_kind, bytes DESC, owner_id);
"#,
    ),
];

/// Applies every migration the database has not recorded yet.
pub async fn run(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await?;
    // "already exists, skipping" on every start is noise in the log.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let applied: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for &(version, name, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        tracing::info!(version, name, "applying PostgreSQL migration");
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await?;
    }
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(newer) = applied.iter().copied().filter(|v| *v > known).max() {
        tracing::warn!(
            database = newer,
            known,
            "the database schema is newer than this build knows; running anyway"
        );
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_increase_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i64::try_from(i).unwrap() + 1);
        }
    }
}
