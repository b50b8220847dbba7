//! A quota sync and a revocation writing the same bucket policy from two replicas: whichever
//! one's `PutBucketPolicy` is held (after it read the policy), the other waits for the bucket
//! policy's lease instead of writing a policy the held one would then overwrite, and both
//! statements are in the policy at the end. In both storage modes.

use std::time::Duration;

use stsvend::identity::BucketName;

use super::deny::{Mode, sids, user};
use crate::orgs::with_orgs;
use crate::support::admin::{ADMIN_PERMISSION, admin_token, user_id_of};
use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

/// How long the free writer is given to finish while the other's write is held: without the
/// lease it would finish well within this, and its statement would then be overwritten.
const GIVEN: Duration = Duration::from_secs(3);

/// Replica A (behind the proxy, whose policy writes can be held) and replica B, on one
/// database, in `mode`.
async fn two_replicas(mode: Mode, proxy: &FaultProxy) -> (TestApp, TestApp) {
    let opts = |o: Options| with_orgs(o.set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION));
    let shared = match mode {
        Mode::Bucket => None,
        Mode::Prefix => {
            let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
            Some(fresh_shared_bucket(&probe).await)
        }
    };
    let in_mode = |o: Options| match &shared {
        Some(s) => opts(o).prefix_mode(s),
        None => opts(o),
    };
    let a = TestApp::spawn_with(in_mode(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "60"),
    ))
    .await;
    let b = TestApp::spawn_with(in_mode(Options {
        db_dir: Some(a.db_dir.clone()),
        issuer: Some(a.issuer.clone()),
        ..Options::default()
    }))
    .await;
    (a, b)
}

/// `POST /admin/v1/users/{id}/revoke` on `app`, in a task.
fn revoke_task(app: &TestApp, id: &str) -> tokio::task::JoinHandle<u16> {
    let (http, url, token) = (
        app.http.clone(),
        format!("{}/admin/v1/users/{id}/revoke", app.base),
        admin_token(app),
    );
    tokio::spawn(async move {
        http.post(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

async fn interleaved(mode: Mode, revoke_held: bool) {
    let proxy = FaultProxy::start().await;
    let (a, b) = two_replicas(mode, &proxy).await;
    let sub = unique_sub("u");
    let v = b.vend(&sub, None).await;
    let (owner, id) = (user(&b, &sub), user_id_of(&b, &sub));
    let bucket = BucketName::parse(&v.bucket).unwrap();

    // The held writer: A, whose PutBucketPolicy waits at the proxy after it read the policy.
    let held = proxy.hold_request_line(&format!("PUT /{}", v.bucket), "?policy");
    let (held_task, free_task) = if revoke_held {
        let held_task = revoke_task(&a, &id);
        tokio::time::timeout(Duration::from_secs(20), held)
            .await
            .unwrap()
            .unwrap();
        let deny = std::sync::Arc::clone(&b.state.quota_deny);
        let (bucket, over) = (bucket.clone(), vec![owner.clone()]);
        let free = tokio::spawn(async move {
            deny.sync(&bucket, &over).await.unwrap();
            200
        });
        (held_task, free)
    } else {
        let deny = std::sync::Arc::clone(&a.state.quota_deny);
        let (bucket, over) = (bucket.clone(), vec![owner.clone()]);
        let held_task = tokio::spawn(async move {
            deny.sync(&bucket, &over).await.unwrap();
            200
        });
        tokio::time::timeout(Duration::from_secs(20), held)
            .await
            .unwrap()
            .unwrap();
        (held_task, revoke_task(&b, &id))
    };
    let mut free_task = free_task;
    // Without a shared lease the free writer finishes here, and the held write then undoes it.
    let early = tokio::time::timeout(GIVEN, &mut free_task).await.ok();
    proxy.release();
    let limit = Duration::from_secs(90);
    let held_status = tokio::time::timeout(limit, held_task).await.unwrap().unwrap();
    let free_status = match early {
        Some(done) => done.unwrap(),
        None => tokio::time::timeout(limit, free_task).await.unwrap().unwrap(),
    };
    assert!([200, 202].contains(&held_status) && [200, 202].contains(&free_status));
    let policy = sids(&v.bucket).await;
    assert!(
        policy.iter().any(|s| s == "StsvendQuotaUsers"),
        "the quota Deny was lost: {policy:?}"
    );
    assert!(
        policy.iter().any(|s| s.starts_with("StsvendRevoke")),
        "the revocation was lost: {policy:?}"
    );
}

#[tokio::test]
async fn a_quota_sync_waits_for_a_revoke_holding_a_users_bucket_policy_and_both_statements_stay() {
    Box::pin(interleaved(Mode::Bucket, true)).await;
}

#[tokio::test]
async fn a_revoke_waits_for_a_quota_sync_holding_a_users_bucket_policy_and_both_statements_stay() {
    Box::pin(interleaved(Mode::Bucket, false)).await;
}

#[tokio::test]
async fn a_quota_sync_waits_for_a_revoke_holding_the_shared_bucket_policy_and_both_statements_stay() {
    Box::pin(interleaved(Mode::Prefix, true)).await;
}

#[tokio::test]
async fn a_revoke_waits_for_a_quota_sync_holding_the_shared_bucket_policy_and_both_statements_stay() {
    Box::pin(interleaved(Mode::Prefix, false)).await;
}
