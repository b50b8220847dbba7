//! STS: `AssumeRole` on behalf of a user, the trial sessions of start-up and `doctor`, and who
//! the service's credentials are. What to cache, when to reuse and whom the keys went to is
//! the vend use case's business (`vend`).

mod chaining;
mod credentials;

use std::sync::Arc;

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::types::Tag;
use aws_smithy_runtime_api::http::Response;
use time::OffsetDateTime;

use super::calls::{ANSWERS, CallMetrics, RetryCounter};
use super::gate::AwsGate;
use super::{Error, Sdk, Service};
use crate::config::{AwsConfig, ClaimConfig, StsConfig};
use crate::identity::{AccountId, BucketName, ClaimValue, OrgId, UserId, UserPrefix};
use crate::policy::{
    OrgContext, PolicySet, RenderContext, SessionClaims, Template, TrialNames, TrialStorage, longest_claim_value,
};
use crate::runtime::metrics::Metrics;

pub use chaining::{ROLE_CHAINING_CAP, chaining_refused, is_chaining_refusal};
pub use credentials::Credentials;

/// Why the start-up trial `AssumeRole` stops start-up: every vend would be refused the same.
#[derive(Debug, thiserror::Error)]
pub enum TrialRefused {
    /// The longest template and the session tag pack beyond STS's limit.
    #[error("session policy: {0}")]
    TooLarge(String),
    /// The service runs on role credentials and the duration exceeds the chained-session cap.
    #[error("{0}")]
    RoleChaining(String),
}

/// Session tag carrying the organisation's internal id on org-template sessions, so bucket
/// policies can target an organisation's sessions (`aws:PrincipalTag/stsvend-org`).
pub use crate::config::ORG_TAG_KEY;

/// STS's answer when a session policy and its tags pack beyond its limit.
pub const PACKED_POLICY_TOO_LARGE: &str = "PackedPolicyTooLarge";

/// A failed STS call, classified.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(e: SdkError<E, Response>) -> Error {
    Error::from_sdk(Service::Sts, e)
}

/// The answer was not what STS promises: a bug somewhere, not an outage.
fn malformed(detail: &str) -> Error {
    Error::Internal {
        service: Service::Sts,
        detail: format!("AssumeRole: {detail}"),
    }
}

/// Whose keys, and the storage their session policy is scoped to.
#[derive(Debug, Clone, Copy)]
pub struct Grantee<'a> {
    pub user_id: &'a UserId,
    pub bucket: &'a BucketName,
    /// Prefix mode: the user's prefix of the shared `bucket`.
    pub prefix: Option<&'a UserPrefix>,
}

/// Who the configured credentials are (`GetCallerIdentity`).
#[derive(Debug, Clone)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
}

/// A trial session (`doctor`): its ARN and its keys, for a made-up user.
pub struct Trial {
    pub session_arn: Option<String>,
    pub credentials: Option<Credentials>,
}

pub struct Sts {
    client: aws_sdk_sts::Client,
    /// Trials (start-up, `doctor`) are not vends: their calls are counted apart.
    trial_client: aws_sdk_sts::Client,
    role_arn: String,
    account_id: AccountId,
    duration_seconds: i32,
    tag_key: String,
    /// `[sts.session_tags]`, each at its longest value: what the trials send, so a pack too
    /// large for STS shows at start-up rather than at a vend.
    trial_tags: Vec<(Box<str>, ClaimValue)>,
    gate: Arc<AwsGate>,
}

impl Sts {
    pub fn new(sdk: &Sdk, aws: &AwsConfig, gate: Arc<AwsGate>) -> Self {
        let conf = sdk
            .sts_config()
            .interceptor(RetryCounter(Arc::clone(&gate)))
            .interceptor(CallMetrics::new(Arc::clone(gate.metrics()), ANSWERS))
            .build();
        let trial = sdk
            .sts_config()
            .interceptor(CallMetrics::new(Arc::new(Metrics::new()), ANSWERS))
            .build();
        Self {
            client: aws_sdk_sts::Client::from_conf(conf),
            trial_client: aws_sdk_sts::Client::from_conf(trial),
            role_arn: aws.role_arn.clone(),
            account_id: aws.account_id(),
            duration_seconds: i32::try_from(aws.session_duration_seconds).unwrap_or(i32::MAX),
            tag_key: aws.session_tag_key.clone(),
            trial_tags: Vec::new(),
            gate,
        }
    }

    /// Trials send the configured session tags (`[sts.session_tags]`) at their longest values
    /// (`claims`: `[policies.claims]`, which bounds them), as the longest vend would.
    #[must_use]
    pub fn with_session_tags(
        mut self,
        sts: &StsConfig,
        claims: &std::collections::BTreeMap<String, ClaimConfig>,
    ) -> Self {
        self.trial_tags = sts
            .tags(claims)
            .into_iter()
            .filter_map(|(key, name)| {
                let len = claims.get(name)?.max_len().ok()?;
                Some((key.into(), longest_claim_value(len)?))
            })
            .collect();
        self
    }

    /// How long the sessions this hands out last.
    pub fn session_duration(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.duration_seconds))
    }

    /// The `AssumeRole` request a vend sends, for `user`: `policy` as the session policy, the
    /// user id as session tag, session name and source identity, `seconds` long; for an org
    /// template the org's internal id as the `stsvend-org` tag as well; `tags` from the
    /// token's claims (`[sts.session_tags]`). The start-up trial and `doctor` send exactly
    /// this too.
    fn request(
        &self,
        client: &aws_sdk_sts::Client,
        user: &UserId,
        org: Option<&OrgId>,
        tags: &[(Box<str>, ClaimValue)],
        policy: String,
        seconds: i32,
    ) -> Result<aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder, Error> {
        let tag = |key: &str, value: &str| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| Error::build(Service::Sts, e))
        };
        let mut request = client
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
        for (key, value) in tags {
            request = request.tags(tag(key, value.as_str())?);
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
    pub async fn check_packing(&self, policies: &PolicySet, names: &TrialNames<'_>) -> Result<(), TrialRefused> {
        let refused = |e: String| TrialRefused::TooLarge(e);
        let trial = TrialStorage::new(
            UserId::derive("stsvend", "start-up-trial"),
            self.account_id.clone(),
            names,
        )
        .map_err(|e| refused(e.to_string()))?;
        let claims = policies.trial_claims();
        let Some((template, policy)) = policies.longest(&trial.context(&claims)) else {
            return Ok(());
        };
        match self
            .trial(
                &trial.user,
                template.is_org().then_some(&trial.org),
                policy,
                self.duration_seconds,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(PACKED_POLICY_TOO_LARGE) => Err(TrialRefused::TooLarge(format!(
                "template `{}` and the session tags are too large for STS once packed ({e}); shorten the template, its claims' patterns or [sts.session_tags]",
                template.name()
            ))),
            Err(e) if is_chaining_refusal(&e) => Err(TrialRefused::RoleChaining(chaining_refused(
                u64::try_from(self.duration_seconds).unwrap_or_default(),
            ))),
            Err(e) => {
                tracing::warn!(error = %e, "the start-up trial AssumeRole failed; vends will tell");
                Ok(())
            }
        }
    }

    /// `AssumeRole` exactly as a vend sends it, for a made-up `user` with `policy` as the
    /// session policy, not counted with the vends' calls (start-up, `doctor`).
    pub async fn trial(
        &self,
        user: &UserId,
        org: Option<&OrgId>,
        policy: String,
        seconds: i32,
    ) -> Result<Trial, Error> {
        let _slot = self.gate.assume_role().await?;
        let out = self
            .request(&self.trial_client, user, org, &self.trial_tags, policy, seconds)?
            .send()
            .await
            .map_err(failed)?;
        let credentials = out.credentials.and_then(|c| {
            let expiration = OffsetDateTime::from_unix_timestamp(c.expiration.secs()).ok()?;
            Credentials::new(&c.access_key_id, &c.secret_access_key, &c.session_token, expiration)
        });
        Ok(Trial {
            session_arn: out.assumed_role_user.map(|u| u.arn),
            credentials,
        })
    }

    /// `AssumeRole` of `role_arn` without a session policy or tags, as the caller itself
    /// (`bootstrap`, to see IAM apply a role change). Not counted with the vends' calls.
    pub async fn assume_plain(&self, role_arn: &str, session_name: &str, seconds: i32) -> Result<(), Error> {
        let _slot = self.gate.assume_role().await?;
        self.trial_client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .duration_seconds(seconds)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Who the configured credentials are.
    pub async fn caller_identity(&self) -> Result<CallerIdentity, Error> {
        let _slot = self.gate.call(Service::Sts).await?;
        let out = self.trial_client.get_caller_identity().send().await.map_err(failed)?;
        match (out.arn, out.account) {
            (Some(arn), Some(account)) => Ok(CallerIdentity { arn, account }),
            _ => Err(Error::Internal {
                service: Service::Sts,
                detail: "GetCallerIdentity answered without an ARN or account".to_owned(),
            }),
        }
    }

    /// Fresh keys for `who` under `template`: the template rendered for the user's storage (and
    /// `org`'s, for an org template, and the token's `claims`) as the session policy, the user
    /// id as session tag, session name and source identity, the org id as the `stsvend-org`
    /// tag, and the claims' session tags.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %who.user_id, access = template.name()))]
    pub async fn assume_role(
        &self,
        who: Grantee<'_>,
        org: Option<OrgContext<'_>>,
        template: &Template,
        claims: &SessionClaims,
    ) -> Result<Credentials, Error> {
        let _slot = self.gate.assume_role().await?;
        let policy = template.render(&RenderContext {
            bucket: who.bucket,
            user_id: who.user_id,
            account_id: &self.account_id,
            prefix: who.prefix,
            org,
            claims: &claims.placeholders,
        });
        let out = self
            .request(
                &self.client,
                who.user_id,
                org.map(|o| o.id),
                &claims.tags,
                policy,
                self.duration_seconds,
            )?
            .send()
            .await
            .map_err(failed)?;
        let c = out
            .credentials
            .ok_or_else(|| malformed("response carried no credentials"))?;
        let expiration =
            OffsetDateTime::from_unix_timestamp(c.expiration.secs()).map_err(|e| malformed(&e.to_string()))?;
        tracing::info!(
            user_id = %who.user_id,
            access = template.name(),
            org_id = org.map(|o| o.id.as_str()),
            access_key_id = %c.access_key_id,
            expiration = %expiration,
            "assumed role"
        );
        Credentials::new(&c.access_key_id, &c.secret_access_key, &c.session_token, expiration)
            .ok_or_else(|| malformed("key id or secret longer than 255 bytes"))
    }
}
