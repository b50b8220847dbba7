//! What an operator can do to one user, shared by the admin API and `stsvend users`:
//! look up, disable and enable, revoke active sessions, delete. Every action is audited by
//! the HTTP layer, allowed or refused.

use serde::Serialize;

use crate::app::AppState;
use crate::identity::UserId;
use crate::provision::{LifecycleError, next_second, sleep_until};
use crate::store::{ProvisionState, StoreError, UserQuery, UserRecord, format_time, now};

/// Largest page of users returned at once.
pub const MAX_PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no user {0}")]
    NoSuchUser(String),
    #[error("`{0}` is not a user id (26 characters a-z2-7)")]
    BadUserId(String),
    #[error("bucket {bucket} still holds objects; delete with force=true to empty and delete it")]
    BucketNotEmpty { bucket: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
}

/// A user as the admin API shows one.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub issuer: String,
    pub subject: String,
    pub bucket: String,
    pub region: String,
    /// `pending` (first login not finished), `ready`, or `disabled`.
    pub state: String,
    pub created_at: String,
    pub last_vend_at: Option<String>,
    pub disabled_at: Option<String>,
    /// Sessions issued before this instant are denied on the user's bucket.
    pub sessions_revoked_before: Option<String>,
}

impl UserView {
    fn new(u: &UserRecord, last_vend_at: Option<String>) -> Self {
        let state = match (u.disabled_at, u.state) {
            (Some(_), _) => "disabled",
            (None, ProvisionState::Pending) => "pending",
            (None, ProvisionState::Ready) => "ready",
        };
        Self {
            user_id: u.user_id.to_string(),
            issuer: u.issuer.clone(),
            subject: u.subject.clone(),
            bucket: u.bucket.to_string(),
            region: u.region.clone(),
            state: state.to_owned(),
            created_at: format_time(u.created_at),
            last_vend_at,
            disabled_at: u.disabled_at.map(format_time),
            sessions_revoked_before: u.revoked_before.map(format_time),
        }
    }
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub user_id: String,
    pub bucket: String,
    pub objects_deleted: u64,
}

pub fn parse_user_id(s: &str) -> Result<UserId, AdminError> {
    UserId::parse(s).map_err(|_| AdminError::BadUserId(s.chars().take(64).collect()))
}

async fn load(state: &AppState, id: &UserId) -> Result<UserRecord, AdminError> {
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(id.to_string()))
}

/// Drops everything cached about the user, so the next request reads the stored row.
async fn forget(state: &AppState, id: &UserId) {
    state.vendor.forget_user(id).await;
    state.provisioner.forget(id).await;
}

pub async fn list(state: &AppState, query: UserQuery) -> Result<Vec<UserView>, AdminError> {
    let rows = state.store.list_users(query).await?;
    Ok(rows.iter().map(|(u, last)| UserView::new(u, last.clone())).collect())
}

pub async fn show(state: &AppState, id: &UserId) -> Result<UserView, AdminError> {
    let user = load(state, id).await?;
    let last = state.store.last_vend(id).await?;
    Ok(UserView::new(&user, last))
}

/// Disabled users get 403 `user_disabled` instead of keys; their cached keys are dropped.
/// Keys already handed out stay valid until they expire: revoke for that.
pub async fn set_disabled(state: &AppState, id: &UserId, disabled: bool) -> Result<UserView, AdminError> {
    if !state.store.set_disabled(id, disabled).await? {
        return Err(AdminError::NoSuchUser(id.to_string()));
    }
    forget(state, id).await;
    show(state, id).await
}

/// Denies every session of the user issued up to now on their bucket (a bucket-policy Deny on
/// the session tag and `aws:TokenIssueTime`), and drops their cached keys. Returns once keys
/// vended from then on carry a later issue time (STS times are whole seconds).
pub async fn revoke(state: &AppState, id: &UserId) -> Result<UserView, AdminError> {
    let user = load(state, id).await?;
    let before = next_second(time::OffsetDateTime::now_utc());
    if user.state == ProvisionState::Ready {
        state
            .provisioner
            .revoke_sessions(&user, &state.config.aws.session_tag_key, before)
            .await?;
    }
    // No session is issued at or after `before` until the clock reaches it.
    sleep_until(before).await;
    state.store.set_revoked_before(id, before).await?;
    forget(state, id).await;
    show(state, id).await
}

/// Deletes the user's bucket and mapping. A bucket with objects is refused unless `force`,
/// which empties it first. The audit log keeps the user's vend rows.
pub async fn delete(state: &AppState, id: &UserId, force: bool) -> Result<Deleted, AdminError> {
    let user = load(state, id).await?;
    let mut objects_deleted = 0;
    if user.state == ProvisionState::Ready || user.candidate > 0 {
        if !force && !state.provisioner.bucket_is_empty(&user).await? {
            return Err(AdminError::BucketNotEmpty {
                bucket: user.bucket.to_string(),
            });
        }
        objects_deleted = state.provisioner.delete_bucket(&user).await?;
    }
    state.store.delete_user(id).await?;
    forget(state, id).await;
    Ok(Deleted {
        user_id: id.to_string(),
        bucket: user.bucket.to_string(),
        objects_deleted,
    })
}

/// Time of an admin action, as the audit records it.
pub fn action_time() -> String {
    format_time(now())
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
