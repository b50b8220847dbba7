//! The IAM documents `bootstrap` writes or prints, and how IAM hands them back.

use serde_json::{Value, json};

use crate::identity::AccountId;
use crate::policy::ACCOUNT_CONDITION_KEY;

/// Name of the role's inline permission policy.
pub const PERMISSION_POLICY_NAME: &str = "stsvend-user-buckets";
const POLICY_VERSION: &str = "2012-10-17";

/// Who may assume the role: the service principal only. Tagging is limited to the session
/// tags stsvend sets (the user's, and the organisation's on team sessions), so the service
/// cannot stamp sessions with other principal tags.
pub fn trust_policy(principal_arn: &str, tag_key: &str) -> Value {
    trust_policy_with(principal_arn, tag_key, &[])
}

/// [`trust_policy`], the keys of `[sts.session_tags]` (`claim_tags`) allowed too.
pub fn trust_policy_with(principal_arn: &str, tag_key: &str, claim_tags: &[&str]) -> Value {
    let mut keys = vec![tag_key, crate::aws::sts::ORG_TAG_KEY];
    keys.extend_from_slice(claim_tags);
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "StsvendAssumesRole",
                "Effect": "Allow",
                "Principal": {"AWS": principal_arn},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]
            },
            {
                "Sid": "StsvendTagsSessionWithUserId",
                "Effect": "Allow",
                "Principal": {"AWS": principal_arn},
                "Action": "sts:TagSession",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": keys}}
            }
        ]
    })
}

fn bucket_arns(partition: &str, name_prefix: &str) -> (String, String) {
    (
        format!("arn:{partition}:s3:::{name_prefix}-*"),
        format!("arn:{partition}:s3:::{name_prefix}-*/*"),
    )
}

/// `s3:ResourceAccount` pinned to `account`: bucket names are global, so a grant on
/// `arn:aws:s3:::<name_prefix>-*` alone also reaches buckets of those names in other accounts.
fn in_account(account: &AccountId) -> Value {
    json!({"StringEquals": {ACCOUNT_CONDITION_KEY: account.as_str()}})
}

/// The role's own permissions: the user buckets and their objects in the service's account,
/// nothing else. Each session narrows this further to one bucket through its session policy.
pub fn permission_policy(partition: &str, name_prefix: &str, account: &AccountId) -> Value {
    let (buckets, objects) = bucket_arns(partition, name_prefix);
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "UserBucketsOnly",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [buckets, objects],
            "Condition": in_account(account)
        }]
    })
}

/// What the service principal itself needs: the calls first-login provisioning makes, the admin
/// API's revocation (bucket policy) and deletion (emptying, then deleting a bucket), all on the
/// prefixed buckets only, and assuming the role with a tag and a source identity. The operator
/// attaches this one; bootstrap only prints it. Everything but `CreateBucket` (whose bucket
/// does not exist yet) is pinned to the service's account.
pub fn service_principal_policy(partition: &str, name_prefix: &str, role_arn: &str, account: &AccountId) -> Value {
    let (buckets, objects) = bucket_arns(partition, name_prefix);
    json!({
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "CreateAndConfigureUserBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket",
                    "s3:PutBucketPublicAccessBlock",
                    "s3:PutEncryptionConfiguration",
                    "s3:PutBucketOwnershipControls",
                    "s3:PutBucketCORS",
                    "s3:PutBucketTagging"
                ],
                "Resource": buckets.clone()
            },
            {
                "Sid": "AdminRevokeAndDeleteUserBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:GetBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                    "s3:DeleteBucket"
                ],
                "Resource": buckets,
                "Condition": in_account(account)
            },
            {
                "Sid": "AdminEmptyUserBuckets",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": objects,
                "Condition": in_account(account)
            },
            {
                "Sid": "VendThroughRole",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                "Resource": role_arn
            },
            {
                "Sid": "DoctorReadsRolePolicy",
                "Effect": "Allow",
                "Action": "iam:GetRolePolicy",
                "Resource": role_arn
            },
            {
                "Sid": "DoctorCountsBuckets",
                "Effect": "Allow",
                "Action": "s3:ListAllMyBuckets",
                "Resource": "*"
            }
        ]
    })
}

/// The usage queue's name for buckets named `<name_prefix>-*`.
pub fn usage_queue_name(name_prefix: &str) -> String {
    format!("{name_prefix}-usage")
}

/// The usage queue's policy (issue 25, quotas): only S3 may send, and only for buckets named
/// `<name_prefix>-*` of `account` (bucket names are global: without the account, a stranger's
/// bucket of such a name could send). Nothing else may use the queue through this policy; the
/// service reads and deletes through its own identity's permissions.
pub fn queue_policy(partition: &str, queue_arn: &str, name_prefix: &str, account: &AccountId) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "StsvendBucketsSendEvents",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account.as_str()},
                "ArnLike": {"aws:SourceArn": format!("arn:{partition}:s3:::{name_prefix}-*")}
            }
        }]
    })
}

/// What the service principal needs besides [`service_principal_policy`] when `[quota]` is
/// set: configuring the buckets' notifications, and consuming the usage queue.
pub fn quota_service_statements(partition: &str, name_prefix: &str, queue_arn: &str) -> Value {
    let (buckets, _) = bucket_arns(partition, name_prefix);
    json!([
        {
            "Sid": "QuotaBucketNotifications",
            "Effect": "Allow",
            "Action": ["s3:PutBucketNotification", "s3:GetBucketNotification"],
            "Resource": buckets
        },
        {
            "Sid": "QuotaConsumesUsageQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": queue_arn
        }
    ])
}

/// Parses a policy document as IAM returns it: URL-encoded (RFC 3986) JSON. A document that
/// is plain JSON is accepted too.
pub fn parse_returned(doc: &str) -> Option<Value> {
    percent_decode(doc)
        .and_then(|d| serde_json::from_str(&d).ok())
        .or_else(|| serde_json::from_str(doc).ok())
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Pretty JSON for an operator to read or paste.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_policy_lets_the_service_set_the_claim_tags_and_no_others() {
        let keys = |doc: &Value| doc["Statement"][1]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"].clone();
        let plain = trust_policy("arn:aws:iam::000000000000:user/a", "stsvend-user");
        assert_eq!(keys(&plain), json!(["stsvend-user", "stsvend-org"]));
        let tagged = trust_policy_with("arn:aws:iam::000000000000:user/a", "stsvend-user", &["department"]);
        assert_eq!(keys(&tagged), json!(["stsvend-user", "stsvend-org", "department"]));
    }

    #[test]
    fn returned_documents_are_url_decoded_and_compared_as_json() {
        let doc = trust_policy("arn:aws:iam::000000000000:user/a+b", "stsvend-user");
        // As IAM returns it: every reserved character escaped, `+` included.
        let encoded: String = doc
            .to_string()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert_eq!(parse_returned(&encoded), Some(doc.clone()));
        assert_eq!(parse_returned(&pretty(&doc)), Some(doc));
        assert_eq!(parse_returned("%7B%ZZ"), None);
        assert_eq!(parse_returned("%E2%82"), None);
    }

    #[test]
    fn permissions_are_pinned_to_the_service_account() {
        let account = AccountId::parse("123456789012").unwrap();
        let p = permission_policy("aws", "acme", &account);
        assert_eq!(crate::policy::unpinned_statements(&p, &account), Vec::<String>::new());
        let s = service_principal_policy("aws", "acme", "arn:aws:iam::123456789012:role/r", &account);
        // CreateBucket cannot be pinned: the bucket has no account until it exists; nor can
        // ListAllMyBuckets, which names no bucket.
        assert_eq!(
            crate::policy::unpinned_statements(&s, &account),
            ["CreateAndConfigureUserBuckets", "DoctorCountsBuckets"]
        );
    }

    #[test]
    fn only_s3_may_send_to_the_usage_queue_for_this_accounts_prefixed_buckets() {
        let account = AccountId::parse("123456789012").unwrap();
        let arn = "arn:aws:sqs:eu-west-1:123456789012:acme-usage";
        assert_eq!(usage_queue_name("acme"), "acme-usage");
        let p = queue_policy("aws", arn, "acme", &account);
        let statements = p["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        let s = &statements[0];
        assert_eq!(s["Principal"], json!({"Service": "s3.amazonaws.com"}));
        assert_eq!(
            (s["Action"].as_str(), s["Resource"].as_str()),
            (Some("sqs:SendMessage"), Some(arn))
        );
        assert_eq!(s["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        assert_eq!(s["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:s3:::acme-*");
    }

    #[test]
    fn permissions_reach_only_the_prefixed_buckets() {
        let account = AccountId::parse("000000000001").unwrap();
        let p = permission_policy("aws", "acme", &account);
        assert_eq!(
            p["Statement"][0]["Resource"],
            json!(["arn:aws:s3:::acme-*", "arn:aws:s3:::acme-*/*"])
        );
        let s = service_principal_policy("aws-cn", "acme", "arn:aws-cn:iam::1:role/r", &account);
        let resources: Vec<&str> = s["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| st["Resource"].as_str().unwrap())
            .collect();
        assert_eq!(
            resources,
            [
                "arn:aws-cn:s3:::acme-*",
                "arn:aws-cn:s3:::acme-*",
                "arn:aws-cn:s3:::acme-*/*",
                "arn:aws-cn:iam::1:role/r",
                "arn:aws-cn:iam::1:role/r",
                "*"
            ]
        );
    }
}
