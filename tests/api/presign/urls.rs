//! `POST /v1/presign` against `MiniStack`, with a plain HTTP client (reqwest, no AWS SDK) using
//! the URLs the way curl or a browser would: bytes go up and come back identical, S3 refuses
//! a URL after `expires_at` and for another method, and no key a user writes reaches another
//! user's object. Forms (`/v1/presign/post`) are in `forms.rs`.

use serde_json::json;

use crate::support::*;

use crate::support::presign::*;

/// The S3 error code in an XML error body.
fn s3_error(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or("(no code)")
        .to_owned()
}

#[tokio::test]
async fn a_file_put_through_a_url_comes_back_byte_identical_and_head_and_delete_urls_work() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-roundtrip");
    let key = "photos/2026 holiday/ümlaut +&=?#%.bin";
    let bytes: Vec<u8> = (0..70_000u32).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
    put(&app, &sub, key, bytes.clone()).await;

    let (status, got) = get(&url_for(&app, &sub, "GET", key).await).await;
    assert_eq!(status, 200);
    assert!(got == bytes, "downloaded {} bytes, uploaded {}", got.len(), bytes.len());

    // The object is where an SDK client of the same user finds it, under the very key asked for.
    let vended = app.vend(&sub, None).await;
    let head = user_s3(&vended)
        .head_object()
        .bucket(&vended.bucket)
        .key(key)
        .send()
        .await;
    assert_eq!(head.unwrap().content_length(), Some(70_000));

    let head = reqwest::Client::new()
        .head(url_for(&app, &sub, "HEAD", key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "70000");

    let deleted = reqwest::Client::new()
        .delete(url_for(&app, &sub, "DELETE", key).await)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, body) = get(&url_for(&app, &sub, "GET", key).await).await;
    assert_eq!((status, s3_error(&body)), (404, "NoSuchKey".to_owned()));
}

#[tokio::test]
async fn a_url_used_after_its_expires_at_is_refused_by_s3() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-expiry");
    put(&app, &sub, "soon-gone.txt", b"brief".to_vec()).await;
    let (status, body) = post(
        &app,
        "/v1/presign",
        &app.issuer.token(&sub),
        json!({"method": "GET", "key": "soon-gone.txt", "expires_in": 2}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Expires=2&") || url.contains("X-Amz-Expires=1&"),
        "{url}"
    );
    assert_eq!(get(url).await, (200, b"brief".to_vec()), "valid before expires_at");

    let expires_at = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // S3 refuses the URL within moments of `expires_at` (its clock and ours may differ by a
    // second), and never before it.
    let (status, body) = within(std::time::Duration::from_secs(10), async || {
        let (status, body) = get(url).await;
        (status != 200).then_some((status, body))
    })
    .await
    .expect("the URL still works 10 s later");
    assert!(
        time::OffsetDateTime::now_utc() >= expires_at - time::Duration::seconds(1),
        "refused before its expires_at"
    );
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("expired"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn a_url_never_outlives_the_keys_that_signed_it() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_PRESIGN__MAX_EXPIRES_SECONDS", "604800")
            .set("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true")
            .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "400")
            .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "300"),
    )
    .await;
    let sub = unique_sub("presign-capped");
    let vended = app.vend(&sub, None).await;
    let (status, body) = post(
        &app,
        "/v1/presign",
        &app.issuer.token(&sub),
        json!({"method": "GET", "key": "k", "expires_in": 604_800}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_at"], vended.expiration.as_str());
    let url = body["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("X-Amz-Credential={}%2F", vended.access_key_id)),
        "signed with the vend's own session, not a new one: {url}"
    );
}

#[tokio::test]
async fn a_get_url_cannot_put_and_a_put_url_cannot_delete() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-method");
    put(&app, &sub, "kept.txt", b"original".to_vec()).await;

    let get_url = url_for(&app, &sub, "GET", "kept.txt").await;
    let resp = reqwest::Client::new()
        .put(&get_url)
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(s3_error(&resp.bytes().await.unwrap()), "SignatureDoesNotMatch");

    let put_url = url_for(&app, &sub, "PUT", "kept.txt").await;
    let resp = reqwest::Client::new().delete(&put_url).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(get(&get_url).await, (200, b"original".to_vec()));
}

#[tokio::test]
async fn read_only_access_signs_get_and_head_but_not_put_delete_or_forms() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-reader");
    put(&app, &sub, "doc.txt", b"readable".to_vec()).await;
    let mut claims = app.issuer.claims(&sub);
    claims["scope"] = json!("openid read:files");
    claims["permissions"] = json!(["read:files"]);
    let reader = sign(&claims, &signing_key(), KID);

    let ask = |method: &str| json!({"method": method, "key": "doc.txt", "access": "read-only"});
    let (status, body) = post(&app, "/v1/presign", &reader, ask("GET")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(body["url"].as_str().unwrap()).await, (200, b"readable".to_vec()));
    assert_eq!(post(&app, "/v1/presign", &reader, ask("HEAD")).await.0, 200);
    for method in ["PUT", "DELETE"] {
        let (status, body) = post(&app, "/v1/presign", &reader, ask(method)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("insufficient_scope")),
            "{method}"
        );
    }
    let (status, body) = post(
        &app,
        "/v1/presign/post",
        &reader,
        json!({"key": "doc.txt", "access": "read-only"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    // Without naming an access level, the default (read-write) needs write:files.
    let (status, body) = post(&app, "/v1/presign", &reader, json!({"method": "GET", "key": "doc.txt"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

#[tokio::test]
async fn bad_keys_methods_and_expiries_get_a_400_with_a_stable_code_and_sign_nothing() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-bad");
    let token = app.issuer.token(&sub);
    let long = "k".repeat(1025);
    for (body, code) in [
        (json!({"method": "GET", "key": ""}), "invalid_key"),
        (json!({"method": "GET", "key": long}), "invalid_key"),
        (json!({"method": "GET", "key": "line\nbreak"}), "invalid_key"),
        (json!({"method": "GET", "key": "nul\u{0}"}), "invalid_key"),
        (json!({"method": "GET", "key": "../escape"}), "invalid_key"),
        (json!({"method": "GET", "key": "a/./b"}), "invalid_key"),
        (json!({"method": "POST", "key": "k"}), "invalid_body"),
        (json!({"method": "get", "key": "k"}), "invalid_body"),
        (json!({"key": "k"}), "invalid_body"),
        (json!({"method": "GET", "key": "k", "bucket": "other"}), "invalid_body"),
        (
            json!({"method": "GET", "key": "k", "expires_in": 0}),
            "invalid_expires_in",
        ),
        (
            json!({"method": "GET", "key": "k", "expires_in": -5}),
            "invalid_expires_in",
        ),
        (
            json!({"method": "GET", "key": "k", "expires_in": 3601}),
            "invalid_expires_in",
        ),
        (json!({"method": "GET", "key": "k", "access": "root"}), "unknown_access"),
    ] {
        let (status, got) = post(&app, "/v1/presign", &token, body.clone()).await;
        assert_eq!((status, got["error"]["code"].as_str()), (400, Some(code)), "{body}");
    }
    let empty = app
        .http
        .post(format!("{}/v1/presign", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    let unauthenticated = app
        .http
        .post(format!("{}/v1/presign", app.base))
        .json(&json!({"method": "GET", "key": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    // A key of exactly 1024 bytes is S3's limit, and fine.
    url_for(&app, &sub, "GET", &"é".repeat(512)).await;
    let user = stsvend::identity::UserId::derive(&app.issuer.issuer, &sub);
    assert_eq!(
        app.state.store.presigns_of(&user, 10).await.unwrap().len(),
        1,
        "only the good one"
    );
}

#[tokio::test]
async fn presigns_are_audited_with_key_and_method_never_the_signature() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-audit");
    let url = url_for(&app, &sub, "PUT", "reports/q4.pdf").await;
    let signature = url.rsplit_once("X-Amz-Signature=").unwrap().1.to_owned();
    let vended = app.vend(&sub, None).await;

    let user = stsvend::identity::UserId::derive(&app.issuer.issuer, &sub);
    let rows = app.state.store.presigns_of(&user, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.method.as_str(), row.object_key.as_str()),
        ("PUT", "reports/q4.pdf")
    );
    assert_eq!(
        row.access_key_id, vended.access_key_id,
        "the signing key leads back to the user"
    );
    assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
    let everything = format!("{row:?}");
    assert!(!everything.contains(&signature), "{everything}");
    assert!(!everything.contains("X-Amz"), "{everything}");
    // And the database file holds the signature nowhere.
    let db = std::fs::read(app.db_dir.path().join("stsvend.db")).unwrap_or_default();
    let wal = std::fs::read(app.db_dir.path().join("stsvend.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(signature.len()).any(|w| w == signature.as_bytes()));
    }
}

#[tokio::test]
async fn presigns_share_the_vend_rate_limit() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "1")
            .set("STSVEND_LIMITS__VEND_BURST", "2"),
    )
    .await;
    let sub = unique_sub("presign-eager");
    app.vend(&sub, None).await;
    url_for(&app, &sub, "GET", "a").await;
    let (status, body) = post(
        &app,
        "/v1/presign",
        &app.issuer.token(&sub),
        json!({"method": "GET", "key": "a"}),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
}

#[tokio::test]
async fn a_disabled_user_gets_no_url_and_no_form() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("presign-disabled");
    url_for(&app, &sub, "GET", "a").await;
    let user = stsvend::identity::UserId::derive(&app.issuer.issuer, &sub);
    assert!(app.state.store.set_disabled(&user, true).await.unwrap());
    app.state.vend.forget_user(&user).await;
    let token = app.issuer.token(&sub);
    let (status, body) = post(&app, "/v1/presign", &token, json!({"method": "GET", "key": "a"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("user_disabled")));
    let (status, body) = post(&app, "/v1/presign/post", &token, json!({"key": "a"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("user_disabled")));
    assert_eq!(app.state.store.presigns_of(&user, 10).await.unwrap().len(), 1);
}
