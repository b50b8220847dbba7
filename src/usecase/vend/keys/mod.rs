//! The vend cache: keys handed out per (user, template), reused while at least `min_remaining`
//! of their lifetime is left and they were issued after the user's revocation cut-off.
//! Concurrent misses of one key share a single `AssumeRole`. Each entry also keeps what its
//! hand-outs need again: the audit row of every party the keys went to, and the response body.
//!
//! Keys are shared across the fleet: every issued set is sealed (`seal`) and written to the
//! database at once (`Store::publish_issued`), and a miss reads the database before asking
//! STS. So that concurrent misses on several replicas still make one `AssumeRole`, the one
//! that asks takes a lease on (user, template) in the database first; the others wait for its
//! keys to appear (bounded by the lease), then ask STS themselves only if they never do. The
//! in-memory cache has a byte budget; an entry it drops is found in the database again.
//!
//! An org template's keys are also keyed by the caller's organisation and its revocation
//! cut-off for the caller (`TemplateId::for_org`): a token for another organisation never
//! receives keys made for the first, and keys made before an org revocation are never found
//! once the org's new row is read (the change feed drops the old one on every process). Keys
//! made with token claims (`{{claims.NAME}}`, session tags) are keyed by their values too
//! (`TemplateId::for_claims`): a token with other values never receives them.
//!
//! A template is its identity everywhere here (`Template::id`: name and body digest), never
//! its position in the folder: replicas started with different folders (a rolling deploy that
//! adds a template) share the keys of the templates they hold in common, and no others.//!
//! This file is the in-memory cache and what its entries hold; `issue` the miss path (the
//! fleet's shared keys, the issue lease, sealing, the revocation cut-off).

mod issue;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::DefaultLifecycle;
use time::OffsetDateTime;

use super::seal::{Sealer, SealerError};
use crate::aws::Error as AwsError;
use crate::aws::sts::{Credentials, Sts};
use crate::identity::{BucketName, UserId};
use crate::policy::{SessionClaims, Template};
use crate::runtime::cache::HotCache;
use crate::runtime::metrics::Metrics;
use crate::store::{OrgRecord, Store, UserRecord};
use issue::Target;

/// Why no keys could be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Sts(#[from] AwsError),
    /// Mid-revocation, AWS kept issuing sessions dated (by its clock) before the user's cut-off:
    /// those would be denied, so none is handed out. Worth a retry (503).
    #[error("AWS kept issuing sessions dated before the user's revocation cut-off")]
    IssuedBeforeCutOff,
}

/// (user, 64 bits of the session's identity, `TemplateId::short`): cloned without allocating,
/// and bound to the template itself (and for an org template, the organisation) rather than
/// its position in the folder.
type Key = (UserId, u64);

/// Keys as the vend cache holds them.
pub struct Issued {
    pub credentials: Credentials,
    /// The user's row the keys were issued for (its bucket and creation time): an entry left
    /// from a row the user no longer has (deleted and back, in either mode) is never handed
    /// out. Org entries are not dropped with the user's (`drop_cached` knows only the
    /// templates), so this guards them.
    bucket: BucketName,
    user_created: OffsetDateTime,
    /// The vend-audit row of each party these keys went to, by the party's fingerprint.
    audit_rows: Mutex<Vec<(u64, i64)>>,
    /// The `POST /v1/credentials` body for these keys, serialized at their first hand-out
    /// (everything in it is fixed for a cache entry): later hand-outs send the same bytes.
    body: OnceLock<Bytes>,
}

impl Issued {
    fn new(credentials: Credentials, user: &UserRecord) -> Self {
        Self {
            credentials,
            bucket: user.bucket.clone(),
            user_created: user.created_at,
            audit_rows: Mutex::new(Vec::new()),
            body: OnceLock::new(),
        }
    }

    /// The audit row on which these keys' hand-outs to `party` are counted, once written.
    pub fn audit_row(&self, party: u64) -> Option<i64> {
        let rows = self.audit_rows.lock().unwrap_or_else(PoisonError::into_inner);
        rows.iter().find(|(p, _)| *p == party).map(|(_, row)| *row)
    }

    /// True when these keys were issued for `user`'s current row.
    fn for_row(&self, user: &UserRecord) -> bool {
        self.bucket == user.bucket && self.user_created == user.created_at
    }

    /// Records that the hand-outs to `party` are counted on `row`.
    pub fn remember_audit_row(&self, party: u64, row: i64) {
        let mut rows = self.audit_rows.lock().unwrap_or_else(PoisonError::into_inner);
        if !rows.iter().any(|(p, _)| *p == party) {
            rows.push((party, row));
        }
    }

    /// The response body kept for these keys, made by `make` at the first call.
    pub fn body_or_init<E>(&self, make: impl FnOnce() -> Result<Bytes, E>) -> Result<Bytes, E> {
        if let Some(b) = self.body.get() {
            return Ok(b.clone());
        }
        let body = make()?;
        // Under a race the first body kept wins; both are the same document.
        Ok(self.body.get_or_init(|| body).clone())
    }

    /// Bytes of memory an entry holds, for the cache's budget: the keys, the response body it
    /// will keep (the token in base64 and ~400 bytes of names and punctuation), and about 120
    /// bytes of cache bookkeeping.
    fn weight(&self) -> u32 {
        let c = &self.credentials;
        let body = c.access_key_id().len() + c.secret_access_key().len() + c.token_len() + 400;
        let bytes = c.heap_bytes() + std::mem::size_of::<Self>() + body + 120;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// An entry weighs the bytes it holds (see `Issued::weight`).
#[derive(Clone)]
struct ByteWeight;

impl Weighter<Key, Arc<Issued>> for ByteWeight {
    fn weight(&self, _: &Key, c: &Arc<Issued>) -> u64 {
        u64::from(c.weight())
    }
}

/// Keys for one hand-out.
pub struct Found {
    pub issued: Arc<Issued>,
    /// True when no STS call was made for this request.
    pub from_cache: bool,
}

pub struct KeyCache {
    sts: Sts,
    min_remaining: Duration,
    cache: HotCache<Key, Arc<Issued>, ByteWeight, DefaultLifecycle<Key, Arc<Issued>>>,
    /// How long the lease on issuing one set of keys lasts (and others wait for it).
    lease: Duration,
    /// Every template's key (`TemplateId::short`), for dropping a user's entries of every one.
    templates: Vec<u64>,
    store: Store,
    sealer: Arc<Sealer>,
    metrics: Arc<Metrics>,
}

/// What the cache is made of.
pub struct KeyCacheParts {
    pub sts: Sts,
    pub min_remaining: Duration,
    /// `TemplateId::short` of every loaded template.
    pub templates: Vec<u64>,
    pub store: Store,
    pub memory_bytes: u64,
    pub metrics: Arc<Metrics>,
    /// `cache.sealing_keys`, parsed; empty: a random key of this process's own.
    pub sealing_keys: Vec<(u8, [u8; 32])>,
    /// How long one `AssumeRole` may take at most, retries included.
    pub lease: Duration,
}

impl KeyCache {
    pub fn new(parts: KeyCacheParts) -> Result<Self, SealerError> {
        let sealer = Arc::new(Sealer::new(&parts.sealing_keys)?);
        // About 2.5 KiB per entry with AWS's session tokens (`Issued::weight`).
        let estimated = usize::try_from(parts.memory_bytes / 2500).unwrap_or(usize::MAX).max(16);
        let cache = HotCache::new(estimated, parts.memory_bytes, ByteWeight, DefaultLifecycle::default());
        Ok(Self {
            sts: parts.sts,
            min_remaining: parts.min_remaining,
            cache,
            lease: parts.lease,
            templates: parts.templates,
            store: parts.store,
            sealer,
            metrics: parts.metrics,
        })
    }

    /// Keys for `user` (and `org`, for an org template) under `template` made with `claims`,
    /// from the cache while fresh enough.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.user_id, access = template.name()))]
    pub async fn get(
        &self,
        user: &UserRecord,
        org: Option<&OrgRecord>,
        template: &Template,
        claims: &SessionClaims,
    ) -> Result<Found, Arc<KeysError>> {
        let mut id = match org {
            // Bound to the org's cut-off for this member too: after a revocation of the org
            // (or of the member in it) no key made before it is found, in memory or shared.
            Some(org) => Cow::Owned(template.id().for_org(
                &org.org_id,
                org.cut_off_for(&user.user_id).map(OffsetDateTime::unix_timestamp_nanos),
            )),
            None => Cow::Borrowed(template.id()),
        };
        if !claims.is_empty() {
            id = Cow::Owned(id.for_claims(&claims.placeholders, &claims.tags));
        }
        let key = (user.user_id.clone(), id.short());
        let target = Target {
            user,
            org,
            template,
            id,
            claims,
        };
        loop {
            let (fresh, issued) = if let Some(c) = self.cache.get(&key) {
                (false, c)
            } else {
                // Boxed: the STS call's future is large, and the hit path should not carry it.
                Box::pin(self.miss(&key, &target)).await?
            };
            self.metrics.cache_lookup("credentials", !fresh);
            // The expiry timer is coarse; never hand out keys below the promised lifetime.
            if fresh || (self.usable(user, org, &issued.credentials) && issued.for_row(user)) {
                return Ok(Found {
                    issued,
                    from_cache: !fresh,
                });
            }
            self.cache.remove(&key).await;
        }
    }

    /// Fills the cache entry of `key` (one caller per key at a time); true when this call
    /// asked STS.
    async fn miss(&self, key: &Key, target: &Target<'_>) -> Result<(bool, Arc<Issued>), Arc<KeysError>> {
        let called_sts = AtomicBool::new(false);
        let load = self.load(target, &called_sts);
        let (issued, fresh) = Box::pin(self.cache.get_or_load(key, load)).await?;
        Ok((fresh && called_sts.load(Ordering::Relaxed), issued))
    }

    /// True when cached keys may be handed out: enough lifetime left, and not issued before a
    /// revocation of this user's sessions or (org templates) of the org's sessions for them
    /// (the bucket policy denies those).
    fn usable(&self, user: &UserRecord, org: Option<&OrgRecord>, credentials: &Credentials) -> bool {
        let issued = credentials.expiration - self.sts.session_duration();
        let revoked = cut_off(user, org).is_some_and(|before| issued < before);
        !revoked && credentials.remaining() >= self.min_remaining
    }

    /// A session for `user` (and `org`, for an org template) under `template` straight from
    /// STS, never cached nor handed out: revocation probes the storage with one to see its new
    /// policy take effect.
    pub async fn probe_session(
        &self,
        user: &UserRecord,
        org: Option<&OrgRecord>,
        template: &Template,
    ) -> Result<Credentials, AwsError> {
        self.sts
            .assume_role(
                user.into(),
                org.map(OrgRecord::context),
                template,
                &SessionClaims::default(),
            )
            .await
    }

    /// When `credentials` were issued (by AWS's clock: their expiry less the session length).
    pub fn issued_at(&self, credentials: &Credentials) -> OffsetDateTime {
        credentials.expiration - self.sts.session_duration()
    }

    /// Drops this process's cached keys of one user (all templates).
    pub async fn drop_cached(&self, user_id: &UserId) {
        for t in &self.templates {
            self.cache.remove(&(user_id.clone(), *t)).await;
        }
    }

    /// Drops every key this process cached (the shared ones stay: they are checked against
    /// the user's stored row when they are read).
    pub fn drop_all_cached(&self) {
        self.cache.clear();
    }

    /// Drops every cached credential of one user (all templates), the shared ones included.
    pub async fn forget_user(&self, user_id: &UserId) {
        self.drop_cached(user_id).await;
        if let Err(e) = self.store.forget_spilled(user_id).await {
            // Spilled keys are checked against the user's row when they come back
            // (`usable`), so a left-over one is never handed out after a revocation.
            tracing::warn!(user_id = %user_id, error = %e, "dropping spilled credentials failed");
        }
    }
}

/// The instant before which the user's sessions under a template are denied: the user's
/// cut-off, or for an org template the later of it and the org's for the user.
fn cut_off(user: &UserRecord, org: Option<&OrgRecord>) -> Option<OffsetDateTime> {
    let org = org.and_then(|o| o.cut_off_for(&user.user_id));
    user.revoked_before.max(org)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued() -> Issued {
        let c = Credentials::new(
            "ASIAEXAMPLEEXAMPLE12",
            "secret",
            "FwoGZXIvYXdz",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        Issued {
            credentials: c,
            bucket: BucketName::parse("stsvend-a").unwrap(),
            user_created: OffsetDateTime::UNIX_EPOCH,
            audit_rows: Mutex::new(Vec::new()),
            body: OnceLock::new(),
        }
    }

    #[test]
    fn each_party_is_remembered_once_with_its_audit_row() {
        let c = issued();
        assert_eq!(c.audit_row(1), None);
        c.remember_audit_row(1, 10);
        c.remember_audit_row(2, 20);
        c.remember_audit_row(1, 11);
        assert_eq!(
            (c.audit_row(1), c.audit_row(2), c.audit_row(3)),
            (Some(10), Some(20), None)
        );
    }

    #[test]
    fn the_first_body_kept_is_the_one_handed_out() {
        let c = issued();
        let first = c.body_or_init(|| Ok::<_, ()>(Bytes::from_static(b"one"))).unwrap();
        let again = c.body_or_init(|| Ok::<_, ()>(Bytes::from_static(b"two"))).unwrap();
        assert_eq!((&first[..], &again[..]), (&b"one"[..], &b"one"[..]));
    }
}
