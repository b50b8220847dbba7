//! Embedded, versioned schema migrations (tracked in `SQLite`'s `user_version`).
//! Append new migrations; never edit one that has shipped.

use rusqlite_migration::{M, Migrations};

const MIGRATIONS: &[M<'static>] = &[
    M::up(
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
    ),
    // 2: the admin API. Users can be disabled and have their sessions revoked; a deleted
    // user's row moves to `deleted_users`, and the vend audit outlives it (so its foreign key
    // goes: "whose key was this?" must still be answerable after the user is gone).
    M::up(
        r"
ALTER TABLE users ADD COLUMN disabled_at TEXT;
-- sessions issued before this instant are denied by the bucket policy
ALTER TABLE users ADD COLUMN revoked_before TEXT;

CREATE TABLE vend_audit_v2 (
    id             INTEGER PRIMARY KEY,
    user_id        TEXT NOT NULL,
    access_key_id  TEXT NOT NULL,
    template       TEXT NOT NULL,
    expiration     TEXT NOT NULL,
    vended_at      TEXT NOT NULL,
    client_addr    TEXT,
    client_id      TEXT,
    from_cache     INTEGER NOT NULL
) STRICT;
INSERT INTO vend_audit_v2 SELECT * FROM vend_audit;
DROP TABLE vend_audit;
ALTER TABLE vend_audit_v2 RENAME TO vend_audit;
CREATE INDEX vend_audit_by_key ON vend_audit (access_key_id);
CREATE INDEX vend_audit_by_user ON vend_audit (user_id, vended_at);

CREATE TABLE deleted_users (
    id          INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT NOT NULL
) STRICT;
CREATE INDEX deleted_users_by_user ON deleted_users (user_id);

-- Every admin action, allowed or refused.
CREATE TABLE admin_audit (
    id           INTEGER PRIMARY KEY,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    actor_client TEXT,
    action       TEXT NOT NULL,
    target       TEXT,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    client_addr  TEXT
) STRICT;
CREATE INDEX admin_audit_by_target ON admin_audit (target, id);
",
    ),
    // 3: one vend-audit row per (access key, client address, OAuth client). A repeat hand-out
    // to the same party adds to `hand_outs` and moves `last_at` (see store/repeats.rs);
    // `vended_at` stays the first hand-out.
    M::up(
        r"
ALTER TABLE vend_audit ADD COLUMN hand_outs INTEGER NOT NULL DEFAULT 1;
ALTER TABLE vend_audit ADD COLUMN last_at TEXT;
",
    ),
    // 4: credentials evicted from the in-memory cache, sealed with a key only the running
    // process holds (store/sqlite/spill.rs, vend/seal.rs); cleared at start-up.
    M::up(
        r"
CREATE TABLE credential_spill (
    user_id     TEXT NOT NULL,
    template    INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (user_id, template)
) STRICT, WITHOUT ROWID;
",
    ),
    // 5: the change feed. Every change to a user's state appends the user's id here in the
    // same transaction; every process polls it and drops what it cached about those users
    // (vend/coherence.rs). Rows older than the feed's retention are pruned.
    M::up(
        r"
CREATE TABLE user_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id  TEXT NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
",
    ),
    // 6: who is asking STS for a (user, template) right now, so that the other processes wait
    // for its keys (in credential_spill, now shared) instead of asking too (vend/keys.rs).
    M::up(
        r"
CREATE TABLE credential_leases (
    user_id   TEXT NOT NULL,
    template  INTEGER NOT NULL,
    until     INTEGER NOT NULL,
    PRIMARY KEY (user_id, template)
) STRICT, WITHOUT ROWID;
",
    ),
    // 7: prefix mode. Each user records their storage mode and prefix (empty in bucket mode),
    // so the bucket is unique per (bucket, prefix) only: prefix-mode users share one. SQLite
    // cannot drop a UNIQUE constraint, so the table is rebuilt. `prefix_revocations` holds
    // the revocation cut-offs the shared bucket's policy is rendered from (buckets/shared.rs).
    M::up(
        r"
CREATE TABLE users_v7 (
    user_id        TEXT PRIMARY KEY,
    issuer         TEXT NOT NULL,
    subject        TEXT NOT NULL,
    bucket         TEXT NOT NULL,
    candidate      INTEGER NOT NULL DEFAULT 0,
    region         TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    disabled_at    TEXT,
    revoked_before TEXT,
    mode           TEXT NOT NULL DEFAULT 'bucket' CHECK (mode IN ('bucket', 'prefix')),
    prefix         TEXT NOT NULL DEFAULT '',
    UNIQUE (issuer, subject),
    UNIQUE (bucket, prefix)
) STRICT;
INSERT INTO users_v7 (user_id, issuer, subject, bucket, candidate, region, state, created_at,
                      updated_at, disabled_at, revoked_before)
    SELECT user_id, issuer, subject, bucket, candidate, region, state, created_at, updated_at,
           disabled_at, revoked_before FROM users;
DROP TABLE users;
ALTER TABLE users_v7 RENAME TO users;
ALTER TABLE deleted_users ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

CREATE TABLE prefix_revocations (
    bucket   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    -- RFC 3339 UTC: sessions of the user issued before it are denied on the bucket
    cut_off  TEXT NOT NULL,
    PRIMARY KEY (bucket, user_id)
) STRICT, WITHOUT ROWID;
",
    ),
    // 8: one row per pre-signed URL or form handed out (src/usecase/presign): the key and method it
    // is for and the access key that signed it (which CloudTrail shows), never the URL's
    // query or signature.
    M::up(
        r"
CREATE TABLE presign_audit (
    id             INTEGER PRIMARY KEY,
    user_id        TEXT NOT NULL,
    access_key_id  TEXT NOT NULL,
    template       TEXT NOT NULL,
    method         TEXT NOT NULL,
    object_key     TEXT NOT NULL,
    key_is_prefix  INTEGER NOT NULL,
    expires_at     TEXT NOT NULL,
    signed_at      TEXT NOT NULL,
    client_addr    TEXT,
    client_id      TEXT
) STRICT;
CREATE INDEX presign_audit_by_user ON presign_audit (user_id, id);
CREATE INDEX presign_audit_by_key ON presign_audit (access_key_id);
",
    ),
    // 9: first logins are counted over the last day (`limits.new_users_per_day`) from this
    // index, not a scan of every user.
    M::up("CREATE INDEX users_by_created_at ON users (created_at);"),
    // 10: shared keys and their leases are keyed by the template's identity (its name and a
    // SHA-256 of its parsed body), not by its position in the folder, which moves whenever a
    // template sorting before it is added (vend/keys.rs). Both tables are caches: the rows
    // keyed by position are dropped, not converted (their keys are asked for again).
    M::up(
        r"
DROP TABLE credential_spill;
DROP TABLE credential_leases;
CREATE TABLE credential_spill (
    user_id     TEXT NOT NULL,
    template    TEXT NOT NULL,
    digest      BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (user_id, template, digest)
) STRICT, WITHOUT ROWID;
CREATE TABLE credential_leases (
    user_id   TEXT NOT NULL,
    template  TEXT NOT NULL,
    digest    BLOB NOT NULL,
    until     INTEGER NOT NULL,
    PRIMARY KEY (user_id, template, digest)
) STRICT, WITHOUT ROWID;
",
    ),
    // 11: one row per shared bucket of prefix mode: the lease that serialises writes of its
    // policy across the fleet, with a fencing token every claim bumps (a writer whose token
    // moved on writes again: admin/shared.rs), and the size of the policy last written (the
    // `shared_bucket_policy_bytes` metric).
    M::up(
        r"
CREATE TABLE shared_policies (
    bucket        TEXT PRIMARY KEY,
    lease_token   INTEGER NOT NULL,
    -- unix seconds; the lease is free from then on
    lease_until   INTEGER NOT NULL,
    policy_bytes  INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
",
    ),
    // 12: organisations. One row per (issuer, org claim value): the internal id drawn at the
    // org's first vend, and its storage (a bucket of its own, or a prefix of the shared one),
    // written pending before the bucket exists like a user's. Vend-audit rows of org
    // templates record the org id.
    M::up(
        r"
CREATE TABLE orgs (
    org_id      TEXT PRIMARY KEY,
    issuer      TEXT NOT NULL,
    claim       TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    candidate   INTEGER NOT NULL DEFAULT 0,
    region      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'ready')),
    mode        TEXT NOT NULL CHECK (mode IN ('bucket', 'prefix')),
    prefix      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (issuer, claim),
    UNIQUE (bucket, prefix)
) STRICT;
ALTER TABLE vend_audit ADD COLUMN org_id TEXT;
",
    ),
    // 13: the usage ledger (issue 25, quotas; `store/ledger.rs`). Per object: its size and the
    // S3 sequencer of the last event applied, kept as a tombstone once removed (an older create
    // arriving late must not bring the key back). Per owner's storage (a bucket, or a prefix of the shared one):
    // totals kept in the same transaction as the objects. A reconciliation's listing is
    // staged page by page in `ledger_listed`, then applied at once.
    M::up(
        r"
CREATE TABLE ledger_objects (
    bucket      TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    -- the owner's storage: '' for a bucket of its own, else '<root>/<id>/'
    prefix      TEXT NOT NULL,
    -- 0 once removed
    size        INTEGER NOT NULL,
    removed     INTEGER NOT NULL,
    -- zero-padded hex (identity::Sequencer); '' for a row a listing made
    sequencer   TEXT NOT NULL,
    -- eventTime (unix ms) of the last event applied; 0 for a row a listing made
    event_ms    INTEGER NOT NULL,
    PRIMARY KEY (bucket, object_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX ledger_objects_by_storage ON ledger_objects (bucket, prefix);

CREATE TABLE ledger_owners (
    bucket            TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    owner_kind        TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id          TEXT NOT NULL,
    bytes             INTEGER NOT NULL,
    objects           INTEGER NOT NULL,
    -- unix ms: the newest event or listing start counted
    as_of_ms          INTEGER NOT NULL,
    -- unix ms: events before this are already in the last listing applied (stale)
    listed_before_ms  INTEGER NOT NULL,
    PRIMARY KEY (bucket, prefix)
) STRICT, WITHOUT ROWID;
CREATE INDEX ledger_owners_by_owner ON ledger_owners (owner_kind, owner_id);

CREATE TABLE ledger_listings (
    id          INTEGER PRIMARY KEY,
    bucket      TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    owner_kind  TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    started_ms  INTEGER NOT NULL
) STRICT;
CREATE TABLE ledger_listed (
    listing     INTEGER NOT NULL,
    object_key  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (listing, object_key)
) STRICT, WITHOUT ROWID;
",
    ),
    // 14: operating organisations. An org can be disabled and have its sessions revoked (all
    // members', or one member's: `org_member_revocations`); a deleted org's row moves to
    // `deleted_orgs`. The change feed names orgs too (`org_id`; such a row's `user_id` holds
    // the org id's random part, which names no user: a process of the previous build, which
    // reads every row as a user's, drops nothing for it instead of stopping there). Members
    // seen are read from the vend audit by org.
    M::up(
        r"
ALTER TABLE orgs ADD COLUMN disabled_at TEXT;
ALTER TABLE orgs ADD COLUMN revoked_before TEXT;
ALTER TABLE user_changes ADD COLUMN org_id TEXT;
CREATE TABLE org_member_revocations (
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    -- RFC 3339 UTC: the member's sessions issued before it are denied on the org's storage
    cut_off  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE deleted_orgs (
    id          INTEGER PRIMARY KEY,
    org_id      TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    claim       TEXT NOT NULL,
    bucket      TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT NOT NULL
) STRICT;
CREATE INDEX vend_audit_by_org ON vend_audit (org_id, user_id) WHERE org_id IS NOT NULL;
",
    ),
    // 15: quotas (issue 25; `store/quota.rs`): each owner's override of the `[quota]` limits
    // (a NULL limit is unlimited; no row: the defaults), and each owner warned (90% of a limit)
    // or over one, with the storage and usage that put them there. Both go on the change feed
    // as rows with `quota` set (`user_id`, `org_id` as for the owner's own changes: a process
    // of the previous build drops that owner's cached state for it, which is harmless).
    M::up(
        r"
CREATE TABLE quota_overrides (
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id    TEXT NOT NULL,
    bytes       INTEGER CHECK (bytes >= 0),
    objects     INTEGER CHECK (objects >= 0),
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE quota_states (
    owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id    TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('warned', 'over')),
    bucket      TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    objects     INTEGER NOT NULL,
    -- unix ms: the ledger's as_of for bytes and objects
    as_of_ms    INTEGER NOT NULL,
    -- unix ms: when the owner reached this level
    since_ms    INTEGER NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX quota_states_over_by_bucket ON quota_states (bucket) WHERE level = 'over';
ALTER TABLE user_changes ADD COLUMN quota INTEGER NOT NULL DEFAULT 0;
",
    ),
    // 16: reconciliation's schedule (`store/ledger_schedule.rs`).
    // One row per owner: when its storage's next full listing is due, and until when a replica
    // holds the claim to list it (so a fleet lists each owner once per period, and two on-demand
    // runs for one owner never overlap). The totals' index serves the admin's largest owners.
    M::up(
        r"
CREATE TABLE ledger_reconcile (
    owner_kind        TEXT NOT NULL CHECK (owner_kind IN ('user', 'org')),
    owner_id          TEXT NOT NULL,
    -- unix ms
    due_ms            INTEGER NOT NULL,
    -- unix ms: a replica holds the claim until then; 0: nobody does
    running_until_ms  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_kind, owner_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ledger_reconcile_by_due ON ledger_reconcile (due_ms);
CREATE INDEX ledger_owners_by_bytes ON ledger_owners (owner_kind, bytes DESC, owner_id);
",
    ),
];

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
