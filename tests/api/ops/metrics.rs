//! Prometheus metrics on their own listener.

use crate::support::*;

#[tokio::test]
async fn metrics_count_vends_aws_calls_caches_and_users() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("metrics");
    app.vend(&sub, None).await;
    app.vend(&sub, None).await;
    let bad = app.post_credentials(Some("not.a.token"), None).await;
    assert_eq!(bad.status(), 401);

    let resp = app
        .http
        .get(format!("{}/metrics", app.metrics_base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let expect = [
        (r#"stsvend_vends_total{access="read-write",outcome="ok"}"#, 2.0),
        (r#"stsvend_vends_total{access="-",outcome="invalid_token"}"#, 1.0),
        (r#"stsvend_aws_calls_total{operation="AssumeRole",service="sts"}"#, 1.0),
        (r#"stsvend_aws_calls_total{operation="CreateBucket",service="s3"}"#, 1.0),
        (
            r#"stsvend_aws_calls_total{operation="PutBucketCors",service="s3"}"#,
            1.0,
        ),
        (r#"stsvend_cache_lookups_total{cache="credentials",result="hit"}"#, 1.0),
        (r#"stsvend_cache_lookups_total{cache="credentials",result="miss"}"#, 1.0),
        (r#"stsvend_cache_lookups_total{cache="mappings",result="miss"}"#, 1.0),
        (r#"stsvend_cache_lookups_total{cache="mappings",result="hit"}"#, 1.0),
        ("stsvend_users_provisioned_total", 1.0),
        ("stsvend_provision_duration_seconds_count", 1.0),
        ("stsvend_users ", 1.0),
        (
            r#"stsvend_request_duration_seconds_count{route="/v1/credentials"}"#,
            3.0,
        ),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&text, name), Some(value), "{name} in:\n{text}");
    }
    assert!(sample(&text, r#"stsvend_jwks_refreshes_total{outcome="ok"}"#).is_some_and(|v| v >= 1.0));
    // The first login's answers it acts on (a bucket not there yet, one without a policy) are
    // calls, not failures: nothing failed here.
    assert_eq!(sample(&text, "stsvend_aws_errors_total"), None, "{text}");
    // Metrics stay off the public API.
    let api = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(api.status(), 404);
}
