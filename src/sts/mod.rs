//! `AssumeRole` on behalf of a user, with a credential cache.
//!
//! Credentials are cached per (user, template) and handed out again only while at least
//! `min_remaining` of their lifetime is left. Concurrent misses for one key share a single
//! STS call. The policy text is rendered only on a miss.
//!
//! The in-memory cache has a byte budget. Entries it evicts for room are sealed and spilled to
//! the database (`spill`, `store::spill`) and come back from there on the user's next vend, so
//! memory stays bounded without a second `AssumeRole` per refresh window.

mod credentials;
mod spill;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_sts::types::Tag;
use quick_cache::{Lifecycle, Weighter};
use time::OffsetDateTime;

use crate::aws::{UpstreamError, observe};
use crate::cache::HotCache;
use crate::config::AwsConfig;
use crate::identity::UserId;
use crate::limits::AwsGate;
use crate::policy::{RenderContext, Template};
use crate::store::{Spilled, Store, UserRecord};

pub use credentials::Credentials;
pub use spill::{RandomUnavailable, Sealer};

/// (user, template index): cloned without allocating.
type Key = (UserId, u8);

/// An entry weighs the bytes it holds (see `Credentials::weight`).
#[derive(Clone)]
struct ByteWeight;

impl Weighter<Key, Arc<Credentials>> for ByteWeight {
    fn weight(&self, _: &Key, c: &Arc<Credentials>) -> u64 {
        u64::from(c.weight())
    }
}

/// Entries pushed out for room are sealed and spilled; removed ones are done with. Entries
/// below `min_remaining` are replaced at their next lookup (`Vendor::usable`) or pushed out.
#[derive(Clone)]
struct SpillOnEvict {
    store: Store,
    sealer: Arc<Sealer>,
}

impl Lifecycle<Key, Arc<Credentials>> for SpillOnEvict {
    type RequestState = ();

    fn on_evict(&self, (): &mut (), key: Key, c: Arc<Credentials>) {
        if c.remaining().is_zero() {
            return;
        }
        if let Some(sealed) = self.sealer.seal(&key.0, key.1, &c) {
            self.store.spill(Spilled {
                user_id: key.0,
                template: key.1,
                expires_at: c.expiration.unix_timestamp(),
                sealed,
            });
        }
    }
}

pub struct Vended {
    pub credentials: Arc<Credentials>,
    /// True when no STS call was made for this request.
    pub from_cache: bool,
}

pub struct Vendor {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    duration_seconds: i32,
    min_remaining: Duration,
    tag_key: String,
    cache: HotCache<Key, Arc<Credentials>, ByteWeight, SpillOnEvict>,
    /// Number of templates, for dropping a user's entries of every one.
    templates: u8,
    gate: Arc<AwsGate>,
    store: Store,
    sealer: Arc<Sealer>,
}

/// Where the cache's entries come from, and how much memory it may hold.
pub struct VendorParts {
    pub sts: aws_sdk_sts::Client,
    pub templates: usize,
    pub gate: Arc<AwsGate>,
    pub store: Store,
    pub memory_bytes: u64,
}

impl Vendor {
    pub fn new(aws: &AwsConfig, parts: VendorParts) -> Result<Self, RandomUnavailable> {
        let min_remaining = Duration::from_secs(aws.min_remaining_seconds);
        let sealer = Arc::new(Sealer::new()?);
        let spill = SpillOnEvict {
            store: parts.store.clone(),
            sealer: Arc::clone(&sealer),
        };
        // About 2.5 KiB per entry with AWS's session tokens (`Credentials::weight`).
        let estimated = usize::try_from(parts.memory_bytes / 2500).unwrap_or(usize::MAX).max(16);
        let cache = HotCache::new(estimated, parts.memory_bytes, ByteWeight, spill);
        Ok(Self {
            sts: parts.sts,
            role_arn: aws.role_arn.clone(),
            duration_seconds: i32::try_from(aws.session_duration_seconds).unwrap_or(i32::MAX),
            min_remaining,
            tag_key: aws.session_tag_key.clone(),
            cache,
            templates: u8::try_from(parts.templates).unwrap_or(u8::MAX),
            gate: parts.gate,
            store: parts.store,
            sealer,
        })
    }

    /// Credentials for `user` under `template`, from the cache while fresh enough.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.user_id, access = template.name()))]
    pub async fn vend(&self, user: &UserRecord, template: &Template) -> Result<Vended, Arc<UpstreamError>> {
        let key = (user.user_id.clone(), template.index());
        loop {
            let (fresh, credentials) = if let Some(c) = self.cache.get(&key) {
                (false, c)
            } else {
                // Boxed: the STS call's future is large, and the hit path should not carry it.
                Box::pin(self.miss(&key, user, template)).await?
            };
            self.gate.metrics().cache_lookup("credentials", !fresh);
            // The expiry timer is coarse; never hand out keys below the promised lifetime.
            if fresh || self.usable(user, &credentials) {
                return Ok(Vended {
                    credentials,
                    from_cache: !fresh,
                });
            }
            self.cache.remove(&key).await;
        }
    }

    /// Fills the cache entry of `key` (one caller per key at a time); true when this call
    /// asked STS.
    async fn miss(
        &self,
        key: &Key,
        user: &UserRecord,
        template: &Template,
    ) -> Result<(bool, Arc<Credentials>), Arc<UpstreamError>> {
        let called_sts = AtomicBool::new(false);
        let load = self.load(user, template, &called_sts);
        let (credentials, fresh) = Box::pin(self.cache.get_or_load(key, load)).await?;
        Ok((fresh && called_sts.load(Ordering::Relaxed), credentials))
    }

    /// True when cached keys may be handed out: enough lifetime left, and not issued before a
    /// revocation of this user's sessions (the bucket policy denies those).
    fn usable(&self, user: &UserRecord, credentials: &Credentials) -> bool {
        let issued = credentials.expiration - time::Duration::seconds(i64::from(self.duration_seconds));
        let revoked = user.revoked_before.is_some_and(|before| issued < before);
        !revoked && credentials.remaining() >= self.min_remaining
    }

    /// A cache miss: the spilled entry when there is a usable one, else `AssumeRole`.
    async fn load(
        &self,
        user: &UserRecord,
        template: &Template,
        called_sts: &AtomicBool,
    ) -> Result<Arc<Credentials>, UpstreamError> {
        match self.store.spilled(&user.user_id, template.index()).await {
            Ok(Some(row)) => {
                let expiration = OffsetDateTime::from_unix_timestamp(row.expires_at).ok();
                let opened = expiration.and_then(|e| self.sealer.open(&user.user_id, row.template, e, &row.sealed));
                if let Some(c) = opened.filter(|c| self.usable(user, c)) {
                    return Ok(Arc::new(c));
                }
            }
            Ok(None) => {}
            // The spill is an optimisation: without it, ask STS.
            Err(e) => tracing::warn!(error = %e, "reading spilled credentials failed"),
        }
        called_sts.store(true, Ordering::Relaxed);
        self.assume_role(user, template).await
    }

    /// Drops every cached credential of one user (all templates).
    pub async fn forget_user(&self, user_id: &UserId) {
        for t in 0..self.templates {
            self.cache.remove(&(user_id.clone(), t)).await;
        }
        if let Err(e) = self.store.forget_spilled(user_id).await {
            // Spilled keys are checked against the user's row when they come back
            // (`usable`), so a left-over one is never handed out after a revocation.
            tracing::warn!(user_id = %user_id, error = %e, "dropping spilled credentials failed");
        }
    }

    async fn assume_role(&self, user: &UserRecord, template: &Template) -> Result<Arc<Credentials>, UpstreamError> {
        let _slot = self.gate.assume_role().await?;
        let policy = template.render(&RenderContext {
            bucket: &user.bucket,
            user_id: &user.user_id,
        });
        let tag = Tag::builder()
            .key(&self.tag_key)
            .value(user.user_id.as_str())
            .build()
            .map_err(|e| UpstreamError::Rejected {
                service: "sts",
                operation: "build",
                code: "ClientError".to_owned(),
                detail: e.to_string(),
            })?;
        let result = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(user.user_id.role_session_name().as_str())
            .source_identity(user.user_id.source_identity().as_str())
            .policy(policy)
            .duration_seconds(self.duration_seconds)
            .tags(tag)
            .send()
            .await;
        let out = observe(self.gate.metrics(), "sts", "AssumeRole", result)?;
        let c = out.credentials.ok_or_else(|| UpstreamError::Rejected {
            service: "sts",
            operation: "AssumeRole",
            code: "NoCredentials".to_owned(),
            detail: "response carried no credentials".to_owned(),
        })?;
        let expiration =
            OffsetDateTime::from_unix_timestamp(c.expiration.secs()).map_err(|e| UpstreamError::Rejected {
                service: "sts",
                operation: "AssumeRole",
                code: "BadExpiration".to_owned(),
                detail: e.to_string(),
            })?;
        tracing::info!(
            user_id = %user.user_id,
            access = template.name(),
            access_key_id = %c.access_key_id,
            expiration = %expiration,
            "assumed role"
        );
        Credentials::new(&c.access_key_id, &c.secret_access_key, &c.session_token, expiration)
            .map(Arc::new)
            .ok_or_else(|| UpstreamError::Rejected {
                service: "sts",
                operation: "AssumeRole",
                code: "BadCredentials".to_owned(),
                detail: "key id or secret longer than 255 bytes".to_owned(),
            })
    }
}
