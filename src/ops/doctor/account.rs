//! The checks of what `doctor` asks AWS about the account itself: the role's permissions
//! pinned to the account, the buckets used against the quota, and a first login's every S3
//! step done for real on a probe bucket.

use std::sync::Arc;

use super::Status;
use crate::aws::UpstreamError;
use crate::buckets::{BucketError, Buckets, Created};
use crate::config::Config;
use crate::identity::{BucketName, UserId};
use crate::metrics::Metrics;
use crate::ops::RoleArn;
use crate::ops::documents::{PERMISSION_POLICY_NAME, parse_returned};
use crate::policy::{ACCOUNT_CONDITION_KEY, unpinned_statements};

/// The role's permission policy (the one `bootstrap` writes) pins `s3:ResourceAccount` to the
/// service's account. Credentials without `iam:GetRolePolicy` get a warning, not a failure.
pub(super) async fn check_role_pin(iam: &aws_sdk_iam::Client, config: &Config) -> (Status, String) {
    let account = config.aws.account_id();
    let role = match RoleArn::parse(&config.aws.role_arn) {
        Ok(r) => r,
        Err(e) => return (Status::Fail, e.to_string()),
    };
    let out = iam
        .get_role_policy()
        .role_name(&role.name)
        .policy_name(PERMISSION_POLICY_NAME)
        .send()
        .await;
    let doc = match out {
        Ok(out) => parse_returned(out.policy_document()),
        Err(e) => {
            let e = UpstreamError::classify("iam", "GetRolePolicy", &e);
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
    let wide = beyond_prefix(&doc, &role.partition, &config.storage.bucket_prefix);
    if loose.is_empty() && wide.is_empty() {
        (
            Status::Ok,
            format!(
                "the role's {PERMISSION_POLICY_NAME} reaches buckets named {}-* of account {account} only",
                config.storage.bucket_prefix
            ),
        )
    } else if loose.is_empty() {
        (
            Status::Warn,
            format!(
                "the role's {PERMISSION_POLICY_NAME} reaches beyond {}-*: {}; a session policy narrows each session, but the role should not (run `stsvend bootstrap`)",
                config.storage.bucket_prefix,
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
fn beyond_prefix(doc: &serde_json::Value, partition: &str, prefix: &str) -> Vec<String> {
    let ours = format!("arn:{partition}:s3:::{prefix}-");
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
pub(super) async fn check_bucket_quota(s3: &aws_sdk_s3::Client, config: &Config) -> (Status, String) {
    let quota = u64::from(config.storage.bucket_quota);
    let prefix = format!("{}-", config.storage.bucket_prefix);
    let (mut total, mut ours, mut token) = (0u64, 0u64, None);
    loop {
        let page = match s3.list_buckets().set_continuation_token(token.take()).send().await {
            Ok(page) => page,
            Err(e) => {
                let e = UpstreamError::classify("s3", "ListBuckets", &e);
                return (
                    Status::Warn,
                    format!(
                        "cannot count the account's buckets ({e}); the service principal needs s3:ListAllMyBuckets for this check"
                    ),
                );
            }
        };
        for b in page.buckets() {
            total += 1;
            ours += u64::from(b.name().is_some_and(|n| n.starts_with(&prefix)));
        }
        token = page.continuation_token().map(ToOwned::to_owned);
        if token.is_none() {
            break;
        }
    }
    let used = format!(
        "{total} buckets in the account ({ours} named {prefix}*) of its quota of {quota} (storage.bucket_quota)"
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

/// Does on a probe bucket, under the configured prefix, every S3 step a first login does
/// (create, the five settings) and a revocation writes (the bucket policy), then deletes it:
/// a service policy missing, say, `s3:PutBucketCORS` fails here, naming the call, instead of
/// failing every first login. Nothing is left behind unless the deletion itself is refused.
pub(super) async fn check_first_login(s3: aws_sdk_s3::Client, config: &Config) -> Result<String, String> {
    let buckets = Buckets::new(s3, &config.storage, &config.aws, Arc::new(Metrics::new()));
    let bucket = BucketName::fresh(&config.storage.bucket_prefix).map_err(|e| e.to_string())?;
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
            .configure(&bucket, &user)
            .await
            .map_err(|e| refused("a bucket setting", &e))?;
        buckets
            .revoke_sessions(
                &bucket,
                &config.aws.session_tag_key,
                &user,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| refused("the revocation statement", &e))
    };
    let outcome = steps.await;
    let deleted = buckets
        .empty_and_delete(&bucket)
        .await
        .map_err(|e: BucketError| refused("deleting", &e));
    outcome?;
    deleted?;
    Ok(format!(
        "created, configured (public access block, ownership, encryption, CORS, tags), revoked and deleted a probe bucket under {}-",
        config.storage.bucket_prefix
    ))
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
        assert_eq!(beyond_prefix(&doc, "aws", "acme"), ["arn:aws:s3:::*"]);
    }
}
