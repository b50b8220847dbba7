//! Writers of a shared bucket's policy across the fleet: the lease that serialises them, what
//! a writer stalled past it can no longer undo, and a lease that stays taken.

use serde_json::Value;

use crate::support::admin::{ADMIN_PERMISSION, admin_call, admin_ok, admin_token, revocations_in, user_id_of};
use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

/// Ids of the users stsvend's statements in `shared`'s policy deny.
async fn revoked_in_policy(shared: &str) -> Vec<String> {
    revocations_in(shared)
        .await
        .iter()
        .flat_map(|s| {
            s["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writer A's `PutBucketPolicy` is held past its lease; writer B (another replica) revokes Y
/// meanwhile; then A's stale policy reaches S3 after B's. A finds its lease taken since and
/// writes again from the database: Y's statement survives.
#[tokio::test]
async fn a_policy_writer_stalled_past_its_lease_does_not_drop_a_newer_revocation() {
    let proxy = FaultProxy::start().await;
    let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let shared = fresh_shared_bucket(&probe).await;
    let admin = |opts: Options| {
        opts.set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_ADMIN__POLICY_LEASE_SECONDS", "2")
            .prefix_mode(&shared)
    };
    // A's calls may take long (no SDK timeout and retry while it is held): a stall, not a loss.
    let a = TestApp::spawn_with(admin(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "60"),
    ))
    .await;
    let b = TestApp::spawn_with(admin(Options {
        db_dir: Some(a.db_dir.clone()),
        issuer: Some(a.issuer.clone()),
        ..Options::default()
    }))
    .await;
    let (x, y) = (unique_sub("x"), unique_sub("y"));
    a.vend(&x, None).await;
    b.vend(&y, None).await;
    let (x_id, y_id) = (user_id_of(&a, &x), user_id_of(&a, &y));

    let held = proxy.hold_request_line(&format!("PUT /{shared}"), "?policy");
    let token = admin_token(&a);
    let a_revokes_x = {
        let (base, token, path) = (a.base.clone(), token.clone(), format!("/users/{x_id}/revoke"));
        let http = a.http.clone();
        tokio::spawn(async move {
            let resp = http
                .post(format!("{base}/admin/v1{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), held)
        .await
        .expect("writer A never wrote the policy")
        .unwrap();
    // B takes the lease once A's has run out, and writes Y's revocation.
    let (status, body) = admin_call(&b, reqwest::Method::POST, &format!("/users/{y_id}/revoke"), &token).await;
    assert!([200, 202].contains(&status), "{body}");
    assert!(
        revoked_in_policy(&shared).await.contains(&y_id),
        "B wrote Y's statement"
    );
    // A's stale policy reaches S3 now, after B's.
    proxy.release();
    let (status, body) = tokio::time::timeout(std::time::Duration::from_mins(1), a_revokes_x)
        .await
        .expect("writer A never finished")
        .unwrap();
    assert!([200, 202].contains(&status), "{body}");
    let revoked = revoked_in_policy(&shared).await;
    assert!(
        revoked.contains(&y_id),
        "Y's statement was dropped by the stalled writer: {revoked:?}"
    );
    assert!(revoked.contains(&x_id), "{revoked:?}");
}

/// Another writer holding the shared bucket's policy lease past the wait is a busy
/// dependency, not a bug: 503 `service_unavailable` with Retry-After, audited as failed.
#[tokio::test]
async fn a_revoke_that_cannot_get_the_policy_lease_answers_503_with_retry_after() {
    let (app, shared) = TestApp::spawn_prefix(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_ADMIN__POLICY_LEASE_SECONDS", "1"),
    )
    .await;
    let alice = unique_sub("alice");
    app.vend(&alice, None).await;
    // Another replica took the lease and stalled with it (for longer than this one's wait).
    let bucket = stsvend::identity::BucketName::parse(&shared).unwrap();
    assert!(
        app.state
            .store
            .claim_policy_lease(&bucket, 600)
            .await
            .unwrap()
            .is_some()
    );

    let id = user_id_of(&app, &alice);
    let resp = app
        .http
        .post(format!("{}/admin/v1/users/{id}/revoke", app.base))
        .bearer_auth(admin_token(&app))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("service_unavailable")),
        "{body}"
    );
    assert!(
        retry_after.is_some_and(|s| s.parse::<u32>().is_ok_and(|n| n > 0)),
        "Retry-After"
    );
    let audit = admin_ok(&app, reqwest::Method::GET, &format!("/audit?target={id}")).await;
    assert_eq!(audit["actions"][0]["outcome"], "failed", "{audit}");
}
