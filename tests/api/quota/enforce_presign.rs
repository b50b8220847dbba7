//! Quotas on pre-signed uploads: while under the limit a form's `content-length-range` is at
//! most the room left (S3 refuses a bigger file); over it, PUT URLs and forms are refused with
//! `quota_exceeded`, GET URLs still work. Both storage modes.

use serde_json::{Value, json};

use super::limits::{assert_refused, fill, user_storage, vend_for, with_quota};
use crate::support::presign::post;
use crate::support::*;

/// The form's `content-length-range` upper bound.
fn form_max(form: &Value) -> u64 {
    let policy = data_encoding::BASE64
        .decode(form["fields"]["policy"].as_str().unwrap().as_bytes())
        .unwrap();
    let policy: Value = serde_json::from_slice(&policy).unwrap();
    policy["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == "content-length-range")
        .and_then(|c| c[2].as_u64())
        .unwrap_or_else(|| panic!("no content-length-range: {policy}"))
}

/// Uploads a file of `bytes` bytes through the form, as a browser would: S3's status.
async fn upload(form: &Value, bytes: usize) -> u16 {
    let boundary = format!("stsvend-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in form["fields"].as_object().unwrap() {
        let value = value.as_str().unwrap();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend(std::iter::repeat_n(b'x', bytes));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    reqwest::Client::new()
        .post(form["url"].as_str().unwrap())
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn uploads_stop_at_the_limit(prefix: bool) {
    let opts = with_quota(Options::default(), &[("USER_BYTES", "1000")]);
    let app = if prefix {
        TestApp::spawn_prefix(opts).await.0
    } else {
        TestApp::spawn_with(opts).await
    };
    let sub = unique_sub("presign-quota");
    let token = app.issuer.token(&sub);
    assert_eq!(vend_for(&app, &token, "read-write").await.0, 200);
    let storage = user_storage(&app, &sub).await;
    fill(&app, &storage, &["stored"], Some(900)).await;

    let (status, form) = post(&app, "/v1/presign/post", &token, json!({"key": "up.bin"})).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form_max(&form), 100, "the room left under 1000 bytes");
    assert_ne!(
        upload(&form, 101).await / 100,
        2,
        "S3 refuses a file bigger than the room left"
    );
    assert_eq!(upload(&form, 100).await / 100, 2, "the room left fits");
    let (status, small) = post(
        &app,
        "/v1/presign/post",
        &token,
        json!({"key": "s.bin", "max_bytes": 40}),
    )
    .await;
    assert_eq!(
        (status, form_max(&small)),
        (200, 40),
        "a smaller bound asked for stays: {small}"
    );
    let (status, url) = post(&app, "/v1/presign", &token, json!({"method": "PUT", "key": "p.bin"})).await;
    assert_eq!(status, 200, "under the limit: {url}");

    fill(&app, &storage, &["up.bin"], Some(100)).await;
    let (status, body) = post(&app, "/v1/presign", &token, json!({"method": "PUT", "key": "p.bin"})).await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "user", 1000, 2);
    let (status, body) = post(&app, "/v1/presign/post", &token, json!({"key": "up2.bin"})).await;
    assert_eq!(status, 403, "{body}");
    assert_refused(&body, "user", 1000, 2);
    let (status, body) = post(&app, "/v1/presign", &token, json!({"method": "GET", "key": "up.bin"})).await;
    assert_eq!(status, 200, "reading still works: {body}");
    let (status, body) = post(
        &app,
        "/v1/presign",
        &token,
        json!({"method": "DELETE", "key": "up.bin"}),
    )
    .await;
    assert_eq!(status, 200, "deleting still works: {body}");
}

#[tokio::test]
async fn a_form_is_bounded_by_the_room_left_and_uploads_are_refused_at_the_limit() {
    uploads_stop_at_the_limit(false).await;
}

#[tokio::test]
async fn in_prefix_mode_a_form_is_bounded_by_the_room_left_and_uploads_are_refused_at_the_limit() {
    uploads_stop_at_the_limit(true).await;
}
