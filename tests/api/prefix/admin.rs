//! Revoking and deleting users of a shared bucket: the Deny statements live in the shared
//! bucket's policy (grouped by cut-off second, beside the operator's own statements), and a
//! delete empties only the user's prefix.

use serde_json::json;

use crate::support::admin::{
    ADMIN_PERMISSION, admin_call, admin_ok, admin_token, prefix_admin_app, put, revoke_statements, shared_policy,
    user_id_of,
};
use crate::support::*;

#[tokio::test]
async fn revoking_a_prefix_user_denies_only_their_old_keys_and_keeps_the_operators_statements() {
    let (app, shared) = prefix_admin_app().await;
    // The operator's own statement, which stsvend must keep.
    let theirs = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "OperatorsOwn", "Effect": "Deny", "Principal": "*",
        "Action": "s3:PutBucketAcl", "Resource": format!("arn:aws:s3:::{shared}")
    }]});
    service_s3()
        .put_bucket_policy()
        .bucket(&shared)
        .policy(theirs.to_string())
        .send()
        .await
        .unwrap();
    let (alice, bob) = (unique_sub("alice"), unique_sub("bob"));
    let old = app.vend(&alice, None).await;
    let bobs = app.vend(&bob, None).await;
    assert_eq!(put(&old, "before.txt").await, "ok");

    let id = user_id_of(&app, &alice);
    let shown = admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    assert_eq!(shown["revocation"], "in_effect", "{shown}");
    assert_eq!(shown["mode"], "prefix");
    assert_eq!(shown["prefix"], old.prefix);

    assert_eq!(put(&old, "after.txt").await, "AccessDenied", "alice's old keys");
    assert_eq!(put(&bobs, "still.txt").await, "ok", "bob is untouched");
    let new = app.vend(&alice, None).await;
    assert_ne!(new.access_key_id, old.access_key_id);
    assert_eq!(put(&new, "after.txt").await, "ok", "alice's new keys");

    let policy = shared_policy(&shared).await.expect("a bucket policy");
    assert!(policy.to_string().contains("OperatorsOwn"), "{policy}");
    let ours = revoke_statements(&policy);
    assert_eq!(ours.len(), 1, "{policy}");
    assert_eq!(
        ours[0]["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"],
        json!([id])
    );
}

/// Revokes of several users at once are serialised on the policy: none is lost, and users
/// revoked in the same second share one statement.
#[tokio::test]
async fn concurrent_revokes_on_a_shared_bucket_all_hold() {
    let (app, shared) = prefix_admin_app().await;
    let subs: Vec<String> = (0..4).map(|i| unique_sub(&format!("u{i}"))).collect();
    let mut old = Vec::new();
    for s in &subs {
        old.push(app.vend(s, None).await);
    }
    let token = admin_token(&app);
    let revokes = subs.iter().map(|s| {
        let path = format!("/users/{}/revoke", user_id_of(&app, s));
        let (app, token) = (&app, &token);
        async move { admin_call(app, reqwest::Method::POST, &path, token).await }
    });
    for (status, body) in futures::future::join_all(revokes).await {
        assert_eq!(status, 200, "{body}");
    }
    for v in &old {
        assert_eq!(put(v, "x.txt").await, "AccessDenied", "{}", v.prefix);
    }
    let policy = shared_policy(&shared).await.expect("a bucket policy");
    let listed: usize = revoke_statements(&policy)
        .iter()
        .map(|s| {
            s["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(listed, subs.len(), "{policy}");
}

#[tokio::test]
async fn deleting_a_prefix_user_empties_their_prefix_and_leaves_the_bucket_and_others() {
    let (app, shared) = prefix_admin_app().await;
    let (alice, bob) = (unique_sub("alice"), unique_sub("bob"));
    let old = app.vend(&alice, None).await;
    let bobs = app.vend(&bob, None).await;
    for k in ["a.txt", "dir/b.txt", "dir/c.txt"] {
        assert_eq!(put(&old, k).await, "ok");
    }
    user_s3(&old)
        .create_multipart_upload()
        .bucket(&shared)
        .key(format!("{}unfinished.bin", old.prefix))
        .send()
        .await
        .unwrap();
    assert_eq!(put(&bobs, "keep.txt").await, "ok");

    let id = user_id_of(&app, &alice);
    let token = admin_token(&app);
    let (status, body) = admin_call(&app, reqwest::Method::DELETE, &format!("/users/{id}"), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("bucket_not_empty")),
        "{body}"
    );
    let path = format!("/users/{id}?force=true");
    let (status, body) = admin_call(&app, reqwest::Method::DELETE, &path, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objects_deleted"], 3);
    assert_eq!(body["uploads_aborted"], 1);
    assert_eq!(body["prefix"], old.prefix);

    let s3 = service_s3();
    let left = s3
        .list_objects_v2()
        .bucket(&shared)
        .prefix(&old.prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0), "alice's prefix is empty");
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&shared)
        .prefix(&old.prefix)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
    let bob_key = format!("{}keep.txt", bobs.prefix);
    let bob_get = user_s3(&bobs).get_object().bucket(&shared).key(&bob_key).send().await;
    assert_eq!(s3_code(&bob_get), "ok", "bob's object stays");
    assert_eq!(put(&old, "again.txt").await, "AccessDenied", "alice's old keys");
    // "Whose key was this?" still names her bucket and prefix after she is gone.
    let owners = admin_ok(
        &app,
        reqwest::Method::GET,
        &format!("/access-keys/{}", old.access_key_id),
    )
    .await;
    let owner = &owners["vends"][0];
    assert_eq!(owner["user_deleted"], true, "{owners}");
    assert_eq!(owner["bucket"], shared.as_str(), "{owners}");
    assert_eq!(owner["prefix"], old.prefix.as_str(), "{owners}");

    // Alice comes back: the same prefix, new keys that work, old ones still refused.
    let back = app.vend(&alice, None).await;
    assert_ne!(back.access_key_id, old.access_key_id);
    assert_eq!(back.prefix, old.prefix);
    assert_eq!(put(&back, "again.txt").await, "ok");
    assert_eq!(put(&old, "again.txt").await, "AccessDenied");
}

/// Prefix mode empties the user's prefix of the shared bucket: a partly refused
/// `DeleteObjects` there answers 502 `delete_incomplete` as in bucket mode, the shared bucket
/// stays, and a retry completes.
#[tokio::test]
async fn a_prefix_delete_that_aws_partly_refuses_answers_502_delete_incomplete_and_a_retry_completes() {
    let proxy = crate::support::fault_proxy::FaultProxy::start().await;
    let (app, shared) = TestApp::spawn_prefix(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url),
    )
    .await;
    let sub = unique_sub("prefix-del-refused");
    let v = app.vend(&sub, None).await;
    assert_eq!(v.bucket, shared);
    crate::admin::delete::a_partly_refused_delete_answers_502_and_a_retry_completes(&app, &proxy, &sub, &v).await;
    assert_eq!(
        buckets_named(&shared).await,
        std::slice::from_ref(&shared),
        "the shared bucket stays"
    );
    let left = service_s3()
        .list_objects_v2()
        .bucket(&shared)
        .prefix(&v.prefix)
        .send()
        .await
        .unwrap();
    assert!(left.contents().is_empty(), "the prefix is empty");
}
