//! What an operator can do to one user, shared by the admin API and `stsvend users`:
//! look up, disable and enable, revoke active sessions, delete. Who may, and the audit of every
//! call, allowed or refused, is `audit`'s. The S3 work is `aws::s3`'s; this module decides the
//! order.

mod audit;
mod failure;
mod org_delete;
mod org_revoke;
mod orgs;
mod own_bucket;
mod quota;
mod shared;
mod usage;
mod views;

use std::sync::Arc;

use crate::aws::s3::{Buckets, Emptied};
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::{next_second, sleep_until};
use crate::store::{ProvisionState, Store, StoreError, UserQuery, UserRecord};
use crate::usecase::error::Failure;
use crate::usecase::vend::Vend;

/// What the admin API reports besides users: as the store records them.
pub use crate::store::{AdminAction, KeyOwner};
pub use audit::AdminCaller;
pub use org_delete::OrgDeleted;
pub use orgs::{MEMBERS_SHOWN, MemberRevoked, MembersSeen, OrgView, parse_org_id};
pub use quota::{LimitsView, QuotaView, UsageView, parse_limits};
pub use usage::{OwnerUsage, Totals, UsageKind, UsagePosition};
pub use views::{Deleted, Revocation, UserView};

/// Largest page of users returned at once.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("no user {0}")]
    NoSuchUser(String),
    #[error("`{0}` is not a user id (26 characters a-z2-7)")]
    BadUserId(String),
    #[error("no organisation {0}")]
    NoSuchOrg(String),
    #[error("`{0}` is not an organisation id (`o` and 26 characters a-z2-7)")]
    BadOrgId(String),
    #[error("{bucket} still holds objects; delete with force=true to empty and delete it")]
    BucketNotEmpty { bucket: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored row breaks the configuration (`provision::mapping`): nothing acts on AWS
    /// from it until it is repaired.
    #[error(transparent)]
    Mapping(#[from] crate::provision::ProvisionError),
    /// S3 failed or refused (`aws::Error` says which).
    #[error(transparent)]
    Aws(#[from] crate::aws::Error),
    /// A bucket policy's lease stayed taken by other writers (a shared bucket's, or a user's or
    /// an org's own while a quota sync or another revocation writes it).
    #[error("other writers kept the shared bucket's policy lease; retry later")]
    PolicyBusy,
}

pub fn parse_user_id(s: &str) -> Result<UserId, Failure> {
    UserId::parse(s).map_err(|_| AdminError::BadUserId(s.chars().take(64).collect()).into())
}

/// Where a revocation's cut-off stands.
#[derive(Debug, Clone, Copy)]
enum Denial {
    /// In a bucket policy: the user's own bucket's, or the shared bucket's.
    InPolicy(time::OffsetDateTime),
    /// Prefix mode: no session of the user can be alive, so only the user's row records it.
    NothingAlive(time::OffsetDateTime),
}

impl Denial {
    fn cut_off(self) -> time::OffsetDateTime {
        match self {
            Self::InPolicy(t) | Self::NothingAlive(t) => t,
        }
    }
}

/// The operator's use cases, and what they act on.
pub struct Admin {
    store: Store,
    buckets: Arc<Buckets>,
    vend: Arc<Vend>,
    tag_key: String,
    /// The permission an admin caller's token must carry; `None`: the admin API is off.
    permission: Option<String>,
    /// How long `revoke` waits for the bucket policy to apply.
    revoke_wait: std::time::Duration,
    /// How long a vended session lives: a shared bucket's cut-offs are kept this long.
    session_lifetime: time::Duration,
    /// `admin.policy_lease_seconds`: one write of a shared bucket's policy holds its lease.
    policy_lease_seconds: u32,
}

/// What [`Admin`] is made of (see `app.rs`).
pub struct AdminParts {
    pub store: Store,
    pub buckets: Arc<Buckets>,
    pub vend: Arc<Vend>,
    pub tag_key: String,
    pub permission: Option<String>,
    pub revoke_wait: std::time::Duration,
    pub session_lifetime: time::Duration,
    pub policy_lease_seconds: u32,
}

impl Admin {
    pub fn new(p: AdminParts) -> Self {
        Self {
            store: p.store,
            buckets: p.buckets,
            vend: p.vend,
            tag_key: p.tag_key,
            permission: p.permission,
            revoke_wait: p.revoke_wait,
            session_lifetime: p.session_lifetime,
            policy_lease_seconds: p.policy_lease_seconds,
        }
    }

    /// The user's row as stored (shown to operators whatever it holds).
    async fn load(&self, id: &UserId) -> Result<UserRecord, AdminError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(id.to_string()))
    }

    /// The user's row, refused (logged, counted, 500) when it breaks the configuration, as a
    /// vend refuses it: for the actions that act on AWS from it (revoke, delete), which would
    /// otherwise empty or deny on whatever bucket a row changed behind stsvend's back names.
    async fn load_checked(&self, id: &UserId) -> Result<UserRecord, AdminError> {
        let row = self.load(id).await?;
        Ok(self.vend.provisioner().check(row)?)
    }

    /// A page of at most `limit` users in user-id order, after `after`; `search` matches
    /// the start of a user id or bucket name, or any part of the subject.
    pub async fn list(
        &self,
        search: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<UserView>, Failure> {
        let query = UserQuery { search, after, limit };
        let rows = self.store.list_users(query).await.map_err(AdminError::from)?;
        Ok(rows.iter().map(|(u, last)| UserView::new(u, last.clone())).collect())
    }

    pub async fn show(&self, id: &UserId) -> Result<UserView, Failure> {
        Ok(self.view(id).await?)
    }

    async fn view(&self, id: &UserId) -> Result<UserView, AdminError> {
        let user = self.load(id).await?;
        let last = self.store.last_vend(id).await?;
        let mut view = UserView::new(&user, last);
        // Boxed: the ledger read would make every admin route's future large.
        view.quota = Box::pin(self.quota_view(&crate::identity::OwnerStorage {
            owner: crate::identity::Owner::User(id.clone()),
            bucket: user.bucket.clone(),
            prefix: user.key_prefix().to_owned(),
        }))
        .await?;
        Ok(view)
    }

    /// Disabled users get 403 `user_disabled` instead of keys; their cached keys are dropped.
    /// Keys already handed out stay valid until they expire: revoke for that.
    pub async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<UserView, Failure> {
        if !self.store.set_disabled(id, disabled).await.map_err(AdminError::from)? {
            return Err(AdminError::NoSuchUser(id.to_string()).into());
        }
        self.vend.forget_user(id).await;
        self.show(id).await
    }

    /// Denies every session of the user issued up to now on their bucket (a bucket-policy
    /// Deny on the session tag and `aws:TokenIssueTime`), and drops their cached keys. Returns
    /// once keys vended from then on carry a later issue time (STS times are whole seconds).
    ///
    /// The cut-off is recorded first: from then on no replica hands out keys issued before it
    /// (the change feed drops their caches; shared keys are checked against it), so nothing
    /// vended while the policy is being written is denied by it afterwards.
    ///
    /// AWS applies a new bucket policy after a delay: the answer says `in_effect` once a
    /// session issued before the cut-off is refused on the bucket, or `propagating` if that
    /// has not happened within `admin.revoke_wait_seconds` (the HTTP layer answers 202).
    ///
    /// In prefix mode a user no session of whom can still be alive gets no Deny (see
    /// `shared.rs`), and the answer is `in_effect` at once: there is nothing to refuse.
    pub async fn revoke(&self, id: &UserId) -> Result<UserView, Failure> {
        Ok(self.revoke_sessions(id).await?)
    }

    async fn revoke_sessions(&self, id: &UserId) -> Result<UserView, AdminError> {
        let user = self.load_checked(id).await?;
        if user.state != ProvisionState::Ready {
            let before = self.deny_sessions(&user).await?.cut_off();
            sleep_until(before).await;
            return self.view(id).await;
        }
        // Issued before the cut-off (taken next): the bucket policy will refuse it. None is
        // needed where no Deny will be written.
        let probe = if self.may_need_deny(&user).await? {
            match self.vend.probe_session(&user).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(user_id = %id, error = %e, "no probe session; the revocation's effect is not checked");
                    None
                }
            }
        } else {
            None
        };
        let denial = self.deny_sessions(&user).await?;
        // No session is issued at or after the cut-off until AWS's clock reaches it.
        self.buckets.wait_for_aws_time(&user.bucket, denial.cut_off()).await?;
        let in_effect = match (&denial, &probe) {
            (Denial::NothingAlive(_), _) => true,
            (Denial::InPolicy(_), Some(p)) => {
                self.buckets
                    .wait_until_refused(&user.bucket, user.key_prefix(), p, self.revoke_wait)
                    .await
            }
            (Denial::InPolicy(_), None) => false,
        };
        let mut view = self.view(id).await?;
        view.revocation = Some(if in_effect {
            Revocation::InEffect
        } else {
            Revocation::Propagating
        });
        Ok(view)
    }

    /// Records the cut-off (dropping every replica's cached keys of the user), then writes the
    /// Deny statement on the user's bucket (prefix mode: the shared bucket's, unless no session
    /// of the user can be alive); says which. The cut-off is the second after AWS's present
    /// time (AWS compares it with `aws:TokenIssueTime`, stamped by its own clock, which may
    /// differ from this host's).
    async fn deny_sessions(&self, user: &UserRecord) -> Result<Denial, AdminError> {
        let id = &user.user_id;
        let now = if user.state == ProvisionState::Ready {
            self.buckets.aws_time(&user.bucket).await?
        } else {
            time::OffsetDateTime::now_utc()
        };
        let before = next_second(now);
        if user.prefix.is_some() {
            // The shared bucket's policy holds every user's cut-off: written under a lease.
            return self.deny_on_shared(user, now, before).await;
        }
        self.store.set_revoked_before(id, before).await?;
        self.vend.forget_user(id).await;
        if user.state == ProvisionState::Ready {
            // Concurrent revocations (any replica) each write the latest cut-off stored; the
            // one that stored it last writes last.
            let mut written = None;
            loop {
                let cut_off = self.load(id).await?.revoked_before.unwrap_or(before);
                if written == Some(cut_off) {
                    break;
                }
                self.write_own_revocation(&user.bucket, id, cut_off).await?;
                written = Some(cut_off);
            }
        }
        Ok(Denial::InPolicy(before))
    }

    /// Deletes the user's bucket and mapping. A bucket with objects is refused unless `force`,
    /// which empties it. The audit log keeps the user's vend rows.
    ///
    /// Before anything is emptied the user is disabled (no replica vends to them any more) and
    /// their sessions are denied on the bucket, so nothing is written into it while it empties.
    /// If a step fails the user stays disabled and revoked, and deleting again resumes. A user
    /// whose first login never finished gets the same clean-up: a crash may have left the
    /// bucket behind.
    pub async fn delete(&self, id: &UserId, force: bool) -> Result<Deleted, Failure> {
        Ok(self.delete_user(id, force).await?)
    }

    /// Takes deleted `users`' cut-offs out of the shared `bucket`'s policy: only for users
    /// whose sessions nobody holds any more (`stsvend selftest`'s probes, whose keys never left
    /// the run), since the Deny is what refuses a deleted user's live keys.
    pub async fn drop_shared_revocations(&self, bucket: &BucketName, users: &[UserId]) -> Result<(), Failure> {
        Ok(self.drop_revocations(bucket, users).await?)
    }

    async fn delete_user(&self, id: &UserId, force: bool) -> Result<Deleted, AdminError> {
        let user = self.load_checked(id).await?;
        let not_empty = || AdminError::BucketNotEmpty {
            bucket: match &user.prefix {
                Some(p) => format!("prefix {p} of bucket {}", user.bucket),
                None => format!("bucket {}", user.bucket),
            },
        };
        if !force && !self.is_empty(&user).await? {
            return Err(not_empty());
        }
        if user.disabled_at.is_none() {
            self.store.set_disabled(id, true).await?;
        }
        if user.prefix.is_none() && !self.bucket_exists(&user).await? {
            // Removed behind our back: no object to protect, no policy to write a Deny into
            // (the keys are pinned to this account, and the name is never given out again).
            tracing::warn!(user_id = %id, bucket = %user.bucket, "the user's bucket no longer exists; deleting the user");
            return self.forget(&user, Emptied::default()).await;
        }
        let denial = self.deny_sessions(&user).await?;
        if let (Some(_), Denial::InPolicy(cut_off)) = (&user.prefix, denial) {
            // A prefix comes back to the same user id: keys of a new login must be issued at
            // or after the cut-off still standing in the shared bucket's policy, and the new
            // row will not know it. The row goes only once AWS's clock has passed it.
            self.buckets.wait_for_aws_time(&user.bucket, cut_off).await?;
        }
        // Written between the check and the denial: still the operator's call.
        if !force && !self.is_empty(&user).await? {
            return Err(not_empty());
        }
        let emptied = {
            let emptied = match &user.prefix {
                // The shared bucket stays; the user's objects and uploads under it go.
                Some(prefix) => self.buckets.empty_prefix(&user.bucket, prefix.as_str()).await,
                None => self.buckets.empty_and_delete(&user.bucket).await,
            };
            match emptied {
                Err(e) if user.state == ProvisionState::Pending && e.is_denied() => {
                    // The recorded name was taken by another account before the bucket was
                    // created: there is nothing of ours to remove.
                    tracing::warn!(user_id = %id, bucket = %user.bucket, "pending user's bucket belongs to another account; left alone");
                    Emptied::default()
                }
                other => other?,
            }
        };
        self.forget(&user, emptied).await
    }

    /// The last step of a delete: the row and every cached state of the user go.
    async fn forget(&self, user: &UserRecord, emptied: Emptied) -> Result<Deleted, AdminError> {
        let id = &user.user_id;
        self.store.delete_user(id).await?;
        self.vend.forget_user(id).await;
        Ok(Deleted {
            user_id: id.to_string(),
            bucket: user.bucket.to_string(),
            prefix: user.key_prefix().to_owned(),
            objects_deleted: emptied.objects,
            uploads_aborted: emptied.uploads,
        })
    }

    async fn bucket_exists(&self, user: &UserRecord) -> Result<bool, AdminError> {
        Ok(self.buckets.exists(&user.bucket).await?)
    }

    async fn is_empty(&self, user: &UserRecord) -> Result<bool, AdminError> {
        match self.buckets.is_empty(&user.bucket, user.key_prefix()).await {
            Err(e) if user.state == ProvisionState::Pending && e.is_denied() => Ok(true),
            other => Ok(other?),
        }
    }

    /// Every party an access key id went to: "whose key was this?".
    pub async fn key_owner(&self, access_key_id: &str) -> Result<Vec<KeyOwner>, Failure> {
        Ok(self.store.key_owner(access_key_id).await.map_err(AdminError::from)?)
    }

    /// The admin audit log, newest first.
    pub async fn audit_log(&self, target: Option<String>, limit: u32) -> Result<Vec<AdminAction>, Failure> {
        Ok(self
            .store
            .admin_actions(target, limit)
            .await
            .map_err(AdminError::from)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_parsed_strictly() {
        assert!(parse_user_id("abc").is_err());
        let id = UserId::derive("https://i/", "auth0|a");
        assert_eq!(parse_user_id(id.as_str()).unwrap(), id);
    }
}
