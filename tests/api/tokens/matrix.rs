//! The token matrix: each kind of token gets its documented status and code, a
//! `WWW-Authenticate` header, a JSON envelope, and changes nothing.

use serde_json::{Value, json};

use crate::support::*;

struct Case {
    name: &'static str,
    token: Option<String>,
    status: u16,
    code: &'static str,
}

async fn assert_refused(app: &TestApp, case: &Case) {
    let resp = app.post_credentials(case.token.as_deref(), None).await;
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, case.status, "{}: {body}", case.name);
    assert_eq!(body["error"]["code"], case.code, "{}: {body}", case.name);
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        case.name
    );
    if status == 401 {
        let www = www.unwrap_or_else(|| panic!("{}: no WWW-Authenticate", case.name));
        assert!(www.starts_with("Bearer "), "{}: {www}", case.name);
        if case.code != "missing_token" {
            assert!(www.contains(r#"error="invalid_token""#), "{}: {www}", case.name);
        }
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_code_and_changes_nothing() {
    let prefix = private_prefix();
    let app = TestApp::spawn_with(Options::default().set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix)).await;
    let iss = app.issuer.issuer.clone();
    let key = signing_key();
    let sub = unique_sub("matrix");
    let base = app.issuer.claims(&sub);
    let with = |patch: Value| {
        let mut c = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let header_rs = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let good = sign(&base, &key, KID);
    let good_sig = good.rsplit('.').next().unwrap().to_owned();

    let hs256_with_public_key = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(KID.to_owned());
        jsonwebtoken::encode(
            &h,
            &base,
            &jsonwebtoken::EncodingKey::from_secret(SIGNING_PUBLIC_PEM).unwrap(),
        )
        .unwrap()
    };

    let cases = vec![
        Case {
            name: "no Authorization header",
            token: None,
            status: 401,
            code: "missing_token",
        },
        Case {
            name: "expired",
            token: Some(sign(
                &with(json!({"exp": now() - 3600, "iat": now() - 7200})),
                &key,
                KID,
            )),
            status: 401,
            code: "token_expired",
        },
        Case {
            name: "nbf in the future",
            token: Some(sign(&with(json!({"nbf": now() + 3600})), &key, KID)),
            status: 401,
            code: "token_not_yet_valid",
        },
        Case {
            name: "wrong iss",
            token: Some(sign(&with(json!({"iss": "https://evil.example/"})), &key, KID)),
            status: 401,
            code: "invalid_issuer",
        },
        Case {
            name: "iss without its trailing slash",
            token: Some(sign(&with(json!({"iss": iss.trim_end_matches('/')})), &key, KID)),
            status: 401,
            code: "invalid_issuer",
        },
        Case {
            name: "wrong aud",
            token: Some(sign(&with(json!({"aud": "https://other.api/"})), &key, KID)),
            status: 401,
            code: "invalid_audience",
        },
        Case {
            name: "aud array without ours",
            token: Some(sign(
                &with(json!({"aud": ["https://other.api/", format!("{iss}userinfo")]})),
                &key,
                KID,
            )),
            status: 401,
            code: "invalid_audience",
        },
        Case {
            name: "no aud",
            token: Some(sign(&with(json!({"aud": null})), &key, KID)),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "no sub",
            token: Some(sign(&with(json!({"sub": null})), &key, KID)),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "no exp",
            token: Some(sign(&with(json!({"exp": null})), &key, KID)),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "unknown kid",
            token: Some(sign(&base, &key, "no-such-kid")),
            status: 401,
            code: "unknown_key",
        },
        Case {
            name: "characters outside token68",
            token: Some(format!("{}\"", sign(&with(json!({})), &key, KID))),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "a space inside the token",
            token: Some("abc.def ghi".to_owned()),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "no kid",
            token: Some(raw_jwt(&json!({"alg": "RS256", "typ": "JWT"}), &base, &good_sig)),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "alg none",
            token: Some(raw_jwt(&json!({"alg": "none", "typ": "JWT", "kid": KID}), &base, "")),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "HS256 signed with the public key as secret",
            token: Some(hs256_with_public_key),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "RS256 by another key under a known kid",
            token: Some(sign(&base, &other_key(), KID)),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "payload swapped under a valid signature",
            token: Some(raw_jwt(
                &header_rs,
                &with(json!({"sub": "auth0|someone-else"})),
                &good_sig,
            )),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "garbage",
            token: Some("not-a-jwt".to_owned()),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "three garbage segments",
            token: Some("a.b.c".to_owned()),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "typ other than an access token",
            token: Some(raw_jwt(
                &json!({"alg": "RS256", "typ": "dpop+jwt", "kid": KID}),
                &base,
                &good_sig,
            )),
            status: 401,
            code: "invalid_token",
        },
        Case {
            name: "client-credentials token",
            token: Some(sign(
                &with(json!({"sub": "m2m-client@clients", "gty": "client-credentials", "permissions": null})),
                &key,
                KID,
            )),
            status: 401,
            code: "client_credentials_refused",
        },
        Case {
            name: "gty client-credentials with a user-like sub",
            token: Some(sign(&with(json!({"gty": "client-credentials"})), &key, KID)),
            status: 401,
            code: "client_credentials_refused",
        },
    ];
    for case in &cases {
        assert_refused(&app, case).await;
    }
    assert_eq!(app.users_in_db().await, 0, "a refused token must not create a user");
    assert!(
        buckets_named(&prefix).await.is_empty(),
        "a refused token must not create a bucket"
    );
}

#[tokio::test]
async fn a_valid_token_and_an_aud_array_containing_ours_are_accepted() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("valid");
    // The default claims carry aud as [api, userinfo], as Auth0 does with `openid`.
    let v = app.vend(&sub, None).await;
    assert_eq!(v.version, 1);
    let mut claims = app.issuer.claims(&sub);
    claims["aud"] = json!(AUDIENCE);
    let resp = app
        .post_credentials(Some(&sign(&claims, &signing_key(), KID)), None)
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_per_cooldown() {
    let app = TestApp::spawn().await;
    let before = app.issuer.fetches();
    let token = sign(&app.issuer.claims(&unique_sub("kid")), &signing_key(), "rotated-away");
    let first = app.post_credentials(Some(&token), None).await;
    assert_eq!(first.status(), 401);
    assert_eq!(app.issuer.fetches(), before + 1, "an unknown kid triggers one refetch");
    for _ in 0..5 {
        assert_eq!(app.post_credentials(Some(&token), None).await.status(), 401);
    }
    assert_eq!(
        app.issuer.fetches(),
        before + 1,
        "no further refetch within the cooldown"
    );
}

#[tokio::test]
async fn a_newly_published_key_is_accepted_without_restart() {
    let app = TestApp::spawn().await;
    let other = other_key();
    app.issuer
        .state
        .keys
        .lock()
        .unwrap()
        .push(jwk_for(&other, "test-key-2"));
    let token = sign(&app.issuer.claims(&unique_sub("rotate")), &other, "test-key-2");
    let resp = app.post_credentials(Some(&token), None).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

#[tokio::test]
async fn tokens_signed_by_cached_keys_work_while_the_jwks_endpoint_is_down() {
    let app = TestApp::spawn().await;
    app.issuer.state.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let resp = app
        .post_credentials(Some(&app.issuer.token(&unique_sub("down"))), None)
        .await;
    assert_eq!(resp.status(), 200);
    // A kid the cache has never seen cannot be checked while the issuer is down: retry later.
    let token = sign(&app.issuer.claims(&unique_sub("down2")), &signing_key(), "never-seen");
    let resp = app.post_credentials(Some(&token), None).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "jwks_unavailable");
}

#[tokio::test]
async fn client_credentials_tokens_are_accepted_only_when_configured() {
    let app = TestApp::spawn_with(Options::default().set("STSVEND_AUTH__ALLOW_CLIENT_CREDENTIALS", "true")).await;
    let mut claims = app.issuer.claims(&format!("{}@clients", uuid::Uuid::new_v4().simple()));
    claims["gty"] = json!("client-credentials");
    let resp = app
        .post_credentials(Some(&sign(&claims, &signing_key(), KID)), None)
        .await;
    assert_eq!(resp.status(), 200);
}
