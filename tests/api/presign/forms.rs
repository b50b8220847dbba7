//! `POST /v1/presign/post` against `MiniStack`: a plain HTML form in Chromium uploads a file,
//! and one larger than the policy allows is refused; a form cannot be bent to another key,
//! bucket or size by editing its fields; out-of-bounds requests get a 400.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest;

use crate::support::presign::{get, post, url_for};
use crate::support::*;

const WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/web");

/// `&`, `<`, `>` and `"` as HTML entities, for attribute values.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page the README shows: hidden inputs for the fields, then the file, then submit.
fn form_page(form: &Value) -> String {
    let mut inputs = String::new();
    for (name, value) in form["fields"].as_object().unwrap() {
        writeln!(
            inputs,
            "    <input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(name),
            html_escape(value.as_str().unwrap())
        )
        .unwrap();
    }
    format!(
        "<!doctype html>\n<form action=\"{}\" method=\"post\" enctype=\"multipart/form-data\">\n{inputs}    <input type=\"file\" name=\"file\">\n    <button type=\"submit\">Upload</button>\n</form>\n",
        html_escape(form["url"].as_str().unwrap())
    )
}

/// Chromium submits the page's form with a file of `bytes` random bytes: (status, body, sha256).
async fn submit_in_chromium(page: &std::path::Path, bytes: usize) -> (u16, String, String) {
    let run = tokio::process::Command::new("node")
        .arg("e2e/form-upload.mjs")
        .current_dir(WEB_DIR)
        .env("FORM_PAGE", page)
        .env("FILE_BYTES", bytes.to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_mins(2), run)
        .await
        .expect("the browser finishes in time")
        .expect("node runs web/e2e/form-upload.mjs (scripts/test.sh installs web/node_modules)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("FORM_RESULT "))
        .unwrap_or_else(|| panic!("no FORM_RESULT:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let r: Value = serde_json::from_str(line).unwrap();
    (
        u16::try_from(r["status"].as_u64().unwrap()).unwrap(),
        r["body"].as_str().unwrap().to_owned(),
        r["sha256"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_plain_html_form_in_chromium_uploads_a_file_and_a_larger_one_is_refused() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("form-browser");
    let (status, form) = post(
        &app,
        "/v1/presign/post",
        &app.issuer.token(&sub),
        json!({"key_prefix": "inbox/", "max_bytes": 4096}),
    )
    .await;
    assert_eq!(status, 200, "{form}");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("upload.html");
    std::fs::write(&page, form_page(&form)).unwrap();

    let (status, body, sha) = submit_in_chromium(&page, 3000).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<Key>inbox/upload.bin</Key>"), "{body}");
    let (status, stored) = get(&url_for(&app, &sub, "GET", "inbox/upload.bin").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(&stored)),
        sha,
        "the bytes chosen arrived"
    );

    let (status, body, _) = submit_in_chromium(&page, 5000).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("EntityTooLarge"), "{body}");
    let (_, stored_after) = get(&url_for(&app, &sub, "GET", "inbox/upload.bin").await).await;
    assert_eq!(stored_after, stored, "the refused upload changed nothing");
}

/// A `multipart/form-data` body of `fields` then `file`: (content type, body).
fn multipart(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("stsvend-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs the form to `url` with `fields` changed by `edit`: S3's status.
async fn submit(url: &str, form: &Value, edit: impl FnOnce(&mut Vec<(String, String)>), file: &[u8]) -> u16 {
    let mut fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    edit(&mut fields);
    let (content_type, body) = multipart(&fields, file);
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    value.clone_into(&mut fields.iter_mut().find(|(k, _)| k == name).unwrap().1);
}

#[tokio::test]
async fn a_form_cannot_be_bent_to_another_key_bucket_type_or_size() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (unique_sub("form-alice"), unique_sub("form-bob"));
    let bob_bucket = app.vend(&bob, None).await.bucket;
    let (status, form) = post(
        &app,
        "/v1/presign/post",
        &app.issuer.token(&alice),
        json!({"key": "avatar.png", "content_type": "image/png", "max_bytes": 100}),
    )
    .await;
    assert_eq!(status, 200, "{form}");
    let url = form["url"].as_str().unwrap();
    assert_eq!(form["fields"]["Content-Type"], "image/png");

    let refused = [
        (
            "another key",
            submit(url, &form, |f| set(f, "key", "other.png"), b"png").await,
        ),
        ("a bigger max", submit(url, &form, |_| {}, &[0u8; 101]).await),
        (
            "another type",
            submit(url, &form, |f| set(f, "Content-Type", "text/html"), b"png").await,
        ),
        (
            "an extra field",
            submit(
                url,
                &form,
                |f| f.push(("x-amz-meta-x".to_owned(), "1".to_owned())),
                b"png",
            )
            .await,
        ),
        (
            "another bucket",
            submit(&url.replace(&form_bucket(url), &bob_bucket), &form, |_| {}, b"png").await,
        ),
    ];
    for (what, status) in refused {
        assert!((400..500).contains(&status), "{what}: {status}");
    }
    assert_eq!(submit(url, &form, |_| {}, b"png").await, 201, "the form as given works");
    let (status, stored) = get(&url_for(&app, &alice, "GET", "avatar.png").await).await;
    assert_eq!((status, stored.as_slice()), (200, &b"png"[..]));
    let (status, _) = get(&url_for(&app, &alice, "GET", "other.png").await).await;
    assert_eq!(status, 404);
}

/// The bucket a form's URL names (path style: the last segment).
fn form_bucket(url: &str) -> String {
    url.trim_end_matches('/').rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn form_requests_out_of_bounds_get_a_400_with_a_stable_code() {
    let app = TestApp::spawn_with(Options::default().set("STSVEND_PRESIGN__MAX_UPLOAD_BYTES", "1000")).await;
    let token = app.issuer.token(&unique_sub("form-bad"));
    for (body, code) in [
        (json!({"key": "a", "max_bytes": 1001}), "invalid_max_bytes"),
        (json!({"key": "a", "max_bytes": 0}), "invalid_max_bytes"),
        (json!({"key": "a", "key_prefix": "b/"}), "invalid_key"),
        (json!({"max_bytes": 10}), "invalid_key"),
        (json!({"key": "../a"}), "invalid_key"),
        (json!({"key_prefix": "x\u{7}/"}), "invalid_key"),
        (
            json!({"key": "a", "content_type": "text/plain\r\nx: y"}),
            "invalid_content_type",
        ),
        (json!({"key": "a", "expires_in": 0}), "invalid_expires_in"),
        (json!({"key": "a", "bucket": "other"}), "invalid_body"),
    ] {
        let (status, got) = post(&app, "/v1/presign/post", &token, body.clone()).await;
        assert_eq!((status, got["error"]["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (status, form) = post(&app, "/v1/presign/post", &token, json!({"key_prefix": ""})).await;
    assert_eq!(status, 200, "{form}");
    let policy = data_encoding::BASE64
        .decode(form["fields"]["policy"].as_str().unwrap().as_bytes())
        .unwrap();
    let policy: Value = serde_json::from_slice(&policy).unwrap();
    assert!(
        policy["conditions"]
            .as_array()
            .unwrap()
            .contains(&json!(["content-length-range", 0, 1000])),
        "the size defaults to presign.max_upload_bytes: {policy}"
    );
}
