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
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::helpers::*;
use crate::oidc::{auth0_issuer, user_token};

pub const WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
pub const OUT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/web-e2e");
/// The whole browser run: about 10 s alone, more while the rest of the suite runs.
const E2E_TIMEOUT: Duration = Duration::from_mins(5);
/// Size of the multipart upload in e2e.mjs (6 MiB + 4321 bytes: two 5 MiB parts).
const BIG_FILE_BYTES: i64 = 6 * 1024 * 1024 + 4321;

/// Held by each browser test: they all serve the app on `WEB_E2E_PORT`, the one origin the
/// issuer lets the web client return to.
pub static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `node web/serve.mjs` serving the built app and a /config.json pointing at `api`.
pub async fn serve_web(port: &str, api: &str) -> Child {
    let dist = Path::new(WEB_DIR).join("dist/index.html");
    assert!(
        dist.is_file(),
        "{} is missing: run the suite through scripts/test.sh, which builds web/ with npm",
        dist.display()
    );
    let log = std::fs::File::create(Path::new(OUT_DIR).join("serve.log")).unwrap();
    let child = Command::new("node")
        .arg("serve.mjs")
        .current_dir(WEB_DIR)
        .env("STSVEND_WEB_PORT", port)
        .env("STSVEND_WEB_API", api)
        .env("STSVEND_WEB_ISSUER", auth0_issuer())
        .env("STSVEND_WEB_EXIT_WITH_PARENT", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("node runs web/serve.mjs");
    let url = format!("http://127.0.0.1:{port}/config.json");
    for _ in 0..100 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("web/serve.mjs did not answer on {url}; see {OUT_DIR}/serve.log");
}

/// Keys stsvend vends for `sub`, with a token from the stand-in.
async fn vend_for(app: &TestApp, sub: &str) -> Vended {
    let token = user_token(sub, "openid read:files write:files").await;
    let resp = app.post_credentials(Some(&token), None).await;
    assert_eq!(resp.status(), 200);
    resp.json::<Vended>().await.unwrap()
}

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
    let bob = vend_for(app, &unique_sub("web-bob")).await;
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

    std::fs::create_dir_all(OUT_DIR).unwrap();
    std::fs::create_dir_all(out_dir).unwrap();
    let _web = serve_web(port, &app.base).await;
    let run = Command::new("node")
        .arg("e2e/e2e.mjs")
        .current_dir(WEB_DIR)
        .env("WEB_URL", format!("http://127.0.0.1:{port}"))
        .env("E2E_SUB", &alice)
        .env("OTHER_BUCKET", &other)
        .env("E2E_OUT", out_dir)
        .env("E2E_REFRESH", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(E2E_TIMEOUT, run)
        .await
        .expect("the browser test finishes in time")
        .expect("node runs web/e2e/e2e.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser test failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout.lines().find_map(|l| l.strip_prefix("E2E_RESULT "));
    let result: Value =
        serde_json::from_str(line.unwrap_or_else(|| panic!("no E2E_RESULT line:\n{stdout}\n{stderr}"))).unwrap();

    // What the browser did, checked from outside it with alice's keys (the service's own
    // may not read objects): it used her bucket and prefix, and the multipart upload arrived
    // whole under the prefix.
    let keys = vend_for(app, &alice).await;
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
