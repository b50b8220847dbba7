//! What AWS does and `MiniStack` does not, injected by the fault proxy: throttling (S3's
//! `SlowDown`, STS's `Throttling`) and a bucket name that is busy (`OperationAborted`). A
//! short burst is absorbed by a retry; one that lasts answers 503 with `Retry-After`; neither
//! is ever a 500, and nothing is left half-done.

use serde_json::Value;
use stsvend::identity::UserId;

use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

async fn app_behind(proxy: &FaultProxy) -> TestApp {
    TestApp::spawn_with(Options::default().set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)).await
}

/// `stsvend_aws_retries_total` for one AWS operation.
async fn retries(app: &TestApp, operation: &str, service: &str) -> Option<f64> {
    let name = format!(r#"stsvend_aws_retries_total{{operation="{operation}",service="{service}"}}"#);
    sample(&app.metrics_text().await, &name)
}

async fn refused(app: &TestApp, sub: &str) -> (u16, Option<String>, Value) {
    let resp = app.post_credentials(Some(&app.issuer.token(sub)), None).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_s3_slow_down_is_retried_and_the_setting_is_applied() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    proxy.answer_with_error("PUT /stsvend-", "/?cors", 1, 503, "SlowDown");
    let v = app.vend(&unique_sub("slowdown-once"), None).await;
    let cors = service_s3().get_bucket_cors().bucket(&v.bucket).send().await;
    assert!(cors.is_ok(), "CORS applied after the retry");
    assert_eq!(
        retries(&app, "PutBucketCors", "s3").await,
        Some(1.0),
        "the retry is counted"
    );
}

#[tokio::test]
async fn s3_slow_down_that_lasts_answers_503_and_the_next_login_completes() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    proxy.answer_with_error("PUT /stsvend-", "/?cors", 100, 503, "SlowDown");
    let sub = unique_sub("slowdown-lasting");
    let (status, retry, body) = refused(&app, &sub).await;
    assert_eq!((status, retry.is_some()), (503, true), "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable");
    proxy.stop_answering();
    let v = app.vend(&sub, None).await;
    assert!(
        service_s3().get_bucket_cors().bucket(&v.bucket).send().await.is_ok(),
        "the interrupted first login completed"
    );
}

#[tokio::test]
async fn sts_throttling_once_is_retried_and_lasting_throttling_answers_503() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    let sub = unique_sub("throttled");
    app.vend(&sub, None).await;
    proxy.answer_sts_with_error(1, 400, "Throttling");
    let v = app.vend(&sub, Some("read-only")).await;
    assert_eq!(v.access, "read-only");
    assert_eq!(
        retries(&app, "AssumeRole", "sts").await,
        Some(1.0),
        "the retry is counted (and charged to the AssumeRole budget)"
    );

    // A new user: nothing cached, so the vend needs AssumeRole.
    let other = unique_sub("throttled-long");
    proxy.answer_sts_with_error(100, 400, "Throttling");
    let (status, retry, body) = refused(&app, &other).await;
    assert_eq!((status, retry.is_some()), (503, true), "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable");
    proxy.stop_answering();
    app.vend(&other, None).await;
}

/// S3 answers `OperationAborted` to `CreateBucket` of a name with an operation in progress (a
/// recently deleted name, a concurrent create): the first login moves to a new name.
#[tokio::test]
async fn operation_aborted_on_create_bucket_moves_to_a_new_name() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    proxy.answer_with_error("PUT /stsvend-", "/ HTTP", 1, 409, "OperationAborted");
    let sub = unique_sub("aborted");
    let v = app.vend(&sub, None).await;
    let row = app
        .state
        .store
        .user(&UserId::derive(&app.issuer.issuer, &sub))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.bucket.as_str(), row.candidate), (v.bucket.as_str(), 1));
    assert_eq!(buckets_named(&v.bucket).await, vec![v.bucket.clone()]);
}

/// IAM applies a change to the role after a few seconds, and STS refuses `AssumeRole` with
/// `AccessDenied` until then: for the client that is "retry later" (503 with `Retry-After`),
/// not a server fault (500). The log says what to check.
#[tokio::test]
async fn sts_access_denied_answers_503_retry_later() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    proxy.answer_sts_with_error(1, 403, "AccessDenied");
    let sub = unique_sub("role-propagating");
    let (status, retry, body) = refused(&app, &sub).await;
    assert_eq!((status, retry.is_some()), (503, true), "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable");
    app.vend(&sub, None).await;
}

/// AWS answering slower than `aws.call_timeout_seconds` (here one setting of a first login
/// takes 3 s, the timeout is 1 s) is an outage for that request: 503 with `Retry-After`, the
/// bucket left to the next attempt, which completes it once AWS is quick again.
#[tokio::test]
async fn a_setting_slower_than_the_call_timeout_answers_503_and_the_next_login_completes() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "1"),
    )
    .await;
    proxy.add_latency("PUT /stsvend-", "/?tagging", std::time::Duration::from_secs(3));
    let sub = unique_sub("slow-setting");
    let started = std::time::Instant::now();
    let (status, retry, body) = refused(&app, &sub).await;
    assert_eq!((status, retry.is_some()), (503, true), "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the call was cut at its timeout"
    );
    proxy.add_latency("PUT /stsvend-", "/?tagging", std::time::Duration::ZERO);
    let v = app.vend(&sub, None).await;
    let tags = service_s3()
        .get_bucket_tagging()
        .bucket(&v.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tag_set().iter().any(|t| t.key() == "stsvend-owner"),
        "the setting was applied"
    );
}

/// A throttling episode (S3 answering `SlowDown` to every `CreateBucket` for 3 s) outlasts the
/// SDK's retry: 503; once it is over, the same user's first login goes through.
#[tokio::test]
async fn a_slow_down_episode_answers_503_until_it_ends() {
    let proxy = FaultProxy::start().await;
    let app = app_behind(&proxy).await;
    proxy.answer_with_error_for(
        "PUT /stsvend-",
        "/ HTTP",
        std::time::Duration::from_secs(3),
        503,
        "SlowDown",
    );
    let sub = unique_sub("episode");
    let (status, retry, body) = refused(&app, &sub).await;
    assert_eq!((status, retry.is_some()), (503, true), "{body}");
    wait_until(
        std::time::Duration::from_secs(10),
        "the SlowDown episode ends",
        async || !proxy.answering(),
    )
    .await;
    app.vend(&sub, None).await;
}
