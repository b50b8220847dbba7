//! The browser app (web/) end to end: Debian's Chromium, driven by `web/e2e/e2e.mjs`
//! (playwright-core), logs in on the Auth0 stand-in's login page (authorization code + PKCE),
//! has stsvend vend keys through the AWS JS SDK's credential provider, uploads a small file and
//! a multipart one, lists, downloads and compares them, shares one through a pre-signed URL
//! (the share-link button) that plain `fetch` downloads, refreshes its keys 5 minutes before they
//! expire, and cannot reach another user's bucket. Once in each storage mode: in prefix mode
//! the page works under its prefix of the shared bucket and cannot reach another user's prefix.
//!
//! scripts/test.sh builds web/ (npm), installs chromium and starts the stand-in with this
//! test's origin (`WEB_E2E_PORT`) among the client's redirect URIs. The screenshot is written to
//! `<repo>/target/web-e2e/screenshot.png` (prefix mode: `.../web-e2e/prefix-mode/screenshot.png`).

use std::path::Path;

use crate::support::auth0::{auth0_issuer, vend_on_auth0};
use crate::support::browser::{BROWSER, OUT_DIR, scenario, serve_web};
use crate::support::*;

/// Size of the multipart upload in e2e.mjs (6 MiB + 4321 bytes: two 5 MiB parts).
const BIG_FILE_BYTES: i64 = 6 * 1024 * 1024 + 4321;

/// The app's service: the test's origin allowed for the API and the buckets' CORS rules, and
/// sessions of 5 min + 8 s: the JS SDK refreshes 5 min before expiry, so the page vends again
/// within the test (`E2E_REFRESH`), and stsvend's cache (300 s minimum remaining) hands out new
/// keys by then.
fn web_options(port: &str) -> Options {
    let origins = format!(r#"["http://127.0.0.1:{port}"]"#);
    Options::default()
        .set("STSVEND_AUTH__ISSUER", &auth0_issuer())
        .set("STSVEND_SERVER__CORS_ALLOWED_ORIGINS", &origins)
        .set("STSVEND_STORAGE__CORS_ALLOWED_ORIGINS", &origins)
        .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
        .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "308")
        .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "300")
}

#[tokio::test]
async fn the_web_app_logs_in_uploads_multipart_downloads_and_cannot_reach_another_users_bucket() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let app = TestApp::spawn_with(web_options(&port)).await;
    let (prefix, other) = log_in_upload_download_and_probe(&app, &port, Path::new(OUT_DIR)).await;
    assert_eq!(prefix, "", "bucket mode has no prefix");
    assert!(!other.contains('/'), "another user's own bucket: {other}");
}

/// The same flow in prefix mode: the page lists with its prefix, uploads under it, shows names
/// without it, and another user's prefix of the same shared bucket is refused.
#[tokio::test]
async fn in_prefix_mode_the_web_app_works_under_its_prefix_and_cannot_reach_another_users_prefix() {
    let _browser = BROWSER.lock().await;
    let port = required_env("WEB_E2E_PORT");
    let (app, shared) = TestApp::spawn_prefix(web_options(&port)).await;
    let out = Path::new(OUT_DIR).join("prefix-mode");
    let (prefix, other) = log_in_upload_download_and_probe(&app, &port, &out).await;
    assert!(prefix.starts_with("users/"), "{prefix}");
    assert!(other.starts_with(&format!("{shared}/users/")), "{other}");
}

/// Runs web/e2e/e2e.mjs against `app` as a new user, with another user's storage to probe
/// (their bucket, or `<shared bucket>/<their prefix>`, holding their `hello.txt`), checks what
/// the browser did from outside it, and returns the prefix the page showed and what it probed.
/// The screenshot goes to `<out_dir>/screenshot.png`.
async fn log_in_upload_download_and_probe(app: &TestApp, port: &str, out_dir: &Path) -> (String, String) {
    let alice = unique_sub("web-alice");
    let bob = vend_on_auth0(app, &unique_sub("web-bob")).await;
    let put = user_s3(&bob)
        .put_object()
        .bucket(&bob.bucket)
        .key(format!("{}hello.txt", bob.prefix))
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"bob's"))
        .send()
        .await;
    assert_eq!(s3_code(&put), "ok");
    let other = if bob.prefix.is_empty() {
        bob.bucket.clone()
    } else {
        format!("{}/{}", bob.bucket, bob.prefix)
    };

    let _web = serve_web(port, &app.base).await;
    let result = scenario(
        "e2e.mjs",
        port,
        out_dir,
        &[("E2E_SUB", &alice), ("OTHER_BUCKET", &other), ("E2E_REFRESH", "1")],
    )
    .await;

    // What the browser did, checked from outside it with alice's keys (the service's own
    // may not read objects): it used her bucket and prefix, and the multipart upload arrived
    // whole under the prefix.
    let keys = vend_on_auth0(app, &alice).await;
    assert_eq!(result["who"], alice.as_str());
    // The stand-in's login page offers the user the README's demo uploads a file for.
    assert_eq!(result["loginPrefill"], "auth0|demo-alice");
    assert_eq!(result["bucket"], keys.bucket.as_str());
    assert_eq!(result["prefix"], keys.prefix.as_str());
    assert_eq!(result["listed"], serde_json::json!(["big.bin", "hello.txt"]));
    let head = user_s3(&keys)
        .head_object()
        .bucket(&keys.bucket)
        .key(format!("{}big.bin", keys.prefix))
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(BIG_FILE_BYTES));
    assert_eq!(result["pageKeys"]["otherList"], "AccessDenied");
    assert_eq!(result["pageKeys"]["otherGet"], "AccessDenied");
    assert_eq!(result["s3Requests"]["uploadPart"], 2);
    assert_eq!(result["refresh"]["newKey"], true);
    assert_eq!(result["share"], serde_json::json!({"ownBucket": true, "matches": true}));
    assert!(out_dir.join("screenshot.png").is_file());
    eprintln!("web e2e: {}", result["timingsMs"]);
    (keys.prefix, other)
}
