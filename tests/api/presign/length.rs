//! `POST /v1/presign` for PUT with `content_length`: the URL signs `Content-Length`, so S3
//! takes exactly that many bytes through it (sent by curl, as a script would), and the length
//! is bounded by `presign.max_upload_bytes` (required with `presign.require_put_length`).

use std::process::Command;

use serde_json::{Value, json};

use crate::support::presign::{get, post, url_for};
use crate::support::*;

/// (status, body) of `curl -T` with `bytes` as the file, plus any extra curl arguments.
fn curl_put(url: &str, bytes: &[u8], extra: &[&str]) -> (u16, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-T"])
        .arg(&file)
        .args(extra)
        .arg(url)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

async fn presign_put(app: &TestApp, sub: &str, key: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"method": "PUT", "key": key});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    post(app, "/v1/presign", &app.issuer.token(sub), body).await
}

#[tokio::test]
async fn a_put_url_with_a_content_length_takes_exactly_that_many_bytes() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-length");
    let (status, body) = presign_put(&app, &sub, "sized.bin", json!({"content_length": 11})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["headers"], json!({"content-length": "11"}), "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-SignedHeaders=content-length%3Bhost"), "{url}");

    for (what, bytes, extra) in [
        ("one byte more", b"hello world!".to_vec(), vec![]),
        ("one byte less", b"hello worl".to_vec(), vec![]),
        ("empty", Vec::new(), vec![]),
        // No Content-Length at all: the body streamed in chunks.
        (
            "chunked",
            b"hello world".to_vec(),
            vec!["-H", "Transfer-Encoding: chunked"],
        ),
    ] {
        let (status, reply) = curl_put(url, &bytes, &extra);
        assert_eq!(status, 403, "{what}: {reply}");
        assert!(reply.contains("SignatureDoesNotMatch"), "{what}: {reply}");
    }
    assert_eq!(
        get(&url_for(&app, &sub, "GET", "sized.bin").await).await.0,
        404,
        "no refused upload was stored"
    );

    let (status, reply) = curl_put(url, b"hello world", &[]);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        get(&url_for(&app, &sub, "GET", "sized.bin").await).await,
        (200, b"hello world".to_vec())
    );

    // Without content_length a PUT URL stays unbounded, as before (unless required, below).
    let (status, body) = presign_put(&app, &sub, "free.bin", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["headers"], json!({}));
    assert_eq!(curl_put(body["url"].as_str().unwrap(), b"any size", &[]).0, 200);
}

#[tokio::test]
async fn put_lengths_over_the_cap_or_missing_when_required_are_refused_with_a_code() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_PRESIGN__MAX_UPLOAD_BYTES", "1000")
            .set("STSVEND_PRESIGN__REQUIRE_PUT_LENGTH", "true"),
    )
    .await;
    let sub = unique_sub("presign-cap");
    for (extra, code) in [
        (json!({"content_length": 1001}), "invalid_content_length"),
        (json!({"content_length": -1}), "invalid_content_length"),
        (json!({}), "content_length_required"),
    ] {
        let (status, body) = presign_put(&app, &sub, "k.bin", extra.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{extra}: {body}"
        );
    }
    // A length means nothing for other methods: refused rather than silently ignored.
    let (status, body) = post(
        &app,
        "/v1/presign",
        &app.issuer.token(&sub),
        json!({"method": "GET", "key": "k.bin", "content_length": 10}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_content_length")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("PUT"), "{body}");

    let (status, body) = presign_put(&app, &sub, "k.bin", json!({"content_length": 1000})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(curl_put(body["url"].as_str().unwrap(), &[7u8; 1000], &[]).0, 200);
    // The requirement is for uploads: a GET URL needs no length.
    assert_eq!(
        get(&url_for(&app, &sub, "GET", "k.bin").await).await,
        (200, vec![7u8; 1000])
    );
}
