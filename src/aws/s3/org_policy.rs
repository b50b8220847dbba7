//! An organisation's revocations in a bucket policy: sessions of every member issued before the
//! org's cut-off (by the `stsvend-org` session tag), and sessions of one member issued before
//! theirs (by the user session tag), are denied on the org's storage and nowhere else: its own
//! bucket, or in prefix mode its prefix of the shared bucket (the members' own prefixes there
//! stay reachable).
//!
//! The statements are rendered from the cut-offs in the database on each write, replacing only
//! this org's (`Sid` `StsvendOrg<org id>...`); every other statement, the users' revocations
//! of a shared bucket included, is kept as it is. Cut-offs older than the longest session are
//! left out by the caller: nothing issued before them is alive.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::policy::split_policy;
use super::shared::{MAX_BUCKET_POLICY_BYTES, SharedPolicy};
use crate::aws::Error;
use crate::aws::sts::ORG_TAG_KEY;
use crate::identity::{BucketName, OrgId, UserId};
use crate::runtime::clock::format_time;

/// `Sid` prefix of one org's statements: `StsvendOrg<org id>`, then `All` (every member) or
/// `At<unix seconds>` (members revoked at that second), then `Obj` or `List` in prefix mode.
pub const ORG_REVOKE_SID: &str = "StsvendOrg";

/// One organisation's cut-offs still alive, and where its storage is.
pub struct OrgRevocations<'a> {
    pub org_id: &'a OrgId,
    /// Prefix mode: the org's prefix of the shared bucket; `None`: the bucket is the org's own.
    pub prefix: Option<&'a str>,
    /// The user session tag's key (`sts.session_tag_key`).
    pub user_tag_key: &'a str,
    /// Every member's sessions issued before it.
    pub all_before: Option<OffsetDateTime>,
    /// One member's sessions issued before their instant.
    pub members: &'a [(UserId, OffsetDateTime)],
}

/// `existing` (the bucket's policy, if any) with this org's statements replaced by those for
/// `r`, within S3's limit on a bucket policy.
pub fn render_org_policy(
    existing: Option<&str>,
    bucket: &BucketName,
    r: &OrgRevocations<'_>,
) -> Result<SharedPolicy, Error> {
    let (mut doc, mut statements) = split_policy(existing)?;
    let ours = format!("{ORG_REVOKE_SID}{}", r.org_id);
    statements.retain(|s| {
        !s.get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| sid.starts_with(&ours))
    });
    if let Some(before) = r.all_before {
        let tag = (format!("aws:PrincipalTag/{ORG_TAG_KEY}"), json!(r.org_id.as_str()));
        statements.extend(deny(bucket, r.prefix, &format!("{ours}All"), &tag, before));
    }
    let mut groups: BTreeMap<OffsetDateTime, Vec<&str>> = BTreeMap::new();
    for (user, at) in r.members {
        groups.entry(*at).or_default().push(user.as_str());
    }
    for (at, users) in groups {
        let tag = (format!("aws:PrincipalTag/{}", r.user_tag_key), json!(users));
        let sid = format!("{ours}At{}", at.unix_timestamp());
        statements.extend(deny(bucket, r.prefix, &sid, &tag, at));
    }
    let count = statements.len();
    doc["Statement"] = Value::Array(statements);
    let text = doc.to_string();
    if text.len() > MAX_BUCKET_POLICY_BYTES {
        return Err(Error::PolicyFull {
            users: r.members.len() + usize::from(r.all_before.is_some()),
            bytes: text.len(),
        });
    }
    Ok(SharedPolicy {
        text,
        statements: count,
        moved: Vec::new(),
    })
}

/// The Deny of everything on the org's storage to sessions whose tag matches `tag` and which
/// were issued before `before`: one statement on its own bucket; in prefix mode one on the
/// objects under its prefix and one on listing them.
fn deny(
    bucket: &BucketName,
    prefix: Option<&str>,
    sid: &str,
    tag: &(String, Value),
    before: OffsetDateTime,
) -> Vec<Value> {
    let arn = format!("arn:aws:s3:::{bucket}");
    let condition = |extra: Option<(&str, Value)>| {
        let mut c = json!({
            "StringEquals": { tag.0.clone(): tag.1.clone() },
            "DateLessThan": { "aws:TokenIssueTime": format_time(before) },
        });
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        c
    };
    match prefix {
        None => vec![json!({
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": condition(None),
        })],
        Some(prefix) => vec![
            json!({
                "Sid": format!("{sid}Obj"),
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": format!("{arn}/{prefix}*"),
                "Condition": condition(None),
            }),
            json!({
                "Sid": format!("{sid}List"),
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
                "Resource": arn,
                "Condition": condition(Some(("StringLike", json!({ "s3:prefix": format!("{prefix}*") })))),
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn statements(text: &str) -> Vec<Value> {
        serde_json::from_str::<Value>(text).unwrap()["Statement"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[test]
    fn an_org_revocation_denies_its_members_on_its_own_bucket_and_keeps_other_statements() {
        let (org, other) = (OrgId::fresh().unwrap(), OrgId::fresh().unwrap());
        let bucket = BucketName::parse("stsvend-org").unwrap();
        let (m1, m2) = (UserId::derive("https://i/", "a"), UserId::derive("https://i/", "b"));
        let existing = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "TlsOnly", "Effect": "Deny"},
            {"Sid": format!("{ORG_REVOKE_SID}{other}All"), "Effect": "Deny"},
            {"Sid": format!("{ORG_REVOKE_SID}{org}At1"), "Effect": "Deny", "stale": true},
        ]})
        .to_string();
        let members = [(m1.clone(), at(5)), (m2.clone(), at(5))];
        let r = OrgRevocations {
            org_id: &org,
            prefix: None,
            user_tag_key: "stsvend-user",
            all_before: Some(at(0)),
            members: &members,
        };
        let p = render_org_policy(Some(&existing), &bucket, &r).unwrap();
        let list = statements(&p.text);
        let sids: Vec<&str> = list.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(
            sids,
            [
                "TlsOnly".to_owned(),
                format!("{ORG_REVOKE_SID}{other}All"),
                format!("{ORG_REVOKE_SID}{org}All"),
                format!("{ORG_REVOKE_SID}{org}At{}", at(5).unix_timestamp()),
            ]
        );
        assert_eq!(
            list[2]["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-org"],
            org.as_str()
        );
        assert_eq!(
            list[2]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            format_time(at(0))
        );
        assert_eq!(
            list[3]["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"],
            json!([m1.as_str(), m2.as_str()]),
            "members revoked in one second share a statement"
        );
        assert_eq!(
            list[3]["Resource"],
            json!(["arn:aws:s3:::stsvend-org", "arn:aws:s3:::stsvend-org/*"])
        );
        assert_eq!(p.statements, 4);
    }

    #[test]
    fn in_prefix_mode_only_the_orgs_prefix_is_denied() {
        let org = OrgId::fresh().unwrap();
        let bucket = BucketName::parse("stsvend-shared").unwrap();
        let prefix = format!("orgs/{org}/");
        let r = OrgRevocations {
            org_id: &org,
            prefix: Some(&prefix),
            user_tag_key: "stsvend-user",
            all_before: Some(at(0)),
            members: &[],
        };
        let list = statements(&render_org_policy(None, &bucket, &r).unwrap().text);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Resource"], format!("arn:aws:s3:::stsvend-shared/{prefix}*"));
        assert_eq!(list[1]["Resource"], "arn:aws:s3:::stsvend-shared");
        assert_eq!(list[1]["Condition"]["StringLike"]["s3:prefix"], format!("{prefix}*"));
        // Nothing alive: the org's statements go, and a policy without any is empty.
        let none = OrgRevocations { all_before: None, ..r };
        let p = render_org_policy(
            Some(&render_org_policy(None, &bucket, &none).unwrap().text),
            &bucket,
            &none,
        )
        .unwrap();
        assert_eq!(p.statements, 0);
    }
}
