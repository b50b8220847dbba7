//! When a quota sync cannot do all it was asked: owners past the room left in a shared bucket's
//! policy are left out (the first given are denied), logged and counted; a lease another writer
//! keeps fails the sync as a busy dependency, counted, with the policy unchanged.

use serde_json::json;
use stsvend::aws::s3::{MAX_BUCKET_POLICY_BYTES, QuotaOwner, render_quota_policy};
use stsvend::identity::BucketName;

use super::deny::{series, sids, sync, user};
use crate::orgs::with_orgs;
use crate::support::admin::{ADMIN_PERMISSION, put};
use crate::support::*;

/// `stsvend_quota_deny_errors_total{reason}`.
async fn deny_errors(app: &TestApp, reason: &str) -> u64 {
    series(app, &format!("stsvend_quota_deny_errors_total{{reason=\"{reason}\"}}"))
        .await
        .expect("the series exists from the start")
}

/// A statement of the operator's own that leaves `room` bytes of the policy (S3's 20 KiB).
fn theirs(shared: &str, pad: usize) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OperatorsOwn",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{shared}/never-{}", "x".repeat(pad)),
    }]})
}

#[tokio::test]
async fn owners_past_the_room_left_in_the_policy_are_left_out_logged_and_counted() {
    let (app, shared) = TestApp::spawn_prefix(with_orgs(
        Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION),
    ))
    .await;
    let (a, b) = (unique_sub("a"), unique_sub("b"));
    let (va, vb) = (app.vend(&a, None).await, app.vend(&b, None).await);
    let (oa, ob) = (user(&app, &a), user(&app, &b));
    // Pad the operator's statement so that a Deny of one user fits and one of two does not.
    let bucket = BucketName::parse(&shared).unwrap();
    let render = |pad: usize, n: usize| {
        let text = theirs(&shared, pad).to_string();
        let over = [
            QuotaOwner {
                owner: &oa,
                root: "users/",
            },
            QuotaOwner {
                owner: &ob,
                root: "users/",
            },
        ];
        render_quota_policy(Some(&text), &bucket, "stsvend-user", &over[..n]).unwrap()
    };
    let pad = MAX_BUCKET_POLICY_BYTES - render(0, 1).policy.text.len();
    assert_eq!((render(pad, 1).denied, render(pad, 2).denied), (1, 1), "room for one");
    service_s3()
        .put_bucket_policy()
        .bucket(&shared)
        .policy(theirs(&shared, pad).to_string())
        .send()
        .await
        .unwrap();
    let before = deny_errors(&app, "policy_full").await;

    let synced = sync(&app, &shared, &[oa.clone(), ob.clone()]).await;
    assert_eq!((synced.denied, synced.left_out), (vec![oa], vec![ob]));
    assert_eq!(put(&va, "a.txt").await, "AccessDenied", "the first given is denied");
    assert_eq!(put(&vb, "b.txt").await, "ok", "the one left out still writes");
    assert_eq!(deny_errors(&app, "policy_full").await, before + 1);
    assert_eq!(sids(&shared).await, ["OperatorsOwn", "StsvendQuotaUsers"]);
}

#[tokio::test]
async fn a_sync_that_cannot_get_the_policy_lease_fails_as_unavailable_and_is_counted() {
    let (app, shared) = TestApp::spawn_prefix(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_ADMIN__POLICY_LEASE_SECONDS", "1"),
    )
    .await;
    let a = unique_sub("a");
    let v = app.vend(&a, None).await;
    let bucket = BucketName::parse(&shared).unwrap();
    // Another replica took the lease and stalled with it.
    assert!(
        app.state
            .store
            .claim_policy_lease(&bucket, 600)
            .await
            .unwrap()
            .is_some()
    );
    let before = deny_errors(&app, "policy_busy").await;

    let err = app.state.quota_deny.sync(&bucket, &[user(&app, &a)]).await.unwrap_err();
    assert_eq!(err.code(), "service_unavailable", "{err}");
    assert_eq!(deny_errors(&app, "policy_busy").await, before + 1);
    assert_eq!(put(&v, "still.txt").await, "ok", "nothing was written");
    assert!(sids(&shared).await.is_empty());
}
