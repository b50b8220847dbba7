//! Deleting a user: refused for a full bucket unless forced, the user's sessions denied before
//! the bucket is emptied, every unfinished upload aborted (page by page), and the bucket of a
//! user whose first login never finished removed too.

use futures::StreamExt;
use serde_json::Value;

use crate::support::admin::{admin_app, admin_app_behind, admin_call, admin_ok, admin_token, put, user_id_of};
use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

#[tokio::test]
async fn deleting_a_user_refuses_a_full_bucket_unless_forced() {
    let app = admin_app().await;
    let alice = unique_sub("del-alice");
    let old = app.vend(&alice, None).await;
    assert_eq!(put(&old, "keep.txt").await, "ok");
    let id = user_id_of(&app, &alice);
    let token = admin_token(&app);

    let (status, body) = admin_call(&app, reqwest::Method::DELETE, &format!("/users/{id}"), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("bucket_not_empty"))
    );
    assert_eq!(buckets_named(&old.bucket).await.len(), 1, "nothing changed");

    let (status, body) = admin_call(
        &app,
        reqwest::Method::DELETE,
        &format!("/users/{id}?force=true"),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objects_deleted"], 1);
    assert!(buckets_named(&old.bucket).await.is_empty(), "the bucket is gone");
    let (status, _) = admin_call(&app, reqwest::Method::GET, &format!("/users/{id}"), &token).await;
    assert_eq!(status, 404);

    // The audit still answers for the old key after the user is gone.
    let body = admin_ok(
        &app,
        reqwest::Method::GET,
        &format!("/access-keys/{}", old.access_key_id),
    )
    .await;
    assert_eq!(body["vends"][0]["user_deleted"], true);
    assert_eq!(body["vends"][0]["subject"], alice.as_str());

    // Logging in again gives a new bucket under a new name (a deleted name is never reused:
    // another account may register it), which the old keys cannot reach.
    let new = app.vend(&alice, None).await;
    assert_ne!(new.bucket, old.bucket);
    assert_ne!(new.access_key_id, old.access_key_id);
    assert_eq!(put(&new, "fresh.txt").await, "ok");
    let stale = user_s3(&old)
        .put_object()
        .bucket(&new.bucket)
        .key("stale.txt")
        .body(b"x".to_vec().into())
        .send()
        .await;
    assert_eq!(s3_code(&stale), "AccessDenied");

    let audit = admin_ok(&app, reqwest::Method::GET, &format!("/audit?target={id}")).await;
    let outcomes: Vec<(String, String)> = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("users.show".to_owned(), "refused".to_owned()),
            ("users.delete_forced".to_owned(), "ok".to_owned()),
            ("users.delete".to_owned(), "refused".to_owned()),
        ]
    );
    assert!(
        audit["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["actor"] == "ops-tooling@clients")
    );
}

/// Delete denies the user's sessions and new vends before it empties the bucket: keys the user
/// holds cannot keep writing into a bucket being emptied (which would also make the final
/// `DeleteBucket` fail), and no replica hands out new ones meanwhile.
#[tokio::test]
async fn deleting_denies_the_users_sessions_before_emptying() {
    let proxy = FaultProxy::start().await;
    let app = admin_app_behind(&proxy, &[]).await;
    let alice = unique_sub("del-deny");
    let v = app.vend(&alice, None).await;
    assert_eq!(put(&v, "a.txt").await, "ok");
    let id = user_id_of(&app, &alice);
    // Hold the first listing of the bucket's objects: emptying has begun.
    let held = proxy.hold_request_line(&format!("GET /{}", v.bucket), "list-type=2");
    let token = admin_token(&app);
    let path = format!("/users/{id}?force=true");
    let delete = admin_call(&app, reqwest::Method::DELETE, &path, &token);
    let during = async {
        tokio::time::timeout(std::time::Duration::from_secs(20), held)
            .await
            .expect("emptying never started")
            .unwrap();
        let put_during = put(&v, "during.txt").await;
        let vend_during = app
            .post_credentials(Some(&app.issuer.token(&alice)), None)
            .await
            .status()
            .as_u16();
        proxy.release();
        (put_during, vend_during)
    };
    let ((status, body), (put_during, vend_during)) = tokio::join!(delete, during);
    assert_eq!(put_during, "AccessDenied", "the user's keys still wrote while emptying");
    assert_eq!(vend_during, 403, "keys were vended while emptying");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objects_deleted"], 1);
    assert!(buckets_named(&v.bucket).await.is_empty());
}

/// S3 lists unfinished multipart uploads 1000 at a time: delete aborts all of them.
#[tokio::test]
async fn deleting_aborts_every_unfinished_upload_page_by_page() {
    let app = admin_app().await;
    let sub = unique_sub("del-uploads");
    let v = app.vend(&sub, None).await;
    let s3 = user_s3(&v);
    let started = futures::stream::iter(0..1001)
        .map(|i| {
            let req = s3
                .create_multipart_upload()
                .bucket(&v.bucket)
                .key(format!("part-{i:04}"));
            async move { req.send().await.is_ok() }
        })
        .buffer_unordered(32)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(started, 1001);
    let id = user_id_of(&app, &sub);
    let body = admin_ok(&app, reqwest::Method::DELETE, &format!("/users/{id}?force=true")).await;
    assert_eq!(body["uploads_aborted"], 1001, "{body}");
    assert!(buckets_named(&v.bucket).await.is_empty());
}

/// A first login cut off after `CreateBucket` leaves a `pending` row and a bucket: deleting the
/// user removes both.
#[tokio::test]
async fn deleting_a_pending_user_removes_the_bucket_a_crash_left_behind() {
    let app = admin_app().await;
    let sub = unique_sub("del-pending");
    let (user_id, bucket) = app.crashed_after_create_bucket(&sub).await;

    let body = admin_ok(&app, reqwest::Method::DELETE, &format!("/users/{user_id}")).await;
    assert_eq!(body["bucket"], bucket.as_str());
    assert!(buckets_named(bucket.as_str()).await.is_empty(), "the bucket is gone");
    assert_eq!(app.users_in_db().await, 0);
}

/// A delete that AWS partly refuses (`DeleteObjects` answering 200 with per-key
/// `AccessDenied`: an SCP, a bucket policy or object lock) answers 502 `delete_incomplete`
/// with the count of objects left and AWS's first error code, never a bare 500; the user stays
/// disabled, and deleting again once the cause is gone completes. `app` reaches AWS through
/// `proxy`; `sub` holds two objects in `bucket` (their own, or the shared one in prefix mode).
pub async fn a_partly_refused_delete_answers_502_and_a_retry_completes(
    app: &TestApp,
    proxy: &FaultProxy,
    sub: &str,
    v: &Vended,
) {
    assert_eq!(put(v, "a.txt").await, "ok");
    assert_eq!(put(v, "b.txt").await, "ok");
    let id = user_id_of(app, sub);
    let keys = [format!("{}a.txt", v.prefix), format!("{}b.txt", v.prefix)];
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    proxy.refuse_deleting_objects(&v.bucket, &keys, u32::MAX, "AccessDenied");
    let token = admin_token(app);
    let path = format!("/users/{id}?force=true");

    let (status, body) = admin_call(app, reqwest::Method::DELETE, &path, &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("delete_incomplete")),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["objects_left"], 2, "{body}");
    assert_eq!(body["error"]["details"]["aws_error"], "AccessDenied", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("2 objects"), "{message}");
    assert!(!message.contains("faultproxy"), "no AWS internals: {message}");

    // The user is kept, disabled and revoked: no keys for them meanwhile.
    let shown = admin_ok(app, reqwest::Method::GET, &format!("/users/{id}")).await;
    assert_eq!(shown["state"], "disabled", "{shown}");
    assert!(shown["sessions_revoked_before"].is_string(), "{shown}");
    let vend = app.post_credentials(Some(&app.issuer.token(sub)), None).await;
    assert_eq!(vend.status(), 403);
    let audit = admin_ok(app, reqwest::Method::GET, &format!("/audit?target={id}")).await;
    let delete = audit["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "users.delete_forced")
        .unwrap_or_else(|| panic!("no delete audited: {audit}"));
    assert_eq!(
        (&delete["outcome"], &delete["detail"]),
        (&Value::from("failed"), &Value::from("delete_incomplete")),
        "{audit}"
    );

    // The operator lifts the refusal (bucket policy, object lock); deleting again completes.
    proxy.stop_answering();
    let (status, body) = admin_call(app, reqwest::Method::DELETE, &path, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objects_deleted"], 2, "{body}");
    let (status, _) = admin_call(app, reqwest::Method::GET, &format!("/users/{id}"), &token).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_delete_that_aws_partly_refuses_answers_502_delete_incomplete_and_a_retry_completes() {
    let proxy = FaultProxy::start().await;
    let app = admin_app_behind(&proxy, &[]).await;
    let sub = unique_sub("del-refused");
    let v = app.vend(&sub, None).await;
    a_partly_refused_delete_answers_502_and_a_retry_completes(&app, &proxy, &sub, &v).await;
    assert!(buckets_named(&v.bucket).await.is_empty(), "the bucket is gone");
}

/// A user whose bucket was removed behind stsvend's back (an emulator restarted empty under a
/// kept database; an operator's cleanup): there is nothing to empty or to deny sessions on, so
/// the delete goes through, with or without force, instead of failing on the missing bucket.
#[tokio::test]
async fn deleting_a_user_whose_bucket_is_already_gone_removes_the_user() {
    let app = admin_app().await;
    let sub = unique_sub("del-gone");
    let keys = app.vend(&sub, None).await;
    let id = user_id_of(&app, &sub);
    service_s3().delete_bucket().bucket(&keys.bucket).send().await.unwrap();

    let token = admin_token(&app);
    let (status, body) = admin_call(&app, reqwest::Method::DELETE, &format!("/users/{id}"), &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["objects_deleted"].as_u64(), body["bucket"].as_str()),
        (Some(0), Some(keys.bucket.as_str()))
    );
    let (status, _) = admin_call(&app, reqwest::Method::GET, &format!("/users/{id}"), &token).await;
    assert_eq!(status, 404, "the user is gone");
    let again = app.vend(&sub, None).await;
    assert_ne!(again.bucket, keys.bucket, "a new login gets new storage");
}

/// A row changed in the database behind stsvend's back (issue 22's tampered mappings: here the
/// victim's row moved to the attacker's user id) is refused by the admin actions that act on
/// AWS from it, as by a vend: deleting the "attacker" must not empty and remove the victim's
/// bucket, nor revoke write to its policy. (Disabling touches only the row: allowed, so an
/// operator can stop it while repairing it.)
#[tokio::test]
async fn admin_actions_refuse_a_tampered_row_and_touch_no_bucket() {
    let app = admin_app().await;
    let victim = unique_sub("del-victim");
    let keys = app.vend(&victim, None).await;
    assert_eq!(put(&keys, "precious.txt").await, "ok");
    let victim_id = user_id_of(&app, &victim);
    let attacker_id = user_id_of(&app, &unique_sub("del-attacker"));
    let db = app.db_dir.path().join("stsvend.db");
    let moved = rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE users SET user_id = ?1 WHERE user_id = ?2",
            [attacker_id.as_str(), victim_id.as_str()],
        )
        .unwrap();
    assert_eq!(moved, 1);
    let token = admin_token(&app);

    let mut outcomes = Vec::new();
    for (method, path) in [
        (reqwest::Method::POST, format!("/users/{attacker_id}/revoke")),
        (reqwest::Method::DELETE, format!("/users/{attacker_id}?force=true")),
    ] {
        let (status, body) = admin_call(&app, method, &path, &token).await;
        outcomes.push((path, status, body["error"]["code"].as_str().map(str::to_owned)));
    }
    let expected: Vec<_> = outcomes
        .iter()
        .map(|(path, _, _)| (path.clone(), 500, Some("internal".to_owned())))
        .collect();
    assert_eq!(outcomes, expected, "each action on the tampered row is refused");
    assert_eq!(buckets_named(&keys.bucket).await.len(), 1, "the victim's bucket stands");
    let got = user_s3(&keys)
        .get_object()
        .bucket(&keys.bucket)
        .key("precious.txt")
        .send()
        .await;
    assert!(
        got.is_ok(),
        "the victim's object is still there and their keys still work"
    );
}
