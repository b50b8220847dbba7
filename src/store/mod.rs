//! The store: user and organisation mappings, the audit logs, the change feed and the
//! credential spill, behind one interface that names what the service needs ("record this
//! hand-out"), not SQL. [`Store`] is an enum over the backends, so callers never see which
//! one runs; `sqlite` is the embedded default, `postgres` the one a fleet of replicas shares
//! (selected by `database.url`).
//!
//! `records` holds the types every backend reads and writes; this file the [`Store`] enum and
//! its dispatch to the backend; `orgs`, `prefix`, `presign` the same for those features;
//! `ledger`, `ledger_batch` and `owners` the usage ledger (quotas).

mod error;
mod health;
mod postgres;
mod prefix;
mod presign;
mod records;
mod repeats;
mod sql;
mod sqlite;
#[cfg(test)]
mod test_db;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::DatabaseConfig;
use crate::identity::{BucketName, TemplateId, UserId};

pub use error::StoreError;
pub use health::{DatabaseHealth, WATCH_EVERY as DATABASE_WATCH_EVERY};
pub use postgres::PgStore;
pub use prefix::{PolicyLease, PrefixRevocation, UserActivity};
use prefix::{parse_prefix, storage_columns};
pub use presign::{PresignRecord, PresignRow};
pub use records::{
    AdminAction, Admission, Change, Changed, KeyOwner, NewUser, NewUserLimit, ProvisionState, Spilled, UserQuery,
    UserRecord, VendRecord,
};
pub use sqlite::SqliteStore;

/// The service's database, whichever backend holds it.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever backend `self` is.
macro_rules! on_backend {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

// After the macro, which it uses.
mod ledger;
mod ledger_batch;
mod ledger_schedule;
mod org_admin;
mod orgs;
mod owners;
mod quota;
pub use ledger::{
    Applied, BucketUse, LISTING_SKEW, LedgerObject, ListingId, Reconciled, TOMBSTONE_DAYS, Totals, Usage,
};
pub use ledger_batch::BatchReport;
pub use ledger_schedule::{OwnerKind, UsageCursor};
pub use org_admin::{OrgMembers, OrgQuery};
pub use orgs::{NewOrg, OrgRecord};
pub use owners::OwnerResolver;
pub use quota::{Evaluated, QuotaLevel, QuotaLimits, QuotaState, WARN_PERCENT};

impl Store {
    /// Opens (creating if needed) the embedded `SQLite` database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(path).map(Self::Sqlite)
    }

    /// The configured database: the `PostgreSQL` server at `database.url` when it names one
    /// (schema brought up to date, background tasks started), else the embedded `SQLite` at
    /// `database.path`.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        if let Some(url) = config.postgres_url() {
            tracing::info!(url = config.redacted_url().as_deref(), "connecting to PostgreSQL");
            return PgStore::connect(url, config.ca_file.as_deref())
                .await
                .map(Self::Postgres);
        }
        let path = config.path.clone();
        tokio::task::spawn_blocking(move || Self::open(&path))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// True when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_backend!(self, s => s.ping().await)
    }

    // Users.

    pub async fn user(&self, user_id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        on_backend!(self, s => s.user(user_id).await)
    }

    /// Inserts a new user's row unless they already have one (pending in bucket mode, ready in
    /// prefix mode: see `NewUser::prefix`); returns the row either way.
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<UserRecord, StoreError> {
        on_backend!(self, s => s.insert_user(new).await)
    }

    /// Like [`Store::insert_user`], unless the user has no row yet and `limit.limit` users
    /// were created within `limit.window`: then nothing is written. The count and the insert
    /// are one serialized step across every process on the database, so a fleet cannot
    /// overshoot the limit between them.
    pub async fn admit_user(&self, new: &NewUser<'_>, limit: NewUserLimit) -> Result<Admission, StoreError> {
        on_backend!(self, s => s.admit_user(new, limit).await)
    }

    /// Moves a pending user to another bucket-name candidate.
    pub async fn set_bucket(&self, user_id: &UserId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        on_backend!(self, s => s.set_bucket(user_id, bucket, candidate).await)
    }

    /// Marks a first login finished. This is no change in the feed: processes cache only ready
    /// (or disabled) rows, and a user deleted before being provisioned again was dropped from
    /// every cache by the deletion; a change here would only make every replica forget the
    /// keys and audit marks it just cached for this user.
    pub async fn mark_ready(&self, user_id: &UserId) -> Result<(), StoreError> {
        on_backend!(self, s => s.mark_ready(user_id).await)
    }

    /// Number of user rows, by state: (ready, pending).
    pub async fn count_users(&self) -> Result<(i64, i64), StoreError> {
        on_backend!(self, s => s.count_users().await)
    }

    /// Buckets the users' rows name: one per user in bucket mode, one per shared bucket in
    /// prefix mode (what counts against the account's bucket quota, as far as stsvend knows).
    pub async fn count_buckets(&self) -> Result<i64, StoreError> {
        on_backend!(self, s => s.count_buckets().await)
    }

    /// Number of users whose storage is a prefix of a shared bucket (prefix mode), whatever
    /// the configured mode now is.
    pub async fn count_prefix_users(&self) -> Result<i64, StoreError> {
        on_backend!(self, s => s.count_prefix_users().await)
    }

    /// Users matching `q`, each with their last hand-out time (the same figure as
    /// [`Store::last_vend`]).
    pub async fn list_users(&self, q: UserQuery) -> Result<Vec<(UserRecord, Option<String>)>, StoreError> {
        on_backend!(self, s => s.list_users(q).await)
    }

    /// Sets or clears `disabled_at`; false when there is no such user.
    pub async fn set_disabled(&self, user_id: &UserId, disabled: bool) -> Result<bool, StoreError> {
        on_backend!(self, s => s.set_disabled(user_id, disabled).await)
    }

    /// Moves the user's revocation cut-off to `before`, unless a later one is already set.
    pub async fn set_revoked_before(&self, user_id: &UserId, before: OffsetDateTime) -> Result<(), StoreError> {
        on_backend!(self, s => s.set_revoked_before(user_id, before).await)
    }

    /// Moves the user's row to the deleted users (the audit log keeps its rows).
    pub async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
        on_backend!(self, s => s.delete_user(user_id).await)
    }

    // The vend audit.

    /// Records a hand-out to a new party; returns the row's id once it is committed.
    pub async fn record_vend(&self, v: VendRecord) -> Result<i64, StoreError> {
        on_backend!(self, s => s.record_vend(v).await)
    }

    /// Counts one more hand-out on audit row `row`, without waiting.
    pub fn note_repeat(&self, row: i64) {
        on_backend!(self, s => s.note_repeat(row));
    }

    /// Writes the pending repeat counts and waits for their commit.
    pub async fn flush_audit(&self) -> Result<(), StoreError> {
        on_backend!(self, s => s.flush_audit().await)
    }

    /// Audit transactions committed since start (each holds one or more vends' rows).
    pub fn audit_commits(&self) -> u64 {
        on_backend!(self, s => s.audit_commits())
    }

    /// Every party an access key id went to, newest first: "whose key was this?".
    pub async fn key_owner(&self, access_key_id: &str) -> Result<Vec<KeyOwner>, StoreError> {
        on_backend!(self, s => s.key_owner(access_key_id).await)
    }

    /// The user's most recent hand-out time.
    pub async fn last_vend(&self, user_id: &UserId) -> Result<Option<String>, StoreError> {
        on_backend!(self, s => s.last_vend(user_id).await)
    }

    /// Distinct access key ids handed to the user, oldest first.
    pub async fn keys_of_user(&self, user_id: &UserId) -> Result<Vec<String>, StoreError> {
        on_backend!(self, s => s.keys_of_user(user_id).await)
    }

    // The presign audit.

    /// Records a pre-signed URL or form; returns once the row is committed.
    pub async fn record_presign(&self, p: PresignRecord) -> Result<(), StoreError> {
        on_backend!(self, s => s.record_presign(p).await)
    }

    /// The user's presign rows, newest first, at most `limit`.
    pub async fn presigns_of(&self, user_id: &UserId, limit: u32) -> Result<Vec<PresignRow>, StoreError> {
        on_backend!(self, s => s.presigns_of(user_id, limit).await)
    }

    // The admin audit.

    /// Records an admin action before it runs; [`Store::finish_admin_action`] sets its outcome.
    pub async fn record_admin_action(&self, a: AdminAction) -> Result<i64, StoreError> {
        on_backend!(self, s => s.record_admin_action(a).await)
    }

    pub async fn finish_admin_action(&self, id: i64, outcome: &str, detail: Option<String>) -> Result<(), StoreError> {
        on_backend!(self, s => s.finish_admin_action(id, outcome, detail).await)
    }

    /// Admin actions, newest first, optionally only those on `target`.
    pub async fn admin_actions(&self, target: Option<String>, limit: u32) -> Result<Vec<AdminAction>, StoreError> {
        on_backend!(self, s => s.admin_actions(target, limit).await)
    }

    // The change feed: every state change of a user is appended in its own transaction.

    /// The newest change's sequence number; 0 when there is none.
    pub async fn latest_change(&self) -> Result<i64, StoreError> {
        on_backend!(self, s => s.latest_change().await)
    }

    /// The oldest change still kept (older ones were pruned); 0 when there is none. A reader
    /// that last saw a change before `oldest - 1` may have missed some.
    pub async fn oldest_change(&self) -> Result<i64, StoreError> {
        on_backend!(self, s => s.oldest_change().await)
    }

    /// Changes after `seq`, oldest first, at most `limit`.
    pub async fn changes_since(&self, seq: i64, limit: u32) -> Result<Vec<Change>, StoreError> {
        on_backend!(self, s => s.changes_since(seq, limit).await)
    }

    /// Deletes changes recorded before `before` (never the newest).
    pub async fn prune_changes(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        on_backend!(self, s => s.prune_changes(before).await)
    }

    /// Woken when another process announces a change (`PostgreSQL`'s `LISTEN`); `None` for a
    /// backend without notifications, whose readers rely on polling alone.
    pub fn change_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        match self {
            Store::Sqlite(_) => None,
            Store::Postgres(s) => Some(s.change_signal()),
        }
    }

    // The credential spill.

    /// Writes freshly issued keys (sealed) for every process to find, and releases the issuing
    /// lease on them; returns once committed.
    pub async fn publish_issued(&self, entry: Spilled) -> Result<(), StoreError> {
        on_backend!(self, s => s.publish_issued(entry).await)
    }

    /// Takes the fleet-wide lease on issuing keys for (user, template) for `lease` seconds;
    /// false while another process holds it.
    pub async fn claim_issue(&self, user_id: &UserId, template: &TemplateId, lease: u32) -> Result<bool, StoreError> {
        on_backend!(self, s => s.claim_issue(user_id, template, lease).await)
    }

    /// Gives up a lease (the issue failed).
    pub async fn release_issue(&self, user_id: &UserId, template: &TemplateId) -> Result<(), StoreError> {
        on_backend!(self, s => s.release_issue(user_id, template).await)
    }

    /// The sealed entry for (user, template), if one is spilled and not expired.
    pub async fn spilled(&self, user_id: &UserId, template: &TemplateId) -> Result<Option<Spilled>, StoreError> {
        on_backend!(self, s => s.spilled(user_id, template).await)
    }

    /// Deletes every spilled entry of the user, after any spill of theirs already queued.
    pub async fn forget_spilled(&self, user_id: &UserId) -> Result<(), StoreError> {
        on_backend!(self, s => s.forget_spilled(user_id).await)
    }
}
