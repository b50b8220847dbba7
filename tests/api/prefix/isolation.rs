//! The isolation test in prefix mode: a user's keys work under their own prefix of the shared
//! bucket and are refused everywhere else in it, however the key or listing is written.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::support::multipart::upload_in_two_parts_outcome;
use crate::support::*;

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let r = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await;
    s3_code(&r)
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    s3_code(&s3.get_object().bucket(bucket).key(key).send().await)
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: Option<&str>) -> String {
    s3_code(
        &s3.list_objects_v2()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_owned))
            .send()
            .await,
    )
}

#[tokio::test]
async fn each_users_keys_work_under_their_own_prefix_and_nowhere_else_in_the_shared_bucket() {
    let (app, shared) = TestApp::spawn_prefix(Options::default()).await;
    let alice = app.vend(&unique_sub("alice"), None).await;
    let bob = app.vend(&unique_sub("bob"), None).await;
    assert_eq!(alice.bucket, bob.bucket);
    assert_ne!(alice.prefix, bob.prefix);
    let (a, b) = (user_s3(&alice), user_s3(&bob));
    let (mine, theirs) = (alice.prefix.as_str(), bob.prefix.as_str());

    // Her own prefix: everything a client does works.
    let own = [
        ("put", put(&a, &shared, &format!("{mine}notes.txt")).await),
        ("put nested", put(&a, &shared, &format!("{mine}dir/sub/f.txt")).await),
        ("get", get(&a, &shared, &format!("{mine}notes.txt")).await),
        ("list own prefix", list(&a, &shared, Some(mine)).await),
        (
            "list under own prefix",
            list(&a, &shared, Some(&format!("{mine}dir/"))).await,
        ),
        (
            "multipart",
            upload_in_two_parts_outcome(&a, &shared, &format!("{mine}big.bin")).await,
        ),
        (
            "delete",
            s3_code(
                &a.delete_object()
                    .bucket(&shared)
                    .key(format!("{mine}notes.txt"))
                    .send()
                    .await,
            ),
        ),
    ];
    for (what, outcome) in own {
        assert_eq!(outcome, "ok", "alice {what} under her own prefix");
    }
    let listed = a.list_objects_v2().bucket(&shared).prefix(mine).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.iter().all(|k| k.starts_with(mine)), "{keys:?}");
    assert!(keys.contains(&format!("{mine}big.bin").as_str()), "{keys:?}");

    // Bob's object, which alice must never reach.
    assert_eq!(put(&b, &shared, &format!("{theirs}secret.txt")).await, "ok");
    // `users/<alice>` without its slash is a stem that `users/<alice>x/` also has.
    let stem = mine.trim_end_matches('/');
    let denied = [
        (
            "put into bob's prefix",
            put(&a, &shared, &format!("{theirs}planted.txt")).await,
        ),
        (
            "get bob's object",
            get(&a, &shared, &format!("{theirs}secret.txt")).await,
        ),
        (
            "delete bob's object",
            s3_code(
                &a.delete_object()
                    .bucket(&shared)
                    .key(format!("{theirs}secret.txt"))
                    .send()
                    .await,
            ),
        ),
        ("list bob's prefix", list(&a, &shared, Some(theirs)).await),
        (
            "multipart into bob's prefix",
            upload_in_two_parts_outcome(&a, &shared, &format!("{theirs}big.bin")).await,
        ),
        ("put at the stem", put(&a, &shared, stem).await),
        (
            "put under a prefix sharing the stem",
            put(&a, &shared, &format!("{stem}x/f.txt")).await,
        ),
        (
            "list a prefix sharing the stem",
            list(&a, &shared, Some(&format!("{stem}x/"))).await,
        ),
        ("list the bare stem", list(&a, &shared, Some(stem)).await),
        ("put at the bucket root", put(&a, &shared, "root.txt").await),
        ("put under the prefix root", put(&a, &shared, "users/f.txt").await),
        ("list without a prefix", list(&a, &shared, None).await),
        ("list the prefix root", list(&a, &shared, Some("users/")).await),
        ("list the empty prefix", list(&a, &shared, Some("")).await),
        (
            "get bucket policy",
            s3_code(&a.get_bucket_policy().bucket(&shared).send().await),
        ),
        (
            "put bucket policy",
            s3_code(
                &a.put_bucket_policy()
                    .bucket(&shared)
                    .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
                    .send()
                    .await,
            ),
        ),
        (
            "put bucket CORS",
            s3_code(
                &a.put_bucket_cors()
                    .bucket(&shared)
                    .cors_configuration(
                        CorsConfiguration::builder()
                            .cors_rules(
                                CorsRule::builder()
                                    .allowed_methods("GET")
                                    .allowed_origins("*")
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .send()
                    .await,
            ),
        ),
        (
            "get bucket ACL",
            s3_code(&a.get_bucket_acl().bucket(&shared).send().await),
        ),
        (
            "delete the bucket",
            s3_code(&a.delete_bucket().bucket(&shared).send().await),
        ),
        (
            "list multipart uploads of the bucket",
            s3_code(&a.list_multipart_uploads().bucket(&shared).send().await),
        ),
    ];
    for (what, outcome) in &denied {
        assert_eq!(outcome, "AccessDenied", "alice: {what}");
    }
    // Bob's object is as he left it.
    let body = b
        .get_object()
        .bucket(&shared)
        .key(format!("{theirs}secret.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    let figures = crate::support::figures::Figures {
        cross_user_attempts: denied.len() as u64,
        cross_user_allowed: denied.iter().filter(|(_, o)| o != "AccessDenied").count() as u64,
        ..Default::default()
    };
    figures.record("prefix_isolation");
}

/// Read-only access in prefix mode reads and lists its own prefix and writes nothing.
#[tokio::test]
async fn read_only_keys_in_prefix_mode_read_their_prefix_and_write_nothing() {
    let (app, shared) = TestApp::spawn_prefix(Options::default()).await;
    let sub = unique_sub("carol");
    let rw = app.vend(&sub, None).await;
    let mine = rw.prefix.clone();
    assert_eq!(put(&user_s3(&rw), &shared, &format!("{mine}doc.txt")).await, "ok");
    let ro = app.vend(&sub, Some("read-only")).await;
    assert_eq!(ro.access, "read-only");
    assert_eq!(ro.prefix, mine);
    let s3 = user_s3(&ro);
    assert_eq!(get(&s3, &shared, &format!("{mine}doc.txt")).await, "ok");
    assert_eq!(list(&s3, &shared, Some(&mine)).await, "ok");
    assert_eq!(put(&s3, &shared, &format!("{mine}new.txt")).await, "AccessDenied");
    let del = s3
        .delete_object()
        .bucket(&shared)
        .key(format!("{mine}doc.txt"))
        .send()
        .await;
    assert_eq!(s3_code(&del), "AccessDenied");
}
