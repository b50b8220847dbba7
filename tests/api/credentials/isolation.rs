//! The heart of the suite: vended keys reach their owner's bucket and nothing else,
//! as enforced by `MiniStack` on real S3 calls.

use aws_sdk_s3::primitives::ByteStream;

use crate::support::figures::Figures;
use crate::support::multipart::upload_in_two_parts;
use crate::support::*;

/// Runs Put, Get, List, Delete and a two-part multipart upload against `bucket` with `s3`,
/// returning the S3 outcome of each ("ok" or the error code).
async fn exercise(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("probe.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await;
    out.push(("PutObject", s3_code(&put)));
    let get = s3.get_object().bucket(bucket).key("probe.txt").send().await;
    out.push(("GetObject", s3_code(&get)));
    let list = s3.list_objects_v2().bucket(bucket).send().await;
    out.push(("ListObjectsV2", s3_code(&list)));

    out.extend(upload_in_two_parts(s3, bucket, "big.bin").await);
    let del = s3.delete_object().bucket(bucket).key("probe.txt").send().await;
    out.push(("DeleteObject", s3_code(&del)));
    out
}

#[tokio::test]
async fn each_users_keys_work_on_their_own_bucket_and_are_denied_on_anothers() {
    let app = TestApp::spawn().await;
    let alice = app.vend(&unique_sub("alice"), None).await;
    let bob = app.vend(&unique_sub("bob"), None).await;
    assert_ne!(alice.bucket, bob.bucket);
    assert_eq!(alice.access, "read-write");

    let alice_s3 = user_s3(&alice);
    for (op, outcome) in exercise(&alice_s3, &alice.bucket).await {
        assert_eq!(outcome, "ok", "alice {op} on her own bucket");
    }
    let on_bob = exercise(&alice_s3, &bob.bucket).await;
    assert!(on_bob.len() >= 5);
    let allowed = on_bob.iter().filter(|(_, outcome)| outcome != "AccessDenied").count() as u64;
    Figures {
        cross_user_attempts: on_bob.len() as u64,
        cross_user_allowed: allowed,
        ..Figures::default()
    }
    .record("isolation");
    for (op, outcome) in on_bob {
        assert_eq!(outcome, "AccessDenied", "alice {op} on bob's bucket");
    }
    // Nor can she see or create other buckets.
    assert_eq!(s3_code(&alice_s3.list_buckets().send().await), "AccessDenied");
    // Even a name inside the role's prefix: the session policy grants no CreateBucket.
    let other = format!("stsvend-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
    assert_eq!(
        s3_code(&alice_s3.create_bucket().bucket(&other).send().await),
        "AccessDenied"
    );
    // Bob's own bucket is untouched and his keys work there.
    let bob_s3 = user_s3(&bob);
    let listed = bob_s3.list_objects_v2().bucket(&bob.bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "alice wrote nothing into bob's bucket");
}

#[tokio::test]
async fn read_only_keys_can_read_but_not_write_or_delete() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("reader");
    let rw = app.vend(&sub, Some("read-write")).await;
    user_s3(&rw)
        .put_object()
        .bucket(&rw.bucket)
        .key("doc.txt")
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .unwrap();

    let ro = app.vend(&sub, Some("read-only")).await;
    assert_eq!(ro.access, "read-only");
    assert_eq!(ro.bucket, rw.bucket);
    assert_ne!(
        ro.access_key_id, rw.access_key_id,
        "each access level has its own session"
    );
    let s3 = user_s3(&ro);
    let got = s3.get_object().bucket(&ro.bucket).key("doc.txt").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"v1");
    assert_eq!(s3_code(&s3.list_objects_v2().bucket(&ro.bucket).send().await), "ok");
    let put = s3
        .put_object()
        .bucket(&ro.bucket)
        .key("new.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(s3_code(&put), "AccessDenied");
    assert_eq!(
        s3_code(&s3.delete_object().bucket(&ro.bucket).key("doc.txt").send().await),
        "AccessDenied"
    );
    assert_eq!(
        s3_code(&s3.create_multipart_upload().bucket(&ro.bucket).key("m").send().await),
        "AccessDenied"
    );
}

#[tokio::test]
async fn a_sub_crafted_to_inject_policy_json_cannot_widen_the_policy() {
    let app = TestApp::spawn().await;
    let victim = app.vend(&unique_sub("victim"), None).await;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    for evil in [
        format!(r#"auth0|{nonce}"}},{{"Effect":"Allow","Action":"s3:*","Resource":"*"}}],"x":"#),
        format!("auth0|{nonce}*"),
        format!("auth0|{nonce}${{aws:username}}"),
        format!(r#"auth0|{nonce}\"*\"}}"#),
        "*".to_owned() + &nonce,
    ] {
        let v = app.vend(&evil, None).await;
        assert!(v.bucket.starts_with("stsvend-") && v.bucket.len() <= 63, "{}", v.bucket);
        let s3 = user_s3(&v);
        let attempts = exercise(&s3, &victim.bucket).await;
        let allowed = attempts.iter().filter(|(_, outcome)| outcome != "AccessDenied").count() as u64;
        Figures {
            cases: 1,
            cross_user_attempts: attempts.len() as u64,
            cross_user_allowed: allowed,
            ..Figures::default()
        }
        .record("policy_injection");
        for (op, outcome) in attempts {
            assert_eq!(outcome, "AccessDenied", "{op} with sub {evil:?} on another bucket");
        }
        // The attacker still gets exactly their own bucket.
        assert_eq!(s3_code(&s3.list_objects_v2().bucket(&v.bucket).send().await), "ok");
    }
}
