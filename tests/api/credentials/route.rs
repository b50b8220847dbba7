//! Request handling around the vend: bodies, access levels, caching, audit, errors.

use serde_json::{Value, json};
use stsvend::identity::UserId;

use crate::support::*;

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn bad_request_bodies_get_clear_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let token = app.issuer.token(&unique_sub("bodies"));
    let url = format!("{}/v1/credentials", app.base);
    let post = |ct: Option<&str>, body: &str| {
        let mut r = app.http.post(&url).bearer_auth(&token).body(body.to_owned());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (
            Some("application/json"),
            r#"{"access": "admin"}"#.into(),
            400,
            "unknown_access",
        ),
        (
            Some("application/json"),
            r#"{"access": "read-write", "bucket": "x"}"#.into(),
            400,
            "invalid_body",
        ),
        (Some("application/json"), r#"{"access": 5}"#.into(), 400, "invalid_body"),
        (Some("application/json"), "{not json".into(), 400, "invalid_body"),
        (
            Some("text/plain"),
            r#"{"access": "read-only"}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (None, r#"{"access": "read-only"}"#.into(), 415, "unsupported_media_type"),
        (
            Some("application/json"),
            format!(r#"{{"access": "{}"}}"#, "a".repeat(10_000)),
            413,
            "payload_too_large",
        ),
    ];
    for (ct, body, status, code) in cases {
        let got = error_of(post(ct, &body).await.unwrap()).await;
        assert_eq!(
            got,
            (status, code.to_owned()),
            "content-type {ct:?}, body {}",
            &body[..body.len().min(60)]
        );
    }
    assert_eq!(app.users_in_db().await, 0);
    // A JSON content type with a charset and an empty body are both fine.
    assert_eq!(
        post(Some("application/json; charset=utf-8"), r#"{"access":"read-only"}"#)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(post(None, "").await.unwrap().status(), 200);
}

#[tokio::test]
async fn asking_beyond_the_tokens_scopes_is_forbidden() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("scoped");
    let mut claims = app.issuer.claims(&sub);
    claims["scope"] = json!("openid read:files");
    claims["permissions"] = json!(["read:files"]);
    let token = sign(&claims, &signing_key(), KID);

    let resp = app.post_credentials(Some(&token), None).await;
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer realm="stsvend", error="insufficient_scope""#
    );
    assert_eq!(
        error_of(resp).await,
        (403, "insufficient_scope".to_owned()),
        "default read-write needs write:files"
    );
    assert_eq!(app.users_in_db().await, 0);
    let ok = app
        .post_credentials(Some(&token), Some(json!({"access": "read-only"})))
        .await;
    assert_eq!(ok.status(), 200);

    // A permission alone (Auth0 RBAC, no scope) also grants.
    claims["scope"] = json!("openid");
    claims["permissions"] = json!(["write:files"]);
    let ok = app
        .post_credentials(Some(&sign(&claims, &signing_key(), KID)), None)
        .await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn cached_credentials_are_reused_and_every_party_they_reach_is_audited() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("cache");
    let a = app.vend(&sub, None).await;
    let b = app.vend(&sub, None).await;
    let c = app.vend(&sub, None).await;
    assert_eq!(a.access_key_id, b.access_key_id, "second vend is served from the cache");
    assert_eq!(
        (a.expiration.as_str(), &c.access_key_id),
        (b.expiration.as_str(), &a.access_key_id)
    );
    let ro = app.vend(&sub, Some("read-only")).await;
    assert_ne!(ro.access_key_id, a.access_key_id, "cache is per (user, access)");

    // The same keys reaching another OAuth client of the same user is a new party.
    let mut claims = app.issuer.claims(&sub);
    claims["azp"] = json!("desktop-sync");
    let other = app
        .post_credentials(Some(&sign(&claims, &signing_key(), KID)), None)
        .await;
    assert_eq!(other.status(), 200);
    let other: Vended = other.json().await.unwrap();
    assert_eq!(other.access_key_id, a.access_key_id);

    let owner = UserId::derive(&app.issuer.issuer, &sub);
    let rows = app.state.store.key_owner(&a.access_key_id).await.unwrap();
    assert!(rows.iter().all(|r| r.user_id == owner.as_str()));
    let mut parties: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.client_id.as_deref(),
                r.client_addr.as_deref(),
                r.hand_outs,
                r.from_cache,
            )
        })
        .collect();
    parties.sort_unstable();
    assert_eq!(
        parties,
        [
            (Some("desktop-sync"), Some("127.0.0.1"), 1, true),
            (Some("test-spa"), Some("127.0.0.1"), 3, false),
        ],
        "one row per party, counting its hand-outs"
    );
    let spa = rows
        .iter()
        .find(|r| r.client_id.as_deref() == Some("test-spa"))
        .unwrap();
    assert!(spa.last_at >= spa.vended_at);
    let ro_rows = app.state.store.key_owner(&ro.access_key_id).await.unwrap();
    assert_eq!((ro_rows.len(), ro_rows[0].hand_outs), (1, 1));
}

#[tokio::test]
async fn responses_have_the_credential_process_shape_and_no_caching() {
    let app = TestApp::spawn().await;
    let resp = app
        .post_credentials(Some(&app.issuer.token(&unique_sub("shape"))), None)
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "Bucket",
        "Prefix",
        "Region",
        "Access",
        "Endpoint",
    ] {
        assert!(keys.contains(&k), "missing {k} in {keys:?}");
    }
    assert_eq!(keys.len(), 10);
    assert_eq!(body["Prefix"], "", "bucket mode: the bucket is the caller's own");
    assert_eq!(body["Version"], 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = TestApp::spawn().await;
    let resp = app.http.get(format!("{}/v1/nope", app.base)).send().await.unwrap();
    assert_eq!(error_of(resp).await, (404, "not_found".to_owned()));
    let resp = app
        .http
        .get(format!("{}/v1/credentials", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await, (405, "method_not_allowed".to_owned()));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let h = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r = json_of(app.http.get(format!("{}/readyz", app.base))).await;
    assert_eq!(r["checks"], json!({"database": true, "jwks": true}));
}

#[tokio::test]
async fn readiness_waits_for_the_jwks() {
    let issuer = TestIssuer::start();
    issuer.state.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let db = tempfile::tempdir().unwrap();
    let config = test_config(&issuer.issuer, &db.path().join("s.db"), &[]);
    let app = stsvend::app::Application::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.server_handle();
    tokio::spawn(app.run_until_stopped());
    let resp = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["jwks"], false);
    handle.stop(false).await;
}

#[tokio::test]
async fn an_unreachable_aws_answers_503_with_retry_after() {
    // Nothing listens on port 9 of loopback: every AWS call fails to connect.
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", "http://127.0.0.1:9")
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "2"),
    )
    .await;
    let resp = app
        .post_credentials(Some(&app.issuer.token(&unique_sub("outage"))), None)
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(
        !text.contains("127.0.0.1") && !text.to_lowercase().contains("dispatch"),
        "no internals: {text}"
    );
}

#[tokio::test]
async fn cached_credentials_are_not_handed_out_below_min_remaining() {
    // 900 s sessions of which at least 899 s must remain: a cached entry lasts about a second.
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__SESSION_DURATION_SECONDS", "900")
            .set("STSVEND_AWS__MIN_REMAINING_SECONDS", "899"),
    )
    .await;
    let sub = unique_sub("refresh");
    let first = app.vend(&sub, None).await;
    // Checked every 250 ms (within the vend burst): the cached keys give way to new ones once
    // less than 899 s of them remain.
    let second = within_every(
        std::time::Duration::from_secs(3),
        std::time::Duration::from_millis(250),
        async || {
            let v = app.vend(&sub, None).await;
            (v.access_key_id != first.access_key_id).then_some(v)
        },
    )
    .await
    .expect("stale credentials were still handed out 3 s later");
    assert!(second.expiration > first.expiration);
}

#[tokio::test]
async fn a_user_over_the_vend_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "1")
            .set("STSVEND_LIMITS__VEND_BURST", "2"),
    )
    .await;
    let sub = unique_sub("eager");
    app.vend(&sub, None).await;
    app.vend(&sub, None).await;
    let resp = app.post_credentials(Some(&app.issuer.token(&sub)), None).await;
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(error_of(resp).await, (429, "rate_limited".to_owned()));
    app.vend(&unique_sub("patient"), None).await;
}
