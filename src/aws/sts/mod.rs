//! `AssumeRole` on behalf of a user, and nothing else: what to cache, when to reuse and whom
//! the keys went to is the vend use case's business (`vend`).

mod credentials;

use std::sync::Arc;

use aws_sdk_sts::types::Tag;
use time::OffsetDateTime;

use crate::aws::gate::AwsGate;
use crate::aws::{UpstreamError, observe};
use crate::config::AwsConfig;
use crate::identity::{AccountId, BucketName, OrgId, OrgPrefix, UserId, UserPrefix};
use crate::policy::{OrgContext, PolicySet, RenderContext, Template};
use crate::store::UserRecord;

pub use credentials::Credentials;

/// Session tag carrying the organisation's internal id on org-template sessions, so bucket
/// policies can target an organisation's sessions (`aws:PrincipalTag/stsvend-org`).
pub const ORG_TAG_KEY: &str = "stsvend-org";

/// STS's answer when a session policy and its tags pack beyond its limit.
pub const PACKED_POLICY_TOO_LARGE: &str = "PackedPolicyTooLarge";

pub struct Sts {
    client: aws_sdk_sts::Client,
    role_arn: String,
    account_id: AccountId,
    duration_seconds: i32,
    tag_key: String,
    gate: Arc<AwsGate>,
}

impl Sts {
    pub fn new(sts: aws_sdk_sts::Client, aws: &AwsConfig, gate: Arc<AwsGate>) -> Self {
        Self {
            client: sts,
            role_arn: aws.role_arn.clone(),
            account_id: aws.account_id(),
            duration_seconds: i32::try_from(aws.session_duration_seconds).unwrap_or(i32::MAX),
            tag_key: aws.session_tag_key.clone(),
            gate,
        }
    }

    /// How long the sessions this hands out last.
    pub fn session_duration(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.duration_seconds))
    }

    /// The `AssumeRole` request a vend sends, for `user`: `policy` as the session policy, the
    /// user id as session tag, session name and source identity, `seconds` long; for an org
    /// template the org's internal id as the `stsvend-org` tag as well. The start-up trial and
    /// `doctor` send exactly this too.
    pub fn request(
        &self,
        user: &UserId,
        org: Option<&OrgId>,
        policy: String,
        seconds: i32,
    ) -> Result<aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder, UpstreamError> {
        let tag = |key: &str, value: &str| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| UpstreamError::Rejected {
                    service: "sts",
                    operation: "build",
                    code: "ClientError".to_owned(),
                    detail: e.to_string(),
                })
        };
        let mut request = self
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(user.role_session_name().as_str())
            .source_identity(user.source_identity().as_str())
            .policy(policy)
            .duration_seconds(seconds)
            .tags(tag(&self.tag_key, user.as_str())?);
        if let Some(org) = org {
            request = request.tags(tag(ORG_TAG_KEY, org.as_str())?);
        }
        Ok(request)
    }

    /// The role sessions are assumed from.
    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// A trial `AssumeRole` at start-up with the longest template and the session tags (the
    /// org's too: org templates are rendered for a made-up org), for a made-up user: STS packs the two, and a pack too large (`PackedPolicyTooLarge`) would
    /// fail every vend. Any other failure is only logged (AWS may be down; vends will tell).
    /// Not counted in the metrics; the keys are dropped.
    pub async fn check_packing(
        &self,
        policies: &PolicySet,
        bucket_prefix: &str,
        prefix_root: &str,
        org_prefix_root: &str,
    ) -> Result<(), String> {
        let user = UserId::derive("stsvend", "start-up-trial");
        let bucket = BucketName::fresh(bucket_prefix).map_err(|e| e.to_string())?;
        let prefix = UserPrefix::for_user(prefix_root, &user).map_err(|e| e.to_string())?;
        let org = OrgId::fresh().map_err(|e| e.to_string())?;
        let org_bucket = BucketName::fresh(bucket_prefix).map_err(|e| e.to_string())?;
        let org_prefix = OrgPrefix::for_org(org_prefix_root, &org).map_err(|e| e.to_string())?;
        let ctx = RenderContext {
            bucket: &bucket,
            user_id: &user,
            account_id: &self.account_id,
            prefix: Some(&prefix),
            org: Some(OrgContext {
                id: &org,
                bucket: &org_bucket,
                prefix: Some(&org_prefix),
            }),
        };
        let Some((template, policy)) = policies.longest(&ctx) else {
            return Ok(());
        };
        let request = self
            .request(&user, template.is_org().then_some(&org), policy, self.duration_seconds)
            .map_err(|e| e.to_string())?;
        match request
            .send()
            .await
            .map_err(|e| UpstreamError::classify("sts", "AssumeRole", &e))
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_rejected_with(PACKED_POLICY_TOO_LARGE) => Err(format!(
                "template `{}` and the session tag are too large for STS once packed ({e}); shorten the template",
                template.name()
            )),
            Err(e) => {
                tracing::warn!(error = %e, "the start-up trial AssumeRole failed; vends will tell");
                Ok(())
            }
        }
    }

    /// Fresh keys for `user` under `template`: the template rendered for the user's bucket (and
    /// `org`'s storage, for an org template) as the session policy, the user id as session tag,
    /// session name and source identity, and the org id as the `stsvend-org` tag.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.user_id, access = template.name()))]
    pub async fn assume_role(
        &self,
        user: &UserRecord,
        org: Option<OrgContext<'_>>,
        template: &Template,
    ) -> Result<Credentials, UpstreamError> {
        let _slot = self.gate.assume_role().await?;
        let policy = template.render(&RenderContext {
            bucket: &user.bucket,
            user_id: &user.user_id,
            account_id: &self.account_id,
            prefix: user.prefix.as_ref(),
            org,
        });
        let org_id = org.map(|o| o.id);
        let result = self
            .request(&user.user_id, org_id, policy, self.duration_seconds)?
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
            org_id = org_id.map(OrgId::as_str),
            access_key_id = %c.access_key_id,
            expiration = %expiration,
            "assumed role"
        );
        Credentials::new(&c.access_key_id, &c.secret_access_key, &c.session_token, expiration).ok_or_else(|| {
            UpstreamError::Rejected {
                service: "sts",
                operation: "AssumeRole",
                code: "BadCredentials".to_owned(),
                detail: "key id or secret longer than 255 bytes".to_owned(),
            }
        })
    }
}
