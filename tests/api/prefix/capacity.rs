//! What revocations cost in a shared bucket's policy (20 KiB for every user of the bucket):
//! nothing for a user no session of whom can still be alive, and what it does cost is in a
//! metric.

use futures::StreamExt;
use serde_json::Value;
use stsvend::identity::{BucketName, UserId, UserPrefix};
use stsvend::store::{NewUser, VendRecord};

use crate::support::admin::{admin_call, admin_ok, admin_token, prefix_admin_app, put, revocations_in};
use crate::support::*;

/// A prefix-mode user with no session that can be alive: never vended (`vended_long_ago`
/// false), or vended keys that expired an hour ago.
async fn dormant_user(app: &TestApp, shared: &BucketName, name: &str, vended_long_ago: bool) -> UserId {
    let sub = unique_sub(name);
    let id = UserId::derive(&app.issuer.issuer, &sub);
    let prefix = UserPrefix::for_user("users", &id).unwrap();
    app.state
        .store
        .insert_user(&NewUser {
            user_id: &id,
            issuer: &app.issuer.issuer,
            subject: &sub,
            bucket: shared,
            region: "us-east-1",
            prefix: Some(&prefix),
        })
        .await
        .unwrap();
    if vended_long_ago {
        let expired = stsvend::runtime::clock::now() - time::Duration::hours(1);
        app.state
            .store
            .record_vend(VendRecord {
                user_id: id.clone(),
                access_key_id: format!("ASIAOLD{}", &id.as_str()[..13]).to_uppercase(),
                template: "prefix-read-write".to_owned(),
                expiration: expired,
                client_addr: Some("192.0.2.1".to_owned()),
                client_id: None,
                from_cache: false,
                org_id: None,
            })
            .await
            .unwrap();
    }
    id
}

/// 50 deletions of users without a live session record no cut-off and write nothing into the
/// shared policy; a revoke of a live user afterwards fits, holds, and shows in the metric.
#[tokio::test]
async fn deleting_dormant_prefix_users_uses_no_revocation_capacity() {
    let (app, shared) = prefix_admin_app().await;
    let bucket = BucketName::parse(&shared).unwrap();
    let mut dormant = Vec::new();
    for i in 0..50 {
        dormant.push(dormant_user(&app, &bucket, &format!("dormant{i}"), i % 2 == 1).await);
    }
    let token = admin_token(&app);
    let deletes = futures::stream::iter(dormant.iter().map(|id| {
        let (app, token, path) = (&app, &token, format!("/users/{id}"));
        async move { admin_call(app, reqwest::Method::DELETE, &path, token).await }
    }))
    .buffer_unordered(10)
    .collect::<Vec<_>>()
    .await;
    for (status, body) in deletes {
        assert_eq!(status, 200, "{body}");
    }
    let recorded = app
        .state
        .store
        .prefix_revocations(&bucket, time::OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    assert!(
        recorded.is_empty(),
        "{} cut-offs recorded for users without a live session",
        recorded.len()
    );
    assert!(
        revocations_in(&shared).await.is_empty(),
        "nothing written into the policy"
    );

    // A live user's revocation fits and holds.
    let alice = unique_sub("alice");
    let old = app.vend(&alice, None).await;
    let id = UserId::derive(&app.issuer.issuer, &alice);
    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    assert_eq!(shown["revocation"], "in_effect", "{shown}");
    assert_eq!(put(&old, "after.txt").await, "AccessDenied");
    let ours = revocations_in(&shared).await;
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(
        ours[0]["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"],
        serde_json::json!([id.as_str()])
    );
    let bytes = sample(&app.metrics_text().await, "stsvend_shared_bucket_policy_bytes")
        .expect("stsvend_shared_bucket_policy_bytes");
    assert!(bytes > 0.0 && bytes <= 20480.0, "{bytes}");
}

/// A presigned URL is a session too: a user whose only activity is a URL still valid is
/// revoked with a Deny, and the URL stops working.
#[tokio::test]
async fn a_prefix_user_whose_only_session_is_a_presigned_url_is_still_revoked() {
    use crate::support::presign::{get, put as put_via_url, url_for};
    let (app, _shared) = prefix_admin_app().await;
    let sub = unique_sub("presign-only");
    put_via_url(&app, &sub, "doc.txt", b"before".to_vec()).await;
    let old = url_for(&app, &sub, "GET", "doc.txt").await;
    assert_eq!(get(&old).await, (200, b"before".to_vec()));
    let id = UserId::derive(&app.issuer.issuer, &sub);
    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    assert_eq!(shown["revocation"], "in_effect", "{shown}");
    let (status, _) = get(&old).await;
    assert_eq!(status, 403, "the revoked session's URL still worked");
}

/// A revocation without a Deny relies on no key issued before its cut-off leaving afterwards.
/// A replica whose cache still holds the user's older row (the change feed has not reached it
/// yet; here the row is changed behind the service's back) must not hand its cached keys to a
/// new party: it reads the row again after the audit row and withholds them (503), and the
/// next request gets keys issued after the cut-off.
#[tokio::test]
async fn a_prefix_vend_from_a_stale_cache_withholds_keys_issued_before_the_stored_cut_off() {
    let (app, _shared) = prefix_admin_app().await;
    let sub = unique_sub("stale");
    let first = app.vend(&sub, None).await;
    let id = UserId::derive(&app.issuer.issuer, &sub);
    let cut_off = stsvend::runtime::clock::now() + time::Duration::seconds(1);
    let db = rusqlite::Connection::open(app.db_dir.path().join("stsvend.db")).unwrap();
    db.execute(
        "UPDATE users SET revoked_before = ?1 WHERE user_id = ?2",
        rusqlite::params![stsvend::runtime::clock::format_time(cut_off), id.as_str()],
    )
    .unwrap();
    // Another OAuth client of the same user: a new party for the cached keys.
    let mut claims = app.issuer.claims(&sub);
    claims["azp"] = serde_json::json!("another-client");
    let token = sign(&claims, &signing_key(), KID);
    let resp = app.post_credentials(Some(&token), None).await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_ne!(
        body["AccessKeyId"].as_str(),
        Some(first.access_key_id.as_str()),
        "keys issued before the stored cut-off went to a new party ({status})"
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("service_unavailable")),
        "{}",
        body["error"]
    );
    let again = app.post_credentials(Some(&token), None).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["AccessKeyId"].as_str(), Some(first.access_key_id.as_str()));
}
