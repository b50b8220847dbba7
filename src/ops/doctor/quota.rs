//! The `quota` check (issue 25): the usage queue answers, its policy lets only S3 send, for
//! this account's `<bucket_name_prefix>-*` buckets (a policy that lets any other account or
//! bucket send is a FAIL: strangers could inflate or forge usage), and the buckets send their
//! object events to it: the shared bucket in prefix mode, a sample of the users' own buckets
//! in bucket mode.

use serde_json::Value;

use super::Status;
use crate::aws::s3::{Buckets, Notifying};
use crate::aws::sqs::{Sqs, configured_queue_arn};
use crate::config::Config;
use crate::identity::AccountId;
use crate::ops::documents::parse_returned;
use crate::store::{ProvisionState, Store, UserQuery};

/// Users' buckets whose notifications are read in bucket mode.
const SAMPLE: u32 = 20;

/// What is wrong with the queue's policy: empty when only S3 may send, for `account`'s buckets
/// under `source_arn` (`arn:<partition>:s3:::<prefix>-*`).
pub fn policy_findings(policy: &Value, account: &AccountId, source_arn: &str) -> Vec<String> {
    let statements: Vec<&Value> = match &policy["Statement"] {
        Value::Array(a) => a.iter().collect(),
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    let mut findings = Vec::new();
    let mut s3_may_send = false;
    for (i, s) in statements.iter().enumerate() {
        if s["Effect"] != "Allow" {
            continue;
        }
        let name = s["Sid"]
            .as_str()
            .map_or_else(|| format!("statement {i}"), ToOwned::to_owned);
        let principal_is_s3 = s["Principal"] == serde_json::json!({"Service": "s3.amazonaws.com"});
        let condition = &s["Condition"];
        let account_ok = ["StringEquals", "ArnEquals"]
            .iter()
            .any(|op| condition[op]["aws:SourceAccount"] == account.as_str());
        let source_ok = ["ArnLike", "ArnEquals", "StringLike", "StringEquals"].iter().any(|op| {
            condition[op]["aws:SourceArn"]
                .as_str()
                .is_some_and(|arn| arn.starts_with(source_arn.trim_end_matches('*')))
        });
        if !principal_is_s3 {
            findings.push(format!("{name} allows a principal other than s3.amazonaws.com"));
        } else if !account_ok {
            findings.push(format!(
                "{name} lets S3 send for any account's buckets (no aws:SourceAccount = {})",
                account.as_str()
            ));
        } else if !source_ok {
            findings.push(format!(
                "{name} lets S3 send for buckets outside {source_arn} (aws:SourceArn)"
            ));
        } else {
            s3_may_send = true;
        }
    }
    if !s3_may_send && findings.is_empty() {
        findings.push("no statement lets S3 send: no event arrives (`stsvend bootstrap` writes the policy)".to_owned());
    }
    findings
}

/// `None` without `[quota]`.
pub(super) async fn check_quota(sqs: &Sqs, buckets: &Buckets, config: &Config) -> Option<(Status, String)> {
    let quota = config.quota.as_ref()?;
    let partition = config.aws.role_arn.split(':').nth(1).unwrap_or("aws");
    let Some(arn) = configured_queue_arn(&config.aws, &quota.queue_url) else {
        return Some((
            Status::Fail,
            format!(
                "quota.queue_url {} does not end in /<account>/<queue name>",
                quota.queue_url
            ),
        ));
    };
    let attributes = match sqs.attributes(&quota.queue_url).await {
        Ok(a) => a,
        Err(e) => return Some((Status::Fail, format!("the usage queue does not answer: {e}"))),
    };
    let Some(policy) = attributes.policy.as_deref().and_then(parse_returned) else {
        return Some((
            Status::Fail,
            "the usage queue has no policy: S3 cannot send to it (`stsvend bootstrap` writes it)".to_owned(),
        ));
    };
    let source = format!("arn:{partition}:s3:::{}-*", config.storage.bucket_name_prefix);
    let findings = policy_findings(&policy, &config.aws.account_id(), &source);
    if !findings.is_empty() {
        return Some((
            Status::Fail,
            format!("the usage queue's policy: {}", findings.join("; ")),
        ));
    }
    let notified = match config.storage.shared_bucket() {
        Some(shared) => match buckets.notifies(&shared, &arn).await {
            Ok(Notifying::Yes) => format!("the shared bucket {shared} sends its object events"),
            Ok(other) => {
                return Some((
                    Status::Fail,
                    format!(
                        "the shared bucket {shared} does not send every object event to the queue ({other:?}); `stsvend bootstrap` sets it"
                    ),
                ));
            }
            Err(e) => {
                return Some((
                    Status::Warn,
                    format!("cannot read the shared bucket's notifications ({e})"),
                ));
            }
        },
        None => match sample_buckets(buckets, config, &arn).await {
            Ok(line) => line,
            Err(reason) => return Some((Status::Warn, reason)),
        },
    };
    Some((
        Status::Ok,
        format!("queue {arn} answers, only S3 may send for {source} of this account; {notified}"),
    ))
}

/// Reads the notifications of up to [`SAMPLE`] ready users' own buckets.
async fn sample_buckets(buckets: &Buckets, config: &Config, arn: &str) -> Result<String, String> {
    let store = Store::connect(&config.database)
        .await
        .map_err(|e| format!("cannot read the users ({e})"))?;
    let users = store
        .list_users(UserQuery {
            search: None,
            after: None,
            limit: SAMPLE,
        })
        .await
        .map_err(|e| format!("cannot read the users ({e})"))?;
    let own: Vec<_> = users
        .into_iter()
        .filter(|(u, _)| u.state == ProvisionState::Ready && u.prefix.is_none())
        .map(|(u, _)| u.bucket)
        .collect();
    let mut silent = Vec::new();
    for bucket in &own {
        match buckets.notifies(bucket, arn).await {
            Ok(Notifying::Yes) => {}
            Ok(_) => silent.push(bucket.to_string()),
            Err(e) => return Err(format!("cannot read {bucket}'s notifications ({e})")),
        }
    }
    if silent.is_empty() {
        Ok(format!(
            "the {} users' buckets sampled send their object events",
            own.len()
        ))
    } else {
        Err(format!(
            "{} of {} users' buckets sampled send no object events to the queue (made before [quota]?): {}; their usage is counted by reconciliation only",
            silent.len(),
            own.len(),
            silent.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ops::documents::queue_policy;

    #[test]
    fn only_the_bootstrap_policy_passes() {
        let account = AccountId::parse("123456789012").unwrap();
        let source = "arn:aws:s3:::acme-*";
        let good = queue_policy("aws", "arn:aws:sqs:us-east-1:123456789012:acme-usage", "acme", &account);
        assert_eq!(policy_findings(&good, &account, source), Vec::<String>::new());
        let mut any_account = good.clone();
        any_account["Statement"][0]["Condition"]
            .as_object_mut()
            .unwrap()
            .remove("StringEquals");
        assert!(policy_findings(&any_account, &account, source)[0].contains("any account"));
        let mut any_bucket = good.clone();
        any_bucket["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] = json!("arn:aws:s3:::*");
        assert!(policy_findings(&any_bucket, &account, source)[0].contains("outside"));
        let mut anyone = good.clone();
        anyone["Statement"][0]["Principal"] = json!("*");
        assert!(policy_findings(&anyone, &account, source)[0].contains("other than"));
        let empty = json!({"Statement": []});
        assert!(policy_findings(&empty, &account, source)[0].contains("no statement"));
    }
}
