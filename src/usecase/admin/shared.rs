//! Revoking a user in prefix mode: the cut-off goes into the shared bucket's policy, next to
//! every other user's (`buckets::shared` renders them, grouped by second, within S3's limit).
//!
//! That policy is 20 KiB for every user of the bucket, so a Deny is written only while a
//! session of the user issued before the cut-off can still be alive: the audit records every
//! set of keys and every pre-signed URL before it leaves, with when it expires
//! (`Store::user_activity`). A user whose last one ended (with a margin for the clocks) more
//! than that long ago, or who never got one, is revoked on their row alone. The cut-off is
//! recorded on the row before the audit is read, and a process handing out keys reads the row
//! again after writing their audit row (`Vend::still_current`), so no session issued before
//! the cut-off reaches anyone unseen by that read.
//!
//! Writes of one shared bucket's policy are serialised across the fleet by a lease in the
//! database (`Store::claim_policy_lease`): each writer reads the policy and then the cut-offs,
//! renders and writes while it holds it. S3 cannot refuse a stale write, so the lease is
//! fenced: every claim bumps a token, and a writer checks its token right before and right
//! after its write. One stalled past its lease (a slow database, a held request, a pause)
//! finds the token moved: another writer may have written since, so it writes again from the
//! database, where every revocation is recorded before any policy holding it is written.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Admin, AdminError, Denial};
use crate::aws::s3::{SharedPolicy, render_shared_policy};
use crate::identity::{BucketName, UserId};
use crate::store::{PolicyLease, PrefixRevocation, UserRecord};

/// How much longer than a lease lasts a revoke waits for it before answering 503.
const LEASE_WAIT_MARGIN: Duration = Duration::from_secs(5);
/// Writes in a row that find their lease claimed by another writer before a revoke gives up
/// (503): each one means another writer wrote meanwhile.
pub(super) const WRITE_ATTEMPTS: u32 = 3;
/// Cut-offs are kept this much longer than a session lives, and a session counts as alive
/// this much longer than it was handed out for: clocks differ.
pub(super) const EXPIRY_MARGIN: time::Duration = time::Duration::minutes(5);

/// How a write under the lease ended.
pub(super) enum Fenced {
    /// Nobody claimed the lease from before the write until after it: the policy written holds.
    Held,
    /// Another writer claimed the lease meanwhile (this one's ran out): its policy may have
    /// been overwritten by this one's, or this one's rendered from what it superseded.
    Lost,
}

impl Admin {
    /// Records `user`'s cut-off `before` (AWS's clock says `now`) and, when a session of the
    /// user can still be alive, writes the shared bucket's policy with it. A revocation that
    /// needs a Deny and cannot fit (see `buckets::shared`) is refused before anything is
    /// recorded (unless the user's first session in a long while was handed out while this
    /// ran: then the cut-off on their row stands, and keys vended from now on are after it).
    pub(super) async fn deny_on_shared(
        &self,
        user: &UserRecord,
        now: OffsetDateTime,
        before: OffsetDateTime,
    ) -> Result<Denial, AdminError> {
        let id = &user.user_id;
        if !self.sessions_alive(user, now).await? {
            // Recorded first (and every cache of the user dropped), then the audit read again:
            // a hand-out racing this one is either in it now or withheld.
            self.store.set_revoked_before(id, before).await?;
            self.vend.forget_user(id).await;
            if !self.sessions_alive(user, now).await? {
                tracing::info!(user_id = %id, "no session of the user can be alive: revoked without a Deny in the shared bucket's policy");
                return Ok(Denial::NothingAlive(before));
            }
        }
        self.write_fenced(user, before).await?;
        Ok(Denial::InPolicy(before))
    }

    /// True when a session of `user` issued before a cut-off at `now` (AWS's clock) may still
    /// be alive: the last one handed out ends after `now`, less the clock margin.
    async fn sessions_alive(&self, user: &UserRecord, now: OffsetDateTime) -> Result<bool, AdminError> {
        let activity = self.store.user_activity(&user.user_id).await?;
        Ok(activity.sessions_until.is_some_and(|end| end + EXPIRY_MARGIN > now))
    }

    /// Before a revocation: whether it may write a Deny (a probe session is taken only then).
    /// The revocation itself decides again, by AWS's clock.
    pub(super) async fn may_need_deny(&self, user: &UserRecord) -> Result<bool, AdminError> {
        if user.prefix.is_none() {
            return Ok(true);
        }
        self.sessions_alive(user, OffsetDateTime::now_utc()).await
    }

    /// Records `user`'s cut-off `before` and writes the shared bucket's policy with it, under
    /// the fenced lease.
    async fn write_fenced(&self, user: &UserRecord, before: OffsetDateTime) -> Result<(), AdminError> {
        let bucket = &user.bucket;
        for attempt in 1..=WRITE_ATTEMPTS {
            let lease = self.take_policy_lease(bucket).await?;
            let written = self.write_shared(user, bucket, before, lease).await;
            if let Err(e) = self.store.release_policy_lease(bucket, lease).await {
                tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
            }
            match written? {
                Fenced::Held => return Ok(()),
                Fenced::Lost => tracing::warn!(
                    bucket = %bucket,
                    attempt,
                    "the shared bucket's policy lease ran out during a write and was claimed by another writer; writing again"
                ),
            }
        }
        Err(AdminError::PolicyBusy)
    }

    pub(super) async fn take_policy_lease(&self, bucket: &BucketName) -> Result<PolicyLease, AdminError> {
        let started = std::time::Instant::now();
        let wait = Duration::from_secs(u64::from(self.policy_lease_seconds)) + LEASE_WAIT_MARGIN;
        loop {
            if let Some(lease) = self.store.claim_policy_lease(bucket, self.policy_lease_seconds).await? {
                return Ok(lease);
            }
            if started.elapsed() > wait {
                tracing::warn!(bucket = %bucket, "another writer has held the shared bucket's policy lease for too long");
                return Err(AdminError::PolicyBusy);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn write_shared(
        &self,
        user: &UserRecord,
        bucket: &BucketName,
        before: OffsetDateTime,
        lease: PolicyLease,
    ) -> Result<Fenced, AdminError> {
        let existing = self.buckets.current_policy(bucket).await?;
        // Read after the bucket's policy, so a stall in between leaves nothing out.
        let since = crate::runtime::clock::now() - self.session_lifetime - EXPIRY_MARGIN;
        let mut alive = self.store.prefix_revocations(bucket, since).await?;
        match alive.iter_mut().find(|r| r.user_id == user.user_id) {
            Some(r) => r.cut_off = r.cut_off.max(before),
            None => alive.push(PrefixRevocation {
                user_id: user.user_id.clone(),
                cut_off: before,
                last_hand_out: self.store.user_activity(&user.user_id).await?.last_hand_out,
            }),
        }
        // Refused here (PolicyFull) before anything is recorded.
        let policy = render_shared_policy(existing.as_deref(), bucket, &self.tag_key, &alive)?;
        self.store.set_revoked_before(&user.user_id, before).await?;
        self.vend.forget_user(&user.user_id).await;
        self.store
            .add_prefix_revocations(bucket, std::slice::from_ref(&user.user_id), before)
            .await?;
        self.record_moved_and_write(bucket, policy, lease).await
    }

    /// Writes `policy` to `bucket` if `lease` still holds, after recording the cut-offs it
    /// moved.
    pub(super) async fn record_moved_and_write(
        &self,
        bucket: &BucketName,
        policy: SharedPolicy,
        lease: PolicyLease,
    ) -> Result<Fenced, AdminError> {
        // Users whose cut-off moved later to make room: recorded (and their cached keys
        // dropped fleet-wide) before the policy that denies those keys is written.
        for moved in &policy.moved {
            tracing::warn!(user_id = %moved.user_id, cut_off = %crate::runtime::clock::format_time(moved.cut_off), "shared bucket policy full: revocation merged into a later one");
            self.store.set_revoked_before(&moved.user_id, moved.cut_off).await?;
            self.store
                .add_prefix_revocations(bucket, std::slice::from_ref(&moved.user_id), moved.cut_off)
                .await?;
            self.vend.forget_user(&moved.user_id).await;
        }
        // Everything above is recorded: whoever writes next includes it.
        if !self.store.policy_lease_held(bucket, lease).await? {
            return Ok(Fenced::Lost);
        }
        let bytes = policy.bytes();
        self.buckets.set_policy(bucket, policy).await?;
        // A write that reached S3 after a newer writer's undid it: write again.
        if !self.store.policy_written(bucket, lease, bytes).await? {
            return Ok(Fenced::Lost);
        }
        Ok(Fenced::Held)
    }

    /// Takes deleted `users`' cut-offs out of the shared `bucket`'s policy (under the fenced
    /// lease, as a revocation writes it): only for users whose sessions nobody holds any more
    /// (`stsvend selftest`'s probes, whose keys never left the run), since the Deny is what
    /// refuses a deleted user's live keys.
    pub(super) async fn drop_revocations(&self, bucket: &BucketName, users: &[UserId]) -> Result<(), AdminError> {
        self.store.remove_prefix_revocations(bucket, users).await?;
        for attempt in 1..=WRITE_ATTEMPTS {
            let lease = self.take_policy_lease(bucket).await?;
            let written = async {
                let existing = self.buckets.current_policy(bucket).await?;
                let since = crate::runtime::clock::now() - self.session_lifetime - EXPIRY_MARGIN;
                let alive = self.store.prefix_revocations(bucket, since).await?;
                let policy = render_shared_policy(existing.as_deref(), bucket, &self.tag_key, &alive)?;
                self.record_moved_and_write(bucket, policy, lease).await
            }
            .await;
            if let Err(e) = self.store.release_policy_lease(bucket, lease).await {
                tracing::warn!(error = %e, "bucket-policy lease not released; it expires by itself");
            }
            match written? {
                Fenced::Held => return Ok(()),
                Fenced::Lost => {
                    tracing::warn!(bucket = %bucket, attempt, "the shared bucket's policy lease was claimed by another writer; writing again");
                }
            }
        }
        Err(AdminError::PolicyBusy)
    }
}
