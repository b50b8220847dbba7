//! The quota statements of a bucket policy: a Deny of writes to the sessions of owners at or
//! over their storage limit (issue 25), by the session tag every vended session carries (the
//! user id under `aws.session_tag_key`; on a team session also the org id under `stsvend-org`).
//!
//! One statement per kind of owner, listing every id: `StsvendQuotaUsers` on the users'
//! storage, `StsvendQuotaOrgs` on the orgs'. On an owner's own bucket (bucket mode) that is the
//! whole bucket; on a shared bucket (prefix mode) it is the users' or the orgs' root
//! (`users/*`, `orgs/*`), so an owner over their limit still writes to the other kind of
//! storage they reach (a member's own prefix while their org is over, and the org's prefix
//! while the member is over). S3 limits a bucket policy's size, not a statement's values, so a
//! statement is never split.
//!
//! Only `s3:PutObject` is denied: it is the one permission behind every request that adds bytes
//! (`PutObject`, `CopyObject`'s destination, `CreateMultipartUpload`, `UploadPart`,
//! `UploadPartCopy`, `CompleteMultipartUpload`, a POST form). Tagging, ACLs and retention add
//! no stored bytes, and reads, deletes and `AbortMultipartUpload` must keep working so an owner
//! can free space.
//!
//! The revocation statements share the policy and matter more (they end stolen keys), so the
//! quota statements use at most [`QUOTA_POLICY_BYTES`] of it: owners past that are left out
//! (the caller's order says who is denied first) and reported. Every other statement is kept.

use serde_json::{Value, json};

use super::policy::split_policy;
use super::shared::{MAX_BUCKET_POLICY_BYTES, SharedPolicy};
use crate::aws::Error;
use crate::aws::sts::ORG_TAG_KEY;
use crate::identity::{BucketName, Owner};

/// `Sid` prefix of the quota statements: `StsvendQuotaUsers`, `StsvendQuotaOrgs`. Statements
/// with other `Sid`s (the revocations' included) are kept as they are.
pub const QUOTA_SID: &str = "StsvendQuota";

/// What a quota statement denies (see the module's comment for why only this).
pub const QUOTA_WRITE_ACTIONS: &[&str] = &["s3:PutObject"];

/// The most the quota statements may take of a bucket policy (S3 allows
/// [`MAX_BUCKET_POLICY_BYTES`]): the rest stays for the revocations.
pub const QUOTA_POLICY_BYTES: usize = 8 * 1024;

/// An owner to deny and where their storage is in the bucket: `root` is `""` for a bucket of
/// their own, or the root of their prefix in a shared bucket (`users/`, `orgs/`).
#[derive(Debug, Clone, Copy)]
pub struct QuotaOwner<'a> {
    pub owner: &'a Owner,
    pub root: &'a str,
}

/// A bucket's policy with its quota statements rendered.
#[derive(Debug)]
pub struct QuotaPolicy {
    pub policy: SharedPolicy,
    /// How many owners, from the first given, the statements deny; the rest did not fit.
    pub denied: usize,
    /// False when the bucket's policy already holds exactly these quota statements (however
    /// AWS reformatted it): nothing to write.
    pub changed: bool,
}

/// `existing` (the bucket's policy, if any) with its quota statements replaced by a Deny for
/// `over` (in the order they should be denied first), within [`QUOTA_POLICY_BYTES`] for
/// the quota statements and [`MAX_BUCKET_POLICY_BYTES`] for the whole policy.
pub fn render_quota_policy(
    existing: Option<&str>,
    bucket: &BucketName,
    user_tag_key: &str,
    over: &[QuotaOwner<'_>],
) -> Result<QuotaPolicy, Error> {
    render_within(existing, bucket, user_tag_key, over, QUOTA_POLICY_BYTES)
}

fn render_within(
    existing: Option<&str>,
    bucket: &BucketName,
    user_tag_key: &str,
    over: &[QuotaOwner<'_>],
    budget: usize,
) -> Result<QuotaPolicy, Error> {
    let (doc, statements) = split_policy(existing)?;
    let (before, kept): (Vec<Value>, Vec<Value>) = statements.into_iter().partition(is_ours);
    let render = |n: usize| {
        let ours = quota_statements(bucket, user_tag_key, &over[..n]);
        let ours_bytes = ours.iter().map(|s| s.to_string().len() + 1).sum::<usize>();
        let mut all = kept.clone();
        all.extend(ours.iter().cloned());
        let count = all.len();
        let mut full = doc.clone();
        full["Statement"] = Value::Array(all);
        let text = full.to_string();
        let fits = ours_bytes <= budget && text.len() <= MAX_BUCKET_POLICY_BYTES;
        (ours, text, count, fits)
    };
    // Each owner only adds bytes: the most that fit is found by halving.
    let (mut lo, mut hi) = (0, over.len());
    if render(hi).3 {
        lo = hi;
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if render(mid).3 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let (ours, text, statements, fits) = render(lo);
    if !fits {
        // Even without quota statements the policy is over S3's limit: not ours to shrink.
        return Err(Error::PolicyFull {
            users: 0,
            bytes: text.len(),
        });
    }
    Ok(QuotaPolicy {
        changed: normalized(&before) != normalized(&ours),
        denied: lo,
        policy: SharedPolicy {
            text,
            statements,
            moved: Vec::new(),
        },
    })
}

fn is_ours(s: &Value) -> bool {
    s.get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|sid| sid.starts_with(QUOTA_SID))
}

/// The Deny statements for `over`: one for the users, one for the orgs, each only if any.
fn quota_statements(bucket: &BucketName, user_tag_key: &str, over: &[QuotaOwner<'_>]) -> Vec<Value> {
    let kinds = [("Users", user_tag_key, false), ("Orgs", ORG_TAG_KEY, true)];
    kinds
        .into_iter()
        .filter_map(|(name, tag_key, orgs)| {
            let of_kind: Vec<&QuotaOwner<'_>> = over
                .iter()
                .filter(|o| matches!(o.owner, Owner::Org(_)) == orgs)
                .collect();
            if of_kind.is_empty() {
                return None;
            }
            let mut ids: Vec<&str> = of_kind.iter().map(|o| o.owner.id()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut roots: Vec<String> = of_kind
                .iter()
                .map(|o| format!("arn:aws:s3:::{bucket}/{}*", o.root))
                .collect();
            roots.sort_unstable();
            roots.dedup();
            let resource = if roots.len() == 1 {
                json!(roots[0])
            } else {
                json!(roots)
            };
            Some(json!({
                "Sid": format!("{QUOTA_SID}{name}"),
                "Effect": "Deny",
                "Principal": "*",
                "Action": QUOTA_WRITE_ACTIONS,
                "Resource": resource,
                "Condition": {
                    "StringEquals": { format!("aws:PrincipalTag/{tag_key}"): ids },
                },
            }))
        })
        .collect()
}

/// Statements as comparable values, whatever way AWS wrote them back: a one-element list
/// is its element, lists are sorted, `{"AWS": "*"}` is `*`, and statements are in `Sid` order.
fn normalized(statements: &[Value]) -> Vec<Value> {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Array(list) if list.len() == 1 => norm(&list[0]),
            Value::Array(list) => {
                let mut items: Vec<Value> = list.iter().map(norm).collect();
                items.sort_by_key(Value::to_string);
                Value::Array(items)
            }
            Value::Object(map) if map.len() == 1 && map.get("AWS") == Some(&json!("*")) => json!("*"),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
            other => other.clone(),
        }
    }
    let mut out: Vec<Value> = statements.iter().map(norm).collect();
    out.sort_by_key(|s| s.get("Sid").map(Value::to_string));
    out
}

/// The `Sid`s of the quota statements `policy` holds and the ids they deny, for `doctor` and
/// the tests: read as the policy document it is.
pub fn quota_denied_ids(policy: Option<&str>) -> Result<Vec<String>, Error> {
    let (_, statements) = split_policy(policy)?;
    let mut ids: Vec<String> = statements
        .iter()
        .filter(|s| is_ours(s))
        .filter_map(|s| s["Condition"]["StringEquals"].as_object())
        .flat_map(|c| c.values())
        .flat_map(|v| match v {
            Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Value::String(one) => vec![one.clone()],
            _ => Vec::new(),
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

#[cfg(test)]
#[path = "quota_policy_tests.rs"]
mod tests;
