//! `AssumeRole` on behalf of a user, with a credential cache.
//!
//! Credentials are cached per (user, template) and handed out again only while at least
//! `min_remaining` of their lifetime is left. Concurrent misses for one key share a single
//! STS call. The policy text is rendered only on a miss.

mod credentials;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sts::types::Tag;
use moka::Expiry;
use moka::future::Cache;
use time::OffsetDateTime;

use crate::aws::{UpstreamError, observe};
use crate::config::AwsConfig;
use crate::limits::AwsGate;
use crate::policy::{RenderContext, Template};
use crate::store::UserRecord;

pub use credentials::Credentials;

const CACHE_CAPACITY: u64 = 1_000_000;

type Key = (String, String);

/// Evicts an entry when only `min_remaining` of its lifetime is left.
struct UntilMinRemaining(Duration);

impl Expiry<Key, Arc<Credentials>> for UntilMinRemaining {
    fn expire_after_create(&self, _: &Key, value: &Arc<Credentials>, _: Instant) -> Option<Duration> {
        Some(value.remaining().saturating_sub(self.0))
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
    cache: Cache<Key, Arc<Credentials>>,
    gate: Arc<AwsGate>,
}

impl Vendor {
    pub fn new(sts: aws_sdk_sts::Client, aws: &AwsConfig, gate: Arc<AwsGate>) -> Self {
        let min_remaining = Duration::from_secs(aws.min_remaining_seconds);
        Self {
            sts,
            role_arn: aws.role_arn.clone(),
            duration_seconds: i32::try_from(aws.session_duration_seconds).unwrap_or(i32::MAX),
            min_remaining,
            tag_key: aws.session_tag_key.clone(),
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .expire_after(UntilMinRemaining(min_remaining))
                .support_invalidation_closures()
                .build(),
            gate,
        }
    }

    /// Credentials for `user` under `template`, from the cache while fresh enough.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.user_id, access = template.name()))]
    pub async fn vend(&self, user: &UserRecord, template: &Template) -> Result<Vended, Arc<UpstreamError>> {
        let key = (user.user_id.as_str().to_owned(), template.name().to_owned());
        loop {
            // A plain lookup first: the common hit needs no entry (key clone, insert future).
            let (fresh, credentials) = if let Some(c) = self.cache.get(&key).await {
                (false, c)
            } else {
                let entry = self
                    .cache
                    .entry(key.clone())
                    .or_try_insert_with(self.assume_role(user, template))
                    .await?;
                (entry.is_fresh(), entry.into_value())
            };
            self.gate.metrics().cache_lookup("credentials", !fresh);
            // Cached keys from before a revocation of this user's sessions are denied by the
            // bucket policy: replace them.
            let revoked = !fresh
                && user.revoked_before.is_some_and(|before| {
                    credentials.expiration - time::Duration::seconds(i64::from(self.duration_seconds)) < before
                });
            // The expiry timer is coarse; never hand out keys below the promised lifetime.
            if fresh || (!revoked && credentials.remaining() >= self.min_remaining) {
                return Ok(Vended {
                    credentials,
                    from_cache: !fresh,
                });
            }
            self.cache.invalidate(&key).await;
        }
    }

    /// Drops every cached credential of one user (all templates).
    pub fn forget_user(&self, user_id: &str) {
        let user_id = user_id.to_owned();
        // Fails only when invalidation closures are not enabled; the builder enables them.
        let _ = self.cache.invalidate_entries_if(move |k, _| k.0 == user_id);
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
