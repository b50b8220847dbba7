//! Shared sealed keys belong to a template's identity (its name and a digest of its body), not
//! to its position in the policy folder: adding a template that sorts first (`archive.json`)
//! must never let a token granted `read-only` open the keys sealed for `read-write`, on a
//! restart or between replicas started with different folders (a rolling deploy).

use std::path::Path;

use serde_json::json;

use crate::support::*;

/// The sealing key both runs share (`cache.sealing_keys`), so each can open what the other
/// sealed for the same template.
fn sealed(opts: Options) -> Options {
    let key: Vec<u8> = (0u8..32).collect();
    opts.set(
        "STSVEND_CACHE__SEALING_KEYS",
        &format!("1:{}", data_encoding::BASE64.encode(&key)),
    )
}

/// The shipped templates plus `archive.json` (a copy of `read-only.json`, granted to
/// `read:files`): it sorts before every shipped one, so every template moves one place on.
fn with_archive(opts: Options, dir: &Path) -> Options {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(shipped.join("read-only.json"), dir.join("archive.json")).unwrap();
    opts.set("STSVEND_POLICIES__DIR", &dir.display().to_string())
        .set("STSVEND_POLICIES__GRANTS__ARCHIVE", r#"["read:files"]"#)
}

/// A token granting `read:files` only: enough for `read-only`, not for `read-write`.
fn read_only_token(app: &TestApp, sub: &str) -> String {
    let mut claims = app.issuer.claims(sub);
    claims["scope"] = json!("openid read:files");
    claims["permissions"] = json!(["read:files"]);
    sign(&claims, &signing_key(), KID)
}

/// `read-only` keys for `sub` through `app`, with a token that could not ask for more.
async fn read_only(app: &TestApp, sub: &str) -> Vended {
    let resp = app
        .post_credentials(Some(&read_only_token(app, sub)), Some(json!({"access": "read-only"})))
        .await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "read-only vend for {sub}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Whether `v`'s keys may write to their bucket.
async fn can_write(v: &Vended) -> bool {
    let put = user_s3(v)
        .put_object()
        .bucket(&v.bucket)
        .key("written-with-read-only.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
        .send()
        .await;
    s3_code(&put) == "ok"
}

#[tokio::test]
async fn after_a_template_sorting_first_is_added_read_only_never_opens_the_sealed_read_write_keys() {
    let before = TestApp::spawn_with(sealed(Options::default())).await;
    let sub = unique_sub("sealed-reload");
    let write = before.vend(&sub, Some("read-write")).await;
    let stopped = before.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let after = TestApp::spawn_with(with_archive(
        sealed(Options {
            issuer: Some(stopped.issuer),
            db_dir: Some(stopped.db_dir),
            ..Options::default()
        }),
        dir.path(),
    ))
    .await;
    let read = read_only(&after, &sub).await;
    assert_ne!(
        read.access_key_id, write.access_key_id,
        "a read-only token got the keys sealed for read-write"
    );
    assert_eq!(read.access, "read-only");
    assert!(!can_write(&read).await, "the read-only keys can write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_with_different_template_folders_share_only_the_same_templates_keys() {
    let url = crate::support::pg::fresh_database().await;
    let on_pg = |opts: Options| sealed(opts.set("STSVEND_DATABASE__URL", &url));
    let old = TestApp::spawn_with(on_pg(Options::default())).await;
    let dir = tempfile::tempdir().unwrap();
    let new = TestApp::spawn_with(with_archive(
        on_pg(Options {
            issuer: Some(old.issuer.clone()),
            ..Options::default()
        }),
        dir.path(),
    ))
    .await;

    // Keys the old replica sealed for read-write, asked for as read-only on the new one.
    let alice = unique_sub("sealed-fleet-alice");
    let write = old.vend(&alice, Some("read-write")).await;
    let read = read_only(&new, &alice).await;
    assert_ne!(
        read.access_key_id, write.access_key_id,
        "the new replica handed a read-only token the old one's read-write keys"
    );
    assert!(!can_write(&read).await, "the read-only keys can write");

    // The other way: keys the new replica sealed for read-only are not the old one's read-write.
    let bob = unique_sub("sealed-fleet-bob");
    let read = read_only(&new, &bob).await;
    let write = old.vend(&bob, Some("read-write")).await;
    assert_ne!(write.access_key_id, read.access_key_id, "read-write got read-only keys");
    assert!(can_write(&write).await, "the read-write keys cannot write");

    // A template both folders hold unchanged is still shared: one set of keys in the fleet.
    let carol = unique_sub("sealed-fleet-carol");
    let first = read_only(&old, &carol).await;
    let second = read_only(&new, &carol).await;
    assert_eq!(
        first.access_key_id, second.access_key_id,
        "the same template's keys are shared"
    );
}
