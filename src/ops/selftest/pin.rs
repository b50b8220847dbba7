//! `account-pin`: every S3 grant stsvend hands out is pinned to the service's account
//! (`s3:ResourceAccount`), in each template and in the role's permission policy. Bucket names
//! are global: a grant without the pin also reaches a bucket of the same name in another
//! account, which nothing done on this account can observe (and AWS emulators ignore the
//! condition), so the documents themselves are read.

use std::time::Instant;

use super::{PROBE_ISSUER, Report};
use crate::config::{Config, StorageMode};
use crate::identity::UserId;
use crate::ops::RoleArn;
use crate::ops::documents::{PERMISSION_POLICY_NAME, parse_returned};
use crate::policy::{ACCOUNT_CONDITION_KEY, PolicySet, TrialNames, TrialStorage, unpinned_statements};

pub async fn check(config: &Config, report: &mut Report) {
    let started = Instant::now();
    let account = config.aws.account_id();
    let mut loose = templates(config);
    let unreadable = match role(config).await {
        Ok(role) => {
            loose.extend(role);
            None
        }
        Err(e) => Some(e),
    };
    if loose.is_empty() && unreadable.is_none() {
        report.pass(
            "account-pin",
            started,
            format!(
                "every template and the role's {PERMISSION_POLICY_NAME} grant S3 in account {account} only ({ACCOUNT_CONDITION_KEY})"
            ),
        );
    } else {
        let mut problems = Vec::new();
        if !loose.is_empty() {
            problems.push(format!(
                "grants without a StringEquals {ACCOUNT_CONDITION_KEY} = {account} condition, which reach buckets of the same names in other accounts: {}",
                loose.join("; ")
            ));
        }
        problems.extend(unreadable);
        report.fail("account-pin", started, problems.join("; "));
    }
}

/// The templates' unpinned statements (or why they could not be read), each rendered as for a
/// probe.
fn templates(config: &Config) -> Vec<String> {
    let set = match PolicySet::for_config(
        &config.policies,
        config.storage.mode == StorageMode::Prefix,
        config.orgs.is_some(),
    ) {
        Ok(set) => set,
        Err(errors) => return errors.iter().map(ToString::to_string).collect(),
    };
    // Org templates are rendered for a made-up organisation, as a team vend would.
    let trial = match TrialStorage::new(
        UserId::derive(PROBE_ISSUER, "account-pin"),
        config.aws.account_id(),
        &TrialNames::of(&config.storage),
    ) {
        Ok(t) => t,
        Err(e) => return vec![e.to_string()],
    };
    let claims = set.trial_claims();
    let ctx = trial.context(&claims);
    let account = config.aws.account_id();
    let mut loose = Vec::new();
    for template in set.all() {
        match serde_json::from_str(&template.render(&ctx)) {
            Ok(doc) => loose.extend(
                unpinned_statements(&doc, &account)
                    .into_iter()
                    .map(|s| format!("template `{}` {s}", template.name())),
            ),
            Err(e) => loose.push(format!("template `{}` renders invalid JSON: {e}", template.name())),
        }
    }
    loose
}

/// The role's permission policy's unpinned statements.
async fn role(config: &Config) -> Result<Vec<String>, String> {
    let role = RoleArn::parse(&config.aws.role_arn).map_err(|e| e.to_string())?;
    let text = crate::aws::iam::Iam::new(&crate::aws::Sdk::load(&config.aws).await)
        .role_policy(&role.name, PERMISSION_POLICY_NAME)
        .await
        .map_err(|e| {
            format!("reading the role's {PERMISSION_POLICY_NAME}: {e} (the service principal's policy grants iam:GetRolePolicy on the role: README, \"Setting up in a real AWS account\")")
        })?
        .ok_or_else(|| {
            format!("the role has no inline policy {PERMISSION_POLICY_NAME} (`stsvend bootstrap` writes it), so its pin cannot be checked")
        })?;
    let doc =
        parse_returned(&text).ok_or_else(|| format!("the role's {PERMISSION_POLICY_NAME} is not readable JSON"))?;
    Ok(unpinned_statements(&doc, &config.aws.account_id())
        .into_iter()
        .map(|s| format!("the role's {PERMISSION_POLICY_NAME} {s}"))
        .collect())
}
