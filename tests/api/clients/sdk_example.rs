//! The aws-sdk-rust example `bulk_upload`, its credentials provider calling stsvend with the
//! token `stsvend-cli token-file` keeps.

use std::collections::BTreeMap;
use std::time::Duration;

use std::path::Path;

use crate::support::auth0::auth0_issuer;
use crate::support::clients::*;
use crate::support::*;

/// Sessions of this many seconds: the SDK's identity cache asks for new keys 10-15 s before
/// expiry, and stsvend hands out new ones once fewer than `MIN_REMAINING` seconds remain.
const SESSION_SECONDS: u64 = 20;
const MIN_REMAINING: u64 = 17;
/// Files, and how many start per second: the run lasts about 28 s, past the first keys' expiry.
const FILES: usize = 56;
const FILES_PER_SECOND: &str = "2";

/// `FILES` files in four folders, each of its own length and bytes, by key relative to the
/// place the upload goes (`up/album<n>/p<i>.jpg`).
fn make_photos(src: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut expected = BTreeMap::new();
    for i in 0..FILES {
        let dir = src.join(format!("album{}", i % 4));
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..i * 997 + 13)
            .map(|j| u8::try_from((i * 131 + j * 7 + j / 251) % 256).unwrap())
            .collect();
        std::fs::write(dir.join(format!("p{i}.jpg")), &body).unwrap();
        expected.insert(format!("up/album{}/p{i}.jpg", i % 4), body);
    }
    expected
}

/// Every `keys <AccessKeyId> expire <Expiration>` line the example printed, in order.
fn key_sets(stderr: &str) -> Vec<(String, time::OffsetDateTime)> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("keys "))
        .filter_map(|l| l.split_once(" expire "))
        .map(|(id, exp)| {
            let exp = time::OffsetDateTime::parse(exp.trim(), &time::format_description::well_known::Rfc3339).unwrap();
            (id.to_owned(), exp)
        })
        .collect()
}

/// The service for these tests: sessions short enough that the run outlasts the first keys.
fn short_sessions() -> Options {
    Options::default()
        .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
        .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
        .set("STSVEND_AWS__SESSION_DURATION_SECONDS", &SESSION_SECONDS.to_string())
        .set("STSVEND_AWS__MIN_REMAINING_SECONDS", &MIN_REMAINING.to_string())
}

#[tokio::test]
async fn the_rust_sdk_example_uploads_a_folder_across_two_key_sets_and_every_object_arrives_intact() {
    let app = TestApp::spawn_with(short_sessions()).await;
    let mine = upload_the_photos(&app).await;
    assert_eq!(mine.prefix, "");
}

/// In prefix mode the example puts the vended prefix before its own: every object lands under
/// the user's prefix of the shared bucket (where nothing else may be written).
#[tokio::test]
async fn in_prefix_mode_the_rust_sdk_example_uploads_under_the_vended_prefix() {
    let (app, shared) = TestApp::spawn_prefix(short_sessions()).await;
    let mine = upload_the_photos(&app).await;
    assert_eq!(mine.bucket, shared);
    assert!(mine.prefix.starts_with("users/"), "{}", mine.prefix);
}

/// Runs `bulk_upload <photos> up/` as a new user with the token `stsvend-cli token-file` wrote,
/// and checks with the user's own keys that every object arrived, intact, under
/// `<vended prefix>up/`, some of them written after the first keys expired. Returns those keys.
async fn upload_the_photos(app: &TestApp) -> Vended {
    let user = User::logged_in("sdk", app).await;
    let token_file = user.dir.path().join("token");
    let out = run(
        &mut user.cli(&["token-file", "--path", token_file.to_str().unwrap(), "--once"]),
        Duration::from_secs(30),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let src = user.dir.path().join("photos");
    let expected = make_photos(&src);
    let total: usize = expected.values().map(Vec::len).sum();

    let mut cmd = clean_command(&example_bin("bulk_upload"), &user.aws_config());
    cmd.arg(&src)
        .arg("up/")
        .env("STSVEND_URL", &app.base)
        .env("STSVEND_TOKEN_FILE", &token_file)
        .env("BULK_UPLOAD_FILES_PER_SECOND", FILES_PER_SECOND);
    let out = run(&mut cmd, Duration::from_mins(2)).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "bulk_upload failed: {stderr}");
    let keys = key_sets(&stderr);
    let distinct: std::collections::BTreeSet<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    assert!(distinct.len() >= 2, "the upload ran on one set of keys: {stderr}");

    // Fresh keys of the user's own (the service's keys may not read objects).
    let mine: Vended = serde_json::from_value(user.credential_process(&[]).await).unwrap();
    let place = format!("{}up/", mine.prefix);
    assert!(
        stdout.contains(&format!(
            "uploaded {FILES} files ({total} bytes) to s3://{}/{place}",
            mine.bucket
        )),
        "{stdout}"
    );
    let s3 = user_s3(&mine);
    let mut found = BTreeMap::new();
    let mut last_modified = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&mine.bucket)
        .prefix(&place)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            let key = o.key().unwrap();
            last_modified.push(o.last_modified().unwrap().secs());
            let got = s3.get_object().bucket(&mine.bucket).key(key).send().await.unwrap();
            // By key relative to the user's prefix, as `make_photos` names them.
            let relative = key.strip_prefix(mine.prefix.as_str()).unwrap().to_owned();
            found.insert(relative, got.body.collect().await.unwrap().into_bytes().to_vec());
        }
    }
    assert_eq!(found.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (key, body) in &expected {
        assert!(found[key] == *body, "{key} came back different");
    }

    // Objects were still being written after the first keys had expired: those writes were
    // signed with a later set (MiniStack refuses expired keys).
    let first_expiry = keys[0].1.unix_timestamp();
    let last_write = last_modified.into_iter().max().unwrap();
    assert!(
        last_write > first_expiry + 1,
        "the run ended ({last_write}) before its first keys expired ({first_expiry}): {stderr}"
    );
    mine
}
