//! Prefix mode: every user under `<prefix_root>/<user id>/` of one shared bucket, kept there
//! by the session policy alone (`MiniStack` enforces `s3:prefix` conditions and resource ARNs).

mod admin;
mod capacity;
mod isolation;
mod policy_lease;
mod presign;

use serde_json::{Value, json};

use crate::support::logs::Captured;
use crate::support::*;

/// A first login in prefix mode is one `AssumeRole` and no S3 call; the answer and `/v1/me`
/// name the shared bucket and the user's prefix.
#[tokio::test]
async fn a_first_login_in_prefix_mode_makes_no_s3_call_and_names_the_prefix() {
    let (app, shared) = TestApp::spawn_prefix(Options::default()).await;
    let sub = unique_sub("alice");
    let before = app.s3_calls().await;
    let v = app.vend(&sub, None).await;
    assert_eq!(
        app.s3_calls().await - before,
        0,
        "S3 calls on a prefix-mode first login"
    );
    let id = stsvend::identity::UserId::derive(&app.issuer.issuer, &sub);
    assert_eq!(v.bucket, shared);
    assert_eq!(v.prefix, format!("users/{id}/"));
    assert_eq!(v.access, "read-write");

    let me = app.me(&sub).await;
    assert_eq!(me["mode"], "prefix");
    assert_eq!(me["prefix"], v.prefix);
    assert_eq!(me["bucket"], shared);
    assert_eq!(me["state"], "ready");
}

/// Switching the mode changes what new users get; a user keeps the storage recorded with them.
#[tokio::test]
async fn switching_the_mode_keeps_existing_users_where_they_are() {
    let bucket_mode = TestApp::spawn().await;
    let (alice, bob) = (unique_sub("alice"), unique_sub("bob"));
    let before = bucket_mode.vend(&alice, None).await;
    assert_eq!(before.prefix, "");
    let stopped = bucket_mode.stop().await;

    let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let shared = fresh_shared_bucket(&probe).await;
    let prefix_mode = TestApp::spawn_with(
        Options {
            issuer: Some(stopped.issuer),
            db_dir: Some(stopped.db_dir),
            ..Options::default()
        }
        .prefix_mode(&shared),
    )
    .await;
    let again = prefix_mode.vend(&alice, None).await;
    assert_eq!(
        (again.bucket.as_str(), again.prefix.as_str()),
        (before.bucket.as_str(), "")
    );
    let new = prefix_mode.vend(&bob, None).await;
    assert_eq!(new.bucket, shared);
    assert!(new.prefix.starts_with("users/"), "{}", new.prefix);
    // Alice's keys still work on her own bucket.
    let put = user_s3(&again)
        .put_object()
        .bucket(&again.bucket)
        .key("still-mine.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(s3_code(&put), "ok");
}

/// Start-up refuses prefix mode without the prefix-mode variant of every granted access.
#[tokio::test]
async fn prefix_mode_without_its_templates_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["read-write.json", "read-only.json"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("policies")
                .join(name),
            dir.path().join(name),
        )
        .unwrap();
    }
    let db = tempfile::tempdir().unwrap();
    let config = test_config(
        "http://127.0.0.1:1/",
        &db.path().join("x.db"),
        &[
            ("STSVEND_STORAGE__MODE".to_owned(), "prefix".to_owned()),
            ("STSVEND_STORAGE__SHARED_BUCKET".to_owned(), "stsvend-shared".to_owned()),
            ("STSVEND_POLICIES__DIR".to_owned(), dir.path().display().to_string()),
        ],
    );
    let err = match Box::pin(stsvend::app::Application::build(config)).await {
        Ok(_) => panic!("started without prefix-mode templates"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("prefix-read-write.json"), "{err}");
    assert!(err.contains("prefix-read-only.json"), "{err}");
}

/// A user given a prefix while the service ran in prefix mode keeps it after the service went
/// back to bucket mode; an access whose prefix-mode variant the folder no longer holds is
/// refused with a code naming the situation (not a 500), and start-up said so in its log.
#[tokio::test]
async fn an_access_without_a_prefix_variant_is_refused_to_a_prefix_mode_user_and_flagged_at_start_up() {
    let (prefix_mode, _shared) = TestApp::spawn_prefix(Options::default()).await;
    let alice = unique_sub("variant-gone");
    prefix_mode.vend(&alice, None).await;
    let stopped = prefix_mode.stop().await;

    // Back in bucket mode, and `prefix-read-only.json` is gone.
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for name in ["read-only.json", "read-write.json", "prefix-read-write.json"] {
        std::fs::copy(shipped.join(name), dir.path().join(name)).unwrap();
    }
    let logs = Captured::default();
    let app = {
        let _capture = logs.install();
        TestApp::spawn_with(
            Options {
                issuer: Some(stopped.issuer),
                db_dir: Some(stopped.db_dir),
                ..Options::default()
            }
            .set("STSVEND_POLICIES__DIR", &dir.path().display().to_string()),
        )
        .await
    };
    let token = app.issuer.token(&alice);
    let ask = |access: &'static str| app.post_credentials(Some(&token), Some(json!({ "access": access })));
    let resp = ask("read-only").await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap_or("<no JSON envelope>")),
        (409, "access_unavailable_in_prefix_mode"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("read-only"), "the message names the access: {message}");
    assert!(!message.contains(".json"), "no file names: {message}");
    let logs = logs.text();
    assert!(
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains("prefix-mode users") && l.contains("read-only")),
        "no start-up warning naming read-only:\n{logs}"
    );

    // The access that kept its variant still serves her.
    assert_eq!(ask("read-write").await.status(), 200);
}
