//! `StsvendCredentials` against a stub stsvend: what the SDK receives, which token is sent,
//! which answers are retried and how long it waits, and what errors say.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use stsvend_credentials::{Error, StsvendCredentials, TokenSource};
use support::{Reply, Stub};

const HOUR: Duration = Duration::from_hours(1);
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";

fn provider(stub: &Stub, token: TokenSource) -> StsvendCredentials {
    StsvendCredentials::builder(&stub.url).token(token).build().unwrap()
}

#[tokio::test]
async fn the_sdk_gets_the_vended_keys_with_their_expiry_for_the_bearer_token() {
    let stub = Stub::start(vec![Reply::vend("ASIAONE", HOUR)]).await;
    let p = StsvendCredentials::builder(format!("{}/", stub.url))
        .token(TokenSource::value(format!("Bearer {JWT}")))
        .access("read-only")
        .build()
        .unwrap();
    let creds = p.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "ASIAONE");
    assert_eq!(creds.secret_access_key(), "secret-of-ASIAONE");
    assert_eq!(creds.session_token(), Some("session-of-ASIAONE"));
    let left = creds.expiry().unwrap().duration_since(SystemTime::now()).unwrap();
    assert!(left + Duration::from_secs(5) > HOUR && left <= HOUR, "{left:?}");

    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/v1/credentials")
    );
    assert_eq!(seen[0].authorization, format!("Bearer {JWT}"));
    assert_eq!(seen[0].body, r#"{"access":"read-only"}"#);

    // The storage comes from that same vend.
    let storage = p.storage().await.unwrap();
    assert_eq!(storage.place(), "s3://stsvend-stub/users/u1/");
    assert_eq!(storage.key("a.txt"), "users/u1/a.txt");
    assert_eq!(
        (storage.region.as_str(), storage.access.as_str()),
        ("eu-west-1", "read-write")
    );
    assert_eq!(storage.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn keys_near_their_expiry_are_vended_again_and_fresh_ones_are_reused() {
    let stub = Stub::start(vec![
        Reply::vend("ASIAFRESH", HOUR),
        Reply::vend("ASIASHORT", Duration::from_secs(20)),
        Reply::vend("ASIANEXT", HOUR),
    ])
    .await;
    let p = provider(&stub, TokenSource::value(JWT));
    assert_eq!(p.storage().await.unwrap().bucket, "stsvend-stub");
    assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "ASIAFRESH");
    assert_eq!(
        stub.seen().len(),
        1,
        "an hour left: the storage call's vend serves the SDK"
    );

    assert_eq!(p.vend().await.unwrap().credentials.access_key_id(), "ASIASHORT");
    assert_eq!(p.provide_credentials().await.unwrap().access_key_id(), "ASIANEXT");
    assert_eq!(stub.seen().len(), 3, "20 s left: the SDK's refresh gets a new vend");
}

#[tokio::test]
async fn a_token_file_is_read_again_for_each_vend() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "Bearer first.jwt.sig\n").unwrap();
    let stub = Stub::start(vec![Reply::vend("ASIAA", HOUR), Reply::vend("ASIAB", HOUR)]).await;
    let p = provider(&stub, TokenSource::file(&file));
    p.vend().await.unwrap();
    std::fs::write(&file, "second.jwt.sig").unwrap();
    p.vend().await.unwrap();
    let auth: Vec<String> = stub.seen().into_iter().map(|s| s.authorization).collect();
    assert_eq!(auth, ["Bearer first.jwt.sig", "Bearer second.jwt.sig"]);
}

#[tokio::test]
async fn a_failing_token_closure_stops_the_vend_before_any_request() {
    let stub = Stub::start(vec![Reply::vend("ASIAA", HOUR)]).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let p = provider(
        &stub,
        TokenSource::from_fn(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Err::<String, _>("the login session ended") }
        }),
    );
    let e = p.vend().await.unwrap_err();
    assert!(matches!(e, Error::Token { .. }), "{e:?}");
    assert_eq!(e.to_string(), "no token: the login session ended");
    assert!(!e.is_retryable());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(stub.seen().is_empty());
}

#[tokio::test]
async fn rate_limited_is_retried_once_retry_after_has_passed() {
    let stub = Stub::start(vec![
        Reply::error(429, "rate_limited", Some(1)),
        Reply::vend("ASIAOK", HOUR),
    ])
    .await;
    let p = provider(&stub, TokenSource::value(JWT));
    let started = Instant::now();
    let creds = p.provide_credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), "ASIAOK");
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(stub.seen().len(), 2);
}

#[tokio::test]
async fn unavailable_is_retried_with_backoff_then_reported_with_its_code() {
    let stub = Stub::start(vec![
        Reply::error(503, "service_unavailable", None),
        Reply::error(502, "bad_gateway", None),
        Reply::error(503, "jwks_unavailable", Some(0)),
    ])
    .await;
    let p = provider(&stub, TokenSource::value(JWT));
    let e = p.vend().await.unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
    assert_eq!(e.code(), Some("jwks_unavailable"));
    assert_eq!(
        e.to_string(),
        "stsvend is unavailable: 503 jwks_unavailable: stub says jwks_unavailable (retry after 0 s)"
    );
    assert!(e.is_retryable());
    assert_eq!(stub.seen().len(), 3, "three attempts in all");
}

#[tokio::test]
async fn a_refused_or_forbidden_token_is_never_retried() {
    for (status, code) in [(401, "token_expired"), (403, "user_disabled"), (400, "unknown_access")] {
        let stub = Stub::start(vec![
            Reply::error(status, code, Some(1)),
            Reply::vend("ASIANEVER", HOUR),
        ])
        .await;
        let p = provider(&stub, TokenSource::value(JWT));
        let started = Instant::now();
        let e = p.vend().await.unwrap_err();
        match status {
            401 => assert!(matches!(e, Error::Unauthorized(_)), "{e:?}"),
            403 => assert!(matches!(e, Error::Forbidden(_)), "{e:?}"),
            _ => assert!(matches!(e, Error::Rejected(_)), "{e:?}"),
        }
        assert_eq!(e.code(), Some(code));
        assert_eq!(e.api().unwrap().status, status);
        assert!(!e.is_retryable());
        assert_eq!(stub.seen().len(), 1, "{code}: asked once");
        assert!(started.elapsed() < Duration::from_secs(1), "{code}: no pause");
        assert!(
            !format!("{e} {e:?}").contains(JWT),
            "{code}: the token leaked into {e:?}"
        );
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_returned_at_once_with_its_wait() {
    let stub = Stub::start(vec![Reply::error(503, "bucket_quota_exhausted", Some(300))]).await;
    let p = provider(&stub, TokenSource::value(JWT));
    let started = Instant::now();
    let e = p.vend().await.unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_mins(5)));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn the_sdk_error_carries_stsvends_code_and_every_vend_reaches_the_hook() {
    let stub = Stub::start(vec![
        Reply::vend("ASIAHOOK", HOUR),
        Reply::error(401, "token_expired", None),
    ])
    .await;
    let seen_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ids = Arc::clone(&seen_ids);
    let p = StsvendCredentials::builder(&stub.url)
        .token(TokenSource::value(JWT))
        .on_vend(move |v| ids.lock().unwrap().push(v.credentials.access_key_id().to_owned()))
        .build()
        .unwrap();
    p.vend().await.unwrap();
    let e = p.vend().await.unwrap_err();
    let sdk_error = aws_credential_types::provider::error::CredentialsError::from(e);
    let mut chain = vec![sdk_error.to_string()];
    let mut cause = std::error::Error::source(&sdk_error);
    while let Some(c) = cause {
        chain.push(c.to_string());
        cause = c.source();
    }
    assert!(chain.iter().any(|m| m.contains("401 token_expired")), "{chain:?}");
    assert_eq!(*seen_ids.lock().unwrap(), ["ASIAHOOK"]);
    let shown = format!("{p:?}");
    assert!(!shown.contains(JWT), "{shown}");
}

#[tokio::test]
async fn an_unreachable_stsvend_is_a_transport_error_after_the_retries() {
    // A port nobody listens on: bound, then closed.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let p = StsvendCredentials::builder(format!("http://{addr}"))
        .token(TokenSource::value(JWT))
        .max_attempts(2)
        .build()
        .unwrap();
    let e = p.vend().await.unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.to_string().starts_with("could not reach stsvend"), "{e}");
}
