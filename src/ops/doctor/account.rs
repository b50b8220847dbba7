//! The checks of what `doctor` asks AWS about the account itself: the role's permissions
//! pinned to the account, the buckets used against the quota, and a first login's every S3
//! step done for real on a probe bucket.

use super::Status;
use crate::aws::iam::Iam;
use crate::aws::s3::{Buckets, Created};
use crate::aws::sts::{Credentials, Sts};
use crate::config::Config;
use crate::identity::{BucketName, UserId};
use crate::ops::RoleArn;
use crate::ops::documents::{PERMISSION_POLICY_NAME, parse_returned};
use crate::policy::{ACCOUNT_CONDITION_KEY, PolicySet, RenderContext, unpinned_statements};
use crate::runtime::clock::next_second;

/// The role's permission policy (the one `bootstrap` writes) pins `s3:ResourceAccount` to the
/// service's account. Credentials without `iam:GetRolePolicy` get a warning, not a failure.
pub(super) async fn check_role_pin(iam: &Iam, config: &Config) -> (Status, String) {
    let account = config.aws.account_id();
    let role = match RoleArn::parse(&config.aws.role_arn) {
        Ok(r) => r,
        Err(e) => return (Status::Fail, e.to_string()),
    };
    let doc = match iam.role_policy(&role.name, PERMISSION_POLICY_NAME).await {
        Ok(Some(doc)) => parse_returned(&doc),
        Ok(None) => {
            return (
                Status::Warn,
                format!(
                    "the role has no {PERMISSION_POLICY_NAME}; check that each statement of its policies has a StringEquals {ACCOUNT_CONDITION_KEY} = {account} condition (`stsvend bootstrap` writes it)"
                ),
            );
        }
        Err(e) => {
            return (
                Status::Warn,
                format!(
                    "cannot read the role's {PERMISSION_POLICY_NAME} ({e}); check that each statement has a StringEquals {ACCOUNT_CONDITION_KEY} = {account} condition"
                ),
            );
        }
    };
    let Some(doc) = doc else {
        return (
            Status::Warn,
            format!("the role's {PERMISSION_POLICY_NAME} is not readable JSON"),
        );
    };
    let loose = unpinned_statements(&doc, &account);
    let wide = beyond_name_prefix(&doc, &role.partition, &config.storage.bucket_name_prefix);
    if loose.is_empty() && wide.is_empty() {
        (
            Status::Ok,
            format!(
                "the role's {PERMISSION_POLICY_NAME} reaches buckets named {}-* of account {account} only",
                config.storage.bucket_name_prefix
            ),
        )
    } else if loose.is_empty() {
        (
            Status::Warn,
            format!(
                "the role's {PERMISSION_POLICY_NAME} reaches beyond {}-*: {}; a session policy narrows each session, but the role should not (run `stsvend bootstrap`)",
                config.storage.bucket_name_prefix,
                wide.join(", ")
            ),
        )
    } else {
        (
            Status::Fail,
            format!(
                "the role's {PERMISSION_POLICY_NAME} grants S3 without {ACCOUNT_CONDITION_KEY} = {account} in {}: sessions could reach buckets of the same names in other accounts; run `stsvend bootstrap`",
                loose.join(", ")
            ),
        )
    }
}

/// The resources of `Allow` statements that are not the user buckets or their objects.
fn beyond_name_prefix(doc: &serde_json::Value, partition: &str, name_prefix: &str) -> Vec<String> {
    let ours = format!("arn:{partition}:s3:::{name_prefix}-");
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let mut wide = Vec::new();
    for st in statements.iter().filter(|s| s["Effect"] == "Allow") {
        let resources = match &st["Resource"] {
            serde_json::Value::String(r) => vec![r.clone()],
            serde_json::Value::Array(rs) => rs.iter().filter_map(|r| r.as_str().map(ToOwned::to_owned)).collect(),
            _ => vec!["(no Resource)".to_owned()],
        };
        wide.extend(resources.into_iter().filter(|r| !r.starts_with(&ours)));
    }
    wide
}

/// The account's buckets against `storage.bucket_quota`: every first login makes one, and
/// beyond the quota `CreateBucket` answers `TooManyBuckets`.
pub(super) async fn check_bucket_quota(buckets: &Buckets, config: &Config) -> (Status, String) {
    let quota = u64::from(config.storage.bucket_quota);
    let name_start = format!("{}-", config.storage.bucket_name_prefix);
    let names = match buckets.names().await {
        Ok(names) => names,
        Err(e) => {
            return (
                Status::Warn,
                format!(
                    "cannot count the account's buckets ({e}); the service principal needs s3:ListAllMyBuckets for this check"
                ),
            );
        }
    };
    let total = names.len() as u64;
    let ours = names.iter().filter(|n| n.starts_with(&name_start)).count() as u64;
    let used = format!(
        "{total} buckets in the account ({ours} named {name_start}*) of its quota of {quota} (storage.bucket_quota)"
    );
    if total >= quota {
        (
            Status::Fail,
            format!(
                "{used}: first logins answer 503 bucket_quota_exhausted; delete users or have AWS raise the quota (Service Quotas), then set storage.bucket_quota"
            ),
        )
    } else if total * 10 >= quota * 8 {
        (Status::Warn, format!("{used}: over 80% used"))
    } else {
        (Status::Ok, used)
    }
}

/// Does on a probe bucket, under the configured bucket-name prefix, every S3 step a first login does
/// (create, the five settings) and a revocation writes (the bucket policy), then deletes it:
/// a service policy missing, say, `s3:PutBucketCORS` fails here, naming the call, instead of
/// failing every first login. Nothing is left behind unless the deletion itself is refused.
/// With the templates loaded, it also measures how long the account takes to apply the
/// revocation: a session issued before the cut-off is probed until it is refused.
pub(super) async fn check_first_login(
    buckets: &Buckets,
    sts: &Sts,
    config: &Config,
    policies: Option<&PolicySet>,
) -> Result<String, String> {
    let bucket = BucketName::fresh(&config.storage.bucket_name_prefix).map_err(|e| e.to_string())?;
    let user = UserId::derive("doctor", "first-login");
    let refused = |step: &str, e: &dyn std::fmt::Display| {
        format!(
            "{step} on the probe bucket {bucket}: {e}; the service principal's policy needs it (`stsvend bootstrap --dry-run` prints the policy)"
        )
    };
    match buckets.create(&bucket).await {
        Ok(Created::Yes) => {}
        Ok(Created::TakenByOther | Created::Busy) => {
            return Err(format!("the probe name {bucket} is taken; run doctor again"));
        }
        Ok(Created::QuotaExhausted) => return Err("CreateBucket: the account's bucket quota is used up".to_owned()),
        Err(e) => return Err(refused("CreateBucket", &e)),
    }
    let steps = async {
        buckets
            .configure(&bucket, user.as_str())
            .await
            .map_err(|e| refused("a bucket setting", &e))?;
        let session = match policies {
            Some(p) => probe_session(sts, config, p, &bucket, &user).await,
            None => None,
        };
        let aws_now = buckets.aws_time(&bucket).await.map_err(|e| refused("HeadBucket", &e))?;
        let started = std::time::Instant::now();
        buckets
            .revoke_sessions(&bucket, &config.aws.session_tag_key, &user, next_second(aws_now))
            .await
            .map_err(|e| refused("the revocation statement", &e))?;
        Ok::<String, String>(match session {
            Some(s) if buckets.wait_until_refused(&bucket, "", &s, PROPAGATION_BOUND).await => {
                format!("; a revocation took effect in {} ms", started.elapsed().as_millis())
            }
            Some(_) => format!(
                "; a revocation had not taken effect after {} s (revoke answers 202 meanwhile)",
                PROPAGATION_BOUND.as_secs()
            ),
            None => String::new(),
        })
    };
    let outcome = Box::pin(steps).await;
    let deleted = buckets
        .empty_and_delete(&bucket)
        .await
        .map_err(|e| refused("deleting", &e));
    let propagation = outcome?;
    deleted?;
    Ok(format!(
        "created, configured (public access block, ownership, encryption, CORS, tags), revoked and deleted a probe bucket under {}-{propagation}",
        config.storage.bucket_name_prefix
    ))
}

/// How long doctor waits for a revocation to take effect in the account.
const PROPAGATION_BOUND: std::time::Duration = std::time::Duration::from_secs(30);

/// A session of the default template for the probe user on the probe bucket, if STS gives one
/// (the assume-role check reports why not).
async fn probe_session(
    sts: &Sts,
    config: &Config,
    policies: &PolicySet,
    bucket: &BucketName,
    user: &UserId,
) -> Option<Credentials> {
    let template = policies.get(&config.policies.default)?;
    let policy = template.render(&RenderContext {
        bucket,
        user_id: user,
        account_id: &config.aws.account_id(),
        prefix: None,
        org: None,
        claims: &[],
    });
    super::session::assume_as(sts, policy, user, None, 900)
        .await
        .ok()?
        .credentials
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_beyond_the_prefix_are_named() {
        let doc = serde_json::json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::acme-*", "arn:aws:s3:::acme-*/*"]},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
        ]});
        assert_eq!(beyond_name_prefix(&doc, "aws", "acme"), ["arn:aws:s3:::*"]);
    }
}
