//! The store's records: what a user's row, an audit row, an admin action, a change-feed entry
//! and a spilled credential hold, as every backend reads and writes them.

use std::str::FromStr;

use time::OffsetDateTime;

use super::StoreError;
use crate::config::StorageMode;
use crate::identity::{BucketName, OrgId, Owner, TemplateId, UserId, UserPrefix};

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
    pub(super) fn window_start(self) -> String {
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

/// One entry of the change feed: the state of what it names changed in the transaction
/// numbered `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub what: Changed,
}

/// Whose state a change of the feed is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A user disabled, enabled, revoked or deleted.
    User(UserId),
    /// An organisation disabled, enabled, revoked (all members or one) or deleted.
    Org(OrgId),
    /// An owner's quota override or quota state (`store::quota`).
    Quota(Owner),
}

impl Change {
    /// A feed row: the org when it names one, else the user; their quota when `quota`.
    pub(super) fn parse(seq: i64, user_id: &str, org_id: Option<&str>, quota: bool) -> Result<Self, StoreError> {
        let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
        let what = match (org_id, quota) {
            (Some(org), false) => Changed::Org(OrgId::parse(org).map_err(corrupt)?),
            (None, false) => Changed::User(UserId::parse(user_id).map_err(corrupt)?),
            (Some(org), true) => Changed::Quota(Owner::Org(OrgId::parse(org).map_err(corrupt)?)),
            (None, true) => Changed::Quota(Owner::User(UserId::parse(user_id).map_err(corrupt)?)),
        };
        Ok(Self { seq, what })
    }
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
