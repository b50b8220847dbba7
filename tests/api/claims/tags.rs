//! `[sts.session_tags]`: a claim sent as a session tag is what a bucket policy's
//! `aws:PrincipalTag/<key>` condition reads, so a bucket can admit one department only.

use serde_json::json;

use super::{DEPARTMENT_CLAIM, put, token, vend_as, vended, with_claims};
use crate::support::logs::Captured;
use crate::support::*;

const TRIAL_FAILED: &str = "the start-up trial AssumeRole failed";

/// Denies object reads and writes on `bucket` to every session not tagged `department=sales`.
async fn sales_only(bucket: &str) {
    let arn = format!("arn:aws:s3:::{bucket}/*");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SalesOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": arn,
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/department": "sales"}}
        }]
    });
    service_s3()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
}

/// A new role as `stsvend bootstrap` writes it for a config tagging sessions with
/// `department`: its trust policy lets the service set that tag besides its own (the seeded
/// role's allows only `stsvend-user` and `stsvend-org`, and `MiniStack` enforces it); the service
/// user may assume it through an inline policy of its own (the seeded one names only the
/// seeded role). Its ARN.
async fn role_taggable_with_department() -> String {
    use crate::support::ops::{ACCOUNT, SERVICE_USER_ARN, fresh_role, root_iam};
    use stsvend::ops::documents;
    let (name, arn) = fresh_role();
    let iam = root_iam();
    let trust = documents::trust_policy_with(SERVICE_USER_ARN, "stsvend-user", &["department"]);
    iam.create_role()
        .role_name(&name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let account = stsvend::identity::AccountId::parse(ACCOUNT).unwrap();
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(documents::PERMISSION_POLICY_NAME)
        .policy_document(documents::permission_policy("aws", "stsvend", &account).to_string())
        .send()
        .await
        .unwrap();
    let assume = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            "Resource": arn,
        }]
    });
    iam.put_user_policy()
        .user_name(SERVICE_USER_ARN.rsplit('/').next().unwrap())
        .policy_name(&name)
        .policy_document(assume.to_string())
        .send()
        .await
        .unwrap();
    arn
}

#[tokio::test]
async fn a_claim_sent_as_a_session_tag_is_honoured_by_a_bucket_policy_condition() {
    let dir = tempfile::tempdir().unwrap();
    let role = role_taggable_with_department().await;
    let logs = Captured::default();
    let app = {
        let _capture = logs.install();
        TestApp::spawn_with(with_claims(
            Options::default().set("STSVEND_AWS__ROLE_ARN", &role),
            dir.path(),
        ))
        .await
    };
    assert!(
        !logs.text().contains(TRIAL_FAILED),
        "the trial with the tag passes on a role allowing it: {}",
        logs.text()
    );
    let sub = unique_sub("department");
    let sales = vended(
        &app,
        &token(&app, &sub, &[(DEPARTMENT_CLAIM, json!("sales"))]),
        "read-write",
    )
    .await;
    sales_only(&sales.bucket).await;
    assert_eq!(put(&sales, "a.txt").await, "ok");

    // The same user with another department: a new session, tagged with it, and denied.
    let legal = vended(
        &app,
        &token(&app, &sub, &[(DEPARTMENT_CLAIM, json!("legal"))]),
        "read-write",
    )
    .await;
    assert_ne!(legal.access_key_id, sales.access_key_id);
    assert_eq!(put(&legal, "b.txt").await, "AccessDenied");

    // Without the claim the tag is left out: the session is made, and the condition denies it.
    let (status, body) = vend_as(&app, &token(&app, &sub, &[]), "read-write").await;
    assert_eq!(status, 200, "{body}");
    let untagged: Vended = serde_json::from_value(body).unwrap();
    assert_ne!(untagged.access_key_id, sales.access_key_id);
    assert_eq!(put(&untagged, "c.txt").await, "AccessDenied");

    // And sales again gets the sales session, still allowed.
    let again = vended(
        &app,
        &token(&app, &sub, &[(DEPARTMENT_CLAIM, json!("sales"))]),
        "read-write",
    )
    .await;
    assert_eq!(again.access_key_id, sales.access_key_id);
    assert_eq!(put(&again, "d.txt").await, "ok");
}

/// The start-up trial `AssumeRole` sends the configured tags (at their longest): on the seeded
/// role, whose trust policy predates `[sts.session_tags]` and does not allow `department`,
/// start-up says the trial failed, and tagged vends answer 503 until `bootstrap` runs again,
/// while tokens without the claim (no tag) still get keys.
#[tokio::test]
async fn the_start_up_trial_sends_the_tags_and_says_so_when_the_role_does_not_allow_them() {
    let dir = tempfile::tempdir().unwrap();
    let logs = Captured::default();
    let app = {
        let _capture = logs.install();
        TestApp::spawn_with(with_claims(Options::default(), dir.path())).await
    };
    let text = logs.text();
    assert!(text.contains(TRIAL_FAILED) && text.contains("AccessDenied"), "{text}");
    let sub = unique_sub("untaggable");
    let (status, body) = vend_as(&app, &token(&app, &sub, &[]), "read-write").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = vend_as(
        &app,
        &token(&app, &sub, &[(DEPARTMENT_CLAIM, json!("sales"))]),
        "read-write",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("service_unavailable")),
        "{body}"
    );
}
