//! What a vend sends STS, tried for a made-up user: every template rendered (valid, within
//! STS's size, each S3 grant pinned to the account), then `AssumeRole` with the longest one.

use super::super::OpsError;
use crate::aws::sts::{PACKED_POLICY_TOO_LARGE, Sts, Trial};
use crate::config::{Config, StorageMode};
use crate::identity::{OrgId, UserId};
use crate::policy::{
    ACCOUNT_CONDITION_KEY, MAX_POLICY_CHARS, PolicySet, TrialNames, TrialStorage, unpinned_statements,
};

/// Every template renders, for a trial user, into a policy STS accepts, each grant pinned to
/// the service's account.
pub(super) fn check_templates(config: &Config) -> Result<(PolicySet, String), String> {
    let set = PolicySet::for_config(
        &config.policies,
        config.storage.mode == StorageMode::Prefix,
        config.orgs.is_some(),
    )
    .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
    let trial = trial_storage(config).map_err(|e| e.to_string())?;
    let claims = set.trial_claims();
    let full = trial.context(&claims);
    let account = config.aws.account_id();
    let mut rendered = Vec::new();
    for template in set.all() {
        let name = template.name();
        let text = template.render(&full);
        let doc = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| format!("`{name}` renders invalid JSON: {e}"))?;
        let loose = unpinned_statements(&doc, &account);
        if !loose.is_empty() {
            return Err(format!(
                "`{name}` grants S3 without a StringEquals {ACCOUNT_CONDITION_KEY} = {{{{account_id}}}} condition in {}: its sessions could reach buckets of the same name in other accounts",
                loose.join(", ")
            ));
        }
        let chars = text.chars().count();
        if chars > MAX_POLICY_CHARS {
            return Err(format!(
                "`{name}` renders to {chars} characters; STS allows {MAX_POLICY_CHARS}"
            ));
        }
        rendered.push(format!("{name} ({chars} chars)"));
    }
    let summary = format!("{} render for a trial user", rendered.join(", "));
    Ok((set, summary))
}

/// `AssumeRole` as a vend does it (session policy, tag, session name, source identity), for a
/// made-up user; returns the session ARN. The longest-rendering template is the one tried:
/// with the session tag it is what STS packs, and the first to fail with
/// `PackedPolicyTooLarge`.
pub(super) async fn trial_assume(
    sts: &Sts,
    config: &Config,
    policies: &PolicySet,
    seconds: i32,
) -> Result<String, String> {
    let trial = trial_storage(config).map_err(|e| e.to_string())?;
    let claims = policies.trial_claims();
    let (template, policy) = policies.longest(&trial.context(&claims)).ok_or("no template")?;
    let out = assume_as(
        sts,
        policy,
        &trial.user,
        template.is_org().then_some(&trial.org),
        seconds,
    )
    .await?;
    Ok(format!(
        "{} (the longest template, `{}`)",
        out.session_arn.unwrap_or_else(|| sts.role_arn().to_owned()),
        template.name()
    ))
}

/// `AssumeRole` exactly as a vend sends it (`Sts::trial`) for a made-up `user` (and org, for
/// an org template), its failure told as doctor tells it: the likely cause named.
pub(super) async fn assume_as(
    sts: &Sts,
    policy: String,
    user: &UserId,
    org: Option<&OrgId>,
    seconds: i32,
) -> Result<Trial, String> {
    sts.trial(user, org, policy, seconds).await.map_err(|e| {
        if e.code() == Some(PACKED_POLICY_TOO_LARGE) {
            format!("{e}: the session policy and the session tag pack beyond STS's limit; shorten the longest template")
        } else if e.is_denied() {
            format!(
                "{}; if the role or its trust policy changed in the last minute, IAM may not have applied it yet (run doctor again shortly), otherwise the role must trust this principal and its policy allow sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity",
                OpsError::from(e)
            )
        } else {
            OpsError::from(e).to_string()
        }
    })
}

/// The made-up user doctor renders templates for, named as the service names storage.
fn trial_storage(config: &Config) -> Result<TrialStorage, crate::identity::IdentityError> {
    TrialStorage::new(
        UserId::derive("doctor", "trial"),
        config.aws.account_id(),
        &TrialNames::of(&config.storage),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_render_for_the_trial_user() {
        let text = include_str!("../../../config.toml");
        let env = [(
            "STSVEND_POLICIES__DIR".to_owned(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies").to_owned(),
        )];
        let config = Config::from_sources("test", text, &env).unwrap();
        let (_, summary) = check_templates(&config).unwrap();
        assert!(
            summary.contains("read-write") && summary.contains("read-only"),
            "{summary}"
        );
    }
}
