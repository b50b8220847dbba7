//! Pre-signed URLs and forms in prefix mode: the key is relative to the user's prefix, so a
//! URL lands under it, and no key written by the caller reaches another user's prefix.

use serde_json::json;

use crate::support::presign::{get, post, put, url_for};
use crate::support::*;

#[tokio::test]
async fn presigned_urls_in_prefix_mode_stay_under_the_users_prefix() {
    let (app, shared) = TestApp::spawn_prefix(Options::default()).await;
    let (alice, bob) = (unique_sub("alice"), unique_sub("bob"));
    let bob_v = app.vend(&bob, None).await;
    put(&app, &bob, "secret.txt", b"bob's".to_vec()).await;

    put(&app, &alice, "notes/a.txt", b"alice's".to_vec()).await;
    let (status, got) = get(&url_for(&app, &alice, "GET", "notes/a.txt").await).await;
    assert_eq!((status, got.as_slice()), (200, b"alice's".as_slice()));
    let alice_v = app.vend(&alice, None).await;
    // The object is under her prefix, where her SDK keys find it.
    let listed = user_s3(&alice_v)
        .list_objects_v2()
        .bucket(&shared)
        .prefix(&alice_v.prefix)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, [format!("{}notes/a.txt", alice_v.prefix)]);

    // Bob's key written out in full is only a name under alice's own prefix.
    let bobs_key = format!("{}secret.txt", bob_v.prefix);
    let (status, _) = get(&url_for(&app, &alice, "GET", &bobs_key).await).await;
    assert_eq!(status, 404, "{bobs_key} is looked up under alice's prefix");
    let token = app.issuer.token(&alice);
    let escape = format!("../{}", bob_v.prefix.trim_start_matches("users/"));
    let (status, body) = post(
        &app,
        "/v1/presign",
        &token,
        json!({"method": "GET", "key": format!("{escape}secret.txt")}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_key")),
        "{body}"
    );
    // Bob's object is as he left it.
    let (status, got) = get(&url_for(&app, &bob, "GET", "secret.txt").await).await;
    assert_eq!((status, got.as_slice()), (200, b"bob's".as_slice()));
}

/// S3 limits the whole key to 1024 bytes; under a prefix a key of 1024 bytes no longer fits, and
/// the answer says so instead of signing a URL S3 would refuse.
#[tokio::test]
async fn a_key_too_long_once_under_the_prefix_gets_a_400() {
    let (app, _shared) = TestApp::spawn_prefix(Options::default()).await;
    let alice = unique_sub("alice");
    let prefix = app.vend(&alice, None).await.prefix;
    let token = app.issuer.token(&alice);
    let longest = "k".repeat(1024 - prefix.len());
    let (status, body) = post(&app, "/v1/presign", &token, json!({"method": "PUT", "key": longest})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &app,
        "/v1/presign",
        &token,
        json!({"method": "PUT", "key": format!("{longest}k")}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_key")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1025 bytes"),
        "{body}"
    );
}
