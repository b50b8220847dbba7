//! A user's pre-signed URL cannot reach another user's object, however the key is written:
//! dot segments, absolute URLs, bucket names, ARNs, percent-encoding (single, double, mixed
//! case), backslashes, query and fragment characters. Each key is tried for GET, PUT and
//! DELETE with two real clients (reqwest and curl, which both normalize URLs as browsers do);
//! the other user's object must stay unread, unchanged and undeleted, and every URL stsvend
//! signs must still point into the caller's own bucket after a client parses it.

use std::process::Command;

use serde_json::json;

use crate::support::figures::Figures;
use crate::support::presign::{get, post, put, url_for};
use crate::support::*;

const SECRET: &[u8] = b"bob's secret, for bob only";

/// Every key an attacker might write to reach `bucket`'s `secret.txt` from their own storage.
fn hostile_keys(bucket: &str, endpoint: &str) -> Vec<String> {
    let host = endpoint.trim_start_matches("http://");
    [
        "../{b}/secret.txt",
        "../../{b}/secret.txt",
        "a/../../{b}/secret.txt",
        "./../{b}/secret.txt",
        "..",
        "{b}/secret.txt",
        "/{b}/secret.txt",
        "//{b}/secret.txt",
        "{e}/{b}/secret.txt",
        "http://{h}/{b}/secret.txt",
        "//{h}/{b}/secret.txt",
        "s3://{b}/secret.txt",
        "arn:aws:s3:::{b}/secret.txt",
        "%2e%2e/{b}/secret.txt",
        "%2E%2E%2F{b}%2Fsecret.txt",
        "..%2f{b}%2fsecret.txt",
        ".%2e/{b}/secret.txt",
        "%252e%252e/{b}/secret.txt",
        "..\\{b}\\secret.txt",
        "..;/{b}/secret.txt",
        "\u{ff0e}\u{ff0e}/{b}/secret.txt",
        "?/../{b}/secret.txt",
        "#/../{b}/secret.txt",
        "secret.txt?x-id=GetObject&bucket={b}",
        "{b}",
    ]
    .iter()
    .map(|k| k.replace("{b}", bucket).replace("{e}", endpoint).replace("{h}", host))
    .collect()
}

/// (status, body) of `method url` sent by curl, which normalizes dot segments like a browser.
fn curl(method: &str, url: &str) -> (u16, Vec<u8>) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-X", method, "-w", "\n%{http_code}"]);
    if method == "PUT" {
        cmd.args(["--data-binary", "curl was here"]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    let text = out.stdout;
    let split = text.iter().rposition(|b| *b == b'\n').unwrap();
    let status = String::from_utf8_lossy(&text[split + 1..]).parse().unwrap();
    (status, text[..split].to_vec())
}

#[tokio::test]
async fn a_users_url_cannot_reach_another_users_object_however_the_key_is_written() {
    // Every case is a presign: well beyond the default per-user rate.
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
            .set("STSVEND_LIMITS__VEND_BURST", "100000"),
    )
    .await;
    let endpoint = required_env("STSVEND_AWS__ENDPOINT_URL");
    let (alice, bob) = (unique_sub("hostile-alice"), unique_sub("hostile-bob"));
    put(&app, &bob, "secret.txt", SECRET.to_vec()).await;
    let bob_keys = app.vend(&bob, None).await;
    let alice_bucket = app.vend(&alice, None).await.bucket;
    let own = format!("/{alice_bucket}/");
    let token = app.issuer.token(&alice);

    let mut figures = Figures::default();
    let mut report = Vec::new();
    for key in hostile_keys(&bob_keys.bucket, &endpoint) {
        for method in ["GET", "PUT", "DELETE"] {
            figures.cases += 1;
            let (status, body) = post(&app, "/v1/presign", &token, json!({"method": method, "key": key})).await;
            if status != 200 {
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (400, Some("invalid_key")),
                    "{key:?}"
                );
                report.push(format!("{method} {key:?}: 400 invalid_key"));
                continue;
            }
            let url = body["url"].as_str().unwrap();
            let parsed = reqwest::Url::parse(url).unwrap();
            assert!(
                parsed.path().starts_with(&own) && parsed.query().is_some_and(|q| q.starts_with("X-Amz-")),
                "{key:?} signed {url}, which a client sends to {}",
                parsed.path()
            );
            let by_reqwest = match method {
                "GET" => get(url).await.0,
                "PUT" => {
                    let r = reqwest::Client::new()
                        .put(url)
                        .body("reqwest was here")
                        .send()
                        .await
                        .unwrap();
                    r.status().as_u16()
                }
                _ => reqwest::Client::new()
                    .delete(url)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16(),
            };
            let (by_curl, curl_body) = curl(method, url);
            figures.cross_user_attempts += 2;
            if curl_body == SECRET {
                figures.cross_user_allowed += 1;
            }
            report.push(format!(
                "{method} {key:?}: signed into own bucket; reqwest {by_reqwest}, curl {by_curl}"
            ));
        }
    }

    // Bob's object is as he left it, and his bucket holds nothing else.
    let s3 = user_s3(&bob_keys);
    let got = s3
        .get_object()
        .bucket(&bob_keys.bucket)
        .key("secret.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), SECRET);
    let listed = s3.list_objects_v2().bucket(&bob_keys.bucket).send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["secret.txt"]);
    figures.requests = figures.cases;
    figures.record("a_users_url_cannot_reach_another_users_object_however_the_key_is_written");
    eprintln!("hostile presign keys:\n  {}", report.join("\n  "));
    assert_eq!(figures.cross_user_allowed, 0);
}

#[tokio::test]
async fn a_url_rewritten_to_point_at_another_bucket_is_refused_by_s3() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (unique_sub("rewrite-alice"), unique_sub("rewrite-bob"));
    put(&app, &bob, "secret.txt", SECRET.to_vec()).await;
    let bob_bucket = app.vend(&bob, None).await.bucket;
    let alice_bucket = app.vend(&alice, None).await.bucket;
    let url = url_for(&app, &alice, "GET", "secret.txt").await;
    let rewritten = url.replace(&format!("/{alice_bucket}/"), &format!("/{bob_bucket}/"));
    assert_ne!(rewritten, url);
    let (status, body) = get(&rewritten).await;
    assert_eq!(status, 403);
    assert_ne!(body, SECRET);
}

#[tokio::test]
async fn a_url_signed_before_a_revocation_is_refused_after_it_and_a_new_one_works() {
    let app = crate::support::admin::admin_app().await;
    let sub = unique_sub("presign-revoked");
    put(&app, &sub, "doc.txt", b"before".to_vec()).await;
    let old = url_for(&app, &sub, "GET", "doc.txt").await;
    assert_eq!(get(&old).await, (200, b"before".to_vec()));

    let id = stsvend::identity::UserId::derive(&app.issuer.issuer, &sub);
    crate::support::admin::admin_ok(&app, reqwest::Method::POST, &format!("/users/{id}/revoke")).await;
    let (status, _) = get(&old).await;
    assert_eq!(status, 403, "the revoked session's URL still worked");
    let new = url_for(&app, &sub, "GET", "doc.txt").await;
    assert_ne!(new, old);
    assert_eq!(get(&new).await, (200, b"before".to_vec()));
}
