//! The store: user mappings, the audit logs and the credential spill, behind one interface
//! that names what the service needs ("record this hand-out"), not SQL. [`Store`] is an enum
//! over the backends, so callers never see which one runs; `sqlite` is the embedded default,
//! `postgres` the one a fleet of replicas shares (selected by `database.url`).

mod error;
mod health;
mod postgres;
mod prefix;
mod presign;
mod repeats;
mod sql;
mod sqlite;
#[cfg(test)]
mod test_db;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::{DatabaseConfig, StorageMode};
use crate::identity::{BucketName, TemplateId, UserId, UserPrefix};

pub use error::StoreError;
pub use health::{DatabaseHealth, WATCH_EVERY as DATABASE_WATCH_EVERY};
pub use postgres::PgStore;
pub use prefix::{PolicyLease, PrefixRevocation, UserActivity};
use prefix::{parse_prefix, storage_columns};
pub use presign::{PresignRecord, PresignRow};
pub use sqlite::SqliteStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionState {
    Pending,
    Ready,
}

impl ProvisionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
        }
    }
}

impl FromStr for ProvisionState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "ready" => Ok(Self::Ready),
            other => Err(StoreError::Corrupt(format!("state `{other}`"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: UserId,
    pub issuer: String,
    pub subject: String,
    pub bucket: BucketName,
    pub candidate: u32,
    pub region: String,
    pub state: ProvisionState,
    pub created_at: OffsetDateTime,
    /// Set while an admin has disabled the user: no credentials are vended.
    pub disabled_at: Option<OffsetDateTime>,
    /// Sessions issued before this instant are denied by the bucket policy.
    pub revoked_before: Option<OffsetDateTime>,
    /// Prefix mode: the user's prefix of `bucket` (a shared bucket); `None`: the bucket is
    /// the user's own.
    pub prefix: Option<UserPrefix>,
}

/// What a new user's row starts as.
pub struct NewUser<'a> {
    pub user_id: &'a UserId,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub bucket: &'a BucketName,
    pub region: &'a str,
    /// Prefix mode: the user's prefix of the shared `bucket`. Such a row is ready at once
    /// (nothing to create).
    pub prefix: Option<&'a UserPrefix>,
}

/// A bound on first logins: at most `limit` users created within `window`, counted in the
/// database, so every process sharing it holds the same bound.
#[derive(Debug, Clone, Copy)]
pub struct NewUserLimit {
    pub limit: std::num::NonZeroU32,
    pub window: std::time::Duration,
}

impl NewUserLimit {
    /// The stored form (`created_at`) of the instant `window` ago: rows created after it are
    /// in the window. RFC 3339 UTC sorts as text.
    fn window_start(self) -> String {
        crate::runtime::clock::format_time(crate::runtime::clock::now() - self.window)
    }
}

/// What [`Store::admit_user`] did.
#[derive(Debug)]
pub enum Admission {
    /// The user's row: written now, or theirs already (an existing user is always admitted).
    Row(UserRecord),
    /// `limit` users were created within the window: no row written. Room comes back at
    /// `room_at`, when enough of them are older than the window.
    Full { room_at: OffsetDateTime },
}

/// One audit row.
pub struct VendRecord {
    pub user_id: UserId,
    pub access_key_id: String,
    pub template: String,
    pub expiration: OffsetDateTime,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
    pub from_cache: bool,
    /// The organisation whose storage the keys reach (org templates).
    pub org_id: Option<crate::identity::OrgId>,
}

/// A page of users for the admin API, in user-id order.
pub struct UserQuery {
    /// Matches a user-id prefix, a bucket name prefix, or any part of the subject.
    pub search: Option<String>,
    /// Only users whose id sorts after this one (the previous page's last).
    pub after: Option<String>,
    pub limit: u32,
}

/// The hand-outs of an access key to one party (client address, OAuth client), with whose key
/// it was (also after the user was deleted).
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub user_id: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub bucket: Option<String>,
    /// True when the user has since been deleted.
    pub user_deleted: bool,
    pub template: String,
    /// The first hand-out to this party.
    pub vended_at: String,
    /// The latest hand-out to this party (repeats are written within a second).
    pub last_at: String,
    /// How many times the key went to this party.
    pub hand_outs: u32,
    pub expiration: String,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
    /// True when the first hand-out to this party came from the credential cache.
    pub from_cache: bool,
    /// Prefix mode: the user's prefix of `bucket` (also after the user was deleted).
    pub prefix: Option<String>,
}

/// One admin action, as recorded.
#[derive(Debug, Clone)]
pub struct AdminAction {
    pub at: String,
    pub actor: String,
    pub actor_client: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub client_addr: Option<String>,
}

/// One entry of the change feed: this user's state changed (disabled, enabled, revoked,
/// deleted, provisioned) in the transaction numbered `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub user_id: UserId,
}

/// One sealed credential entry: the user and the template's identity (name and body digest,
/// never its position in the folder) it is for, its expiry and the sealed bytes (see
/// `vend::seal`).
pub struct Spilled {
    pub user_id: UserId,
    pub template: TemplateId,
    /// Unix seconds.
    pub expires_at: i64,
    pub sealed: Vec<u8>,
}

impl UserRecord {
    /// How the user's storage is laid out: recorded with the user, whatever the configured mode
    /// for new users is now.
    pub fn storage_mode(&self) -> StorageMode {
        if self.prefix.is_some() {
            StorageMode::Prefix
        } else {
            StorageMode::Bucket
        }
    }

    /// `bucket` or `prefix`: the storage mode recorded with the user.
    pub fn mode_label(&self) -> &'static str {
        match self.storage_mode() {
            StorageMode::Prefix => "prefix",
            StorageMode::Bucket => "bucket",
        }
    }

    /// The key prefix every object of the user starts with: theirs in prefix mode, none in
    /// their own bucket.
    pub fn key_prefix(&self) -> &str {
        self.prefix.as_ref().map_or("", UserPrefix::as_str)
    }

    /// `pending` (first login not finished), `ready`, or `disabled`: what `/v1/me` and the
    /// admin API show.
    pub fn state_label(&self) -> &'static str {
        match (self.disabled_at, self.state) {
            (Some(_), _) => "disabled",
            (None, ProvisionState::Pending) => "pending",
            (None, ProvisionState::Ready) => "ready",
        }
    }
}

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
mod orgs;
pub use orgs::{NewOrg, OrgRecord};

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
