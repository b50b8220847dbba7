//! First login: one bucket per user, configured as promised, created exactly once.

use aws_sdk_s3::types::{ObjectOwnership, ServerSideEncryption};
use futures::future::join_all;
use serde_json::Value;
use stsvend::identity::{BucketName, UserId};
use stsvend::store::ProvisionState;

use crate::support::fault_proxy::FaultProxy;
use crate::support::*;

#[tokio::test]
async fn first_login_creates_a_locked_down_bucket_and_the_second_reuses_it() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("first");
    let first = app.vend(&sub, None).await;
    assert!(first.bucket.starts_with("stsvend-"), "{}", first.bucket);
    let user_id = UserId::derive(&app.issuer.issuer, &sub);
    assert_eq!(first.region, "us-east-1");
    assert_eq!(
        first.endpoint.as_deref(),
        Some(required_env("STSVEND_AWS__ENDPOINT_URL").as_str())
    );
    assert!(first.access_key_id.starts_with("ASIA"), "{}", first.access_key_id);
    let expiration =
        time::OffsetDateTime::parse(&first.expiration, &time::format_description::well_known::Rfc3339).unwrap();
    let lifetime = expiration - time::OffsetDateTime::now_utc();
    assert!((3500..=3600).contains(&lifetime.whole_seconds()), "lifetime {lifetime}");
    assert!(first.expiration.ends_with('Z'));

    let s3 = service_s3();
    let b = first.bucket.as_str();
    let pab = s3.get_public_access_block().bucket(b).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let enc = s3.get_bucket_encryption().bucket(b).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm(),
        &ServerSideEncryption::Aes256
    );
    let own = s3.get_bucket_ownership_controls().bucket(b).send().await.unwrap();
    assert_eq!(
        own.ownership_controls().unwrap().rules()[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    let cors = s3.get_bucket_cors().bucket(b).send().await.unwrap();
    let rule = &cors.cors_rules()[0];
    assert_eq!(
        rule.allowed_origins(),
        app.config.storage.cors_allowed_origins.as_slice()
    );
    for m in ["GET", "PUT", "POST", "DELETE", "HEAD"] {
        assert!(rule.allowed_methods().iter().any(|x| x == m), "CORS method {m}");
    }
    assert_eq!(rule.allowed_headers(), ["*"]);
    assert!(rule.expose_headers().iter().any(|h| h == "ETag"));
    let tags = s3.get_bucket_tagging().bucket(b).send().await.unwrap();
    assert!(
        tags.tag_set()
            .iter()
            .any(|t| t.key() == "stsvend-owner" && t.value() == user_id.as_str())
    );

    let second = app.vend(&sub, None).await;
    assert_eq!(second.bucket, first.bucket);
    assert_eq!(app.users_in_db().await, 1);
    assert_eq!(buckets_named(&first.bucket).await, vec![first.bucket.clone()]);
}

#[tokio::test]
async fn twenty_concurrent_first_requests_create_one_bucket_and_one_row() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("burst");
    let token = app.issuer.token(&sub);
    let responses = join_all((0..20).map(|_| app.post_credentials(Some(&token), None))).await;
    let (key_ids, buckets) = distinct_keys_and_buckets(responses).await;
    assert_eq!(buckets.len(), 1, "one bucket for all 20");
    assert_eq!(key_ids.len(), 1, "concurrent misses share one AssumeRole");
    assert_eq!(app.users_in_db().await, 1);
    assert_eq!(buckets_named(buckets.first().unwrap()).await.len(), 1);
}

#[tokio::test]
async fn me_shows_the_mapping_only_after_first_login() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("me");
    let token = app.issuer.token(&sub);
    let get_me = || app.http.get(format!("{}/v1/me", app.base)).bearer_auth(&token).send();
    let resp = get_me().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(app.users_in_db().await, 0, "GET /v1/me provisions nothing");

    let v = app.vend(&sub, None).await;
    let body: Value = get_me().await.unwrap().json().await.unwrap();
    assert_eq!(body["bucket"], v.bucket.as_str());
    assert_eq!(body["user_id"], UserId::derive(&app.issuer.issuer, &sub).as_str());
    assert_eq!(body["region"], "us-east-1");
    assert_eq!(body["state"], "ready");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_mapping_survives_a_restart() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("restart");
    let before = app.vend(&sub, None).await;
    let stopped = app.stop().await;

    let app = TestApp::spawn_with(Options {
        issuer: Some(stopped.issuer),
        db_dir: Some(stopped.db_dir),
        ..Options::default()
    })
    .await;
    let after = app.vend(&sub, None).await;
    assert_eq!(after.bucket, before.bucket);
    assert_eq!(app.users_in_db().await, 1);
    assert_eq!(buckets_named(&before.bucket).await.len(), 1);
}

#[tokio::test]
async fn provisioning_interrupted_after_create_bucket_completes_on_the_next_request() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("crash");
    let (user_id, bucket) = app.crashed_after_create_bucket(&sub).await;
    assert!(
        service_s3()
            .get_bucket_cors()
            .bucket(bucket.as_str())
            .send()
            .await
            .is_err(),
        "bare bucket has no CORS yet"
    );

    let v = app.vend(&sub, None).await;
    assert_eq!(v.bucket, bucket.as_str());
    let row = app.state.store.user(&user_id).await.unwrap().unwrap();
    assert_eq!(row.state, ProvisionState::Ready);
    let s3 = service_s3();
    assert!(
        s3.get_bucket_cors().bucket(bucket.as_str()).send().await.is_ok(),
        "CORS configured on resume"
    );
    assert!(
        s3.get_public_access_block()
            .bucket(bucket.as_str())
            .send()
            .await
            .is_ok()
    );
    assert_eq!(buckets_named(bucket.as_str()).await.len(), 1);
}

/// Bucket names are public (they appear in every URL), so they must not be computable from
/// the caller's identity: otherwise another account registers a user's names before the user
/// first logs in.
#[tokio::test]
async fn bucket_names_cannot_be_derived_from_the_identity() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (unique_sub("unpredictable-a"), unique_sub("unpredictable-b"));
    let a = app.vend(&alice, None).await;
    let b = app.vend(&bob, None).await;
    for (sub, v) in [(&alice, &a), (&bob, &b)] {
        let id = UserId::derive(&app.issuer.issuer, sub);
        assert!(
            !v.bucket.contains(id.as_str()),
            "{} is derived from the user id {id}",
            v.bucket
        );
        assert!(v.bucket.starts_with("stsvend-"), "{}", v.bucket);
    }
    assert_ne!(a.bucket, b.bucket);
    // The name is recorded: the user keeps it.
    assert_eq!(app.vend(&alice, Some("read-only")).await.bucket, a.bucket);
}

/// A name recorded for a user, then registered by another account before stsvend created it
/// (or by someone who learnt it): the first login moves to a new name, never a 500.
#[tokio::test]
async fn a_bucket_name_taken_by_another_account_moves_to_a_new_name() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("squatted");
    let taken = BucketName::parse(&format!("stsvend-{}", UserId::derive("squatter", &sub))).unwrap();
    let user_id = app.pending_user(&sub, &taken).await;
    other_account_s3()
        .create_bucket()
        .bucket(taken.as_str())
        .send()
        .await
        .unwrap();

    let v = app.vend(&sub, None).await;
    assert_ne!(v.bucket, taken.as_str());
    let row = app.state.store.user(&user_id).await.unwrap().unwrap();
    assert_eq!((row.bucket.as_str(), row.candidate), (v.bucket.as_str(), 1));
    let s3 = user_s3(&v);
    assert_eq!(s3_code(&s3.list_objects_v2().bucket(&v.bucket).send().await), "ok");
    assert_eq!(
        s3_code(&s3.list_objects_v2().bucket(taken.as_str()).send().await),
        "AccessDenied"
    );
    // The choice is stable: the next login keeps the same bucket.
    assert_eq!(app.vend(&sub, Some("read-only")).await.bucket, v.bucket);
}

/// Anyone who can sign up makes a bucket: first logins are rate-limited
/// (`limits.new_users_per_minute`), returning users are not, and a refused first login leaves
/// nothing behind.
#[tokio::test]
async fn first_logins_beyond_the_new_user_rate_get_429_and_leave_nothing_behind() {
    let app = TestApp::spawn_with(Options::default().set("STSVEND_LIMITS__NEW_USERS_PER_MINUTE", "1")).await;
    let first = unique_sub("new-rate-first");
    app.vend(&first, None).await;
    let refused = app
        .post_credentials(Some(&app.issuer.token(&unique_sub("new-rate-second"))), None)
        .await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provisioning_rate_limited");
    assert_eq!(app.users_in_db().await, 1, "no row for the refused user");
    app.vend(&first, None).await;
}

/// `limits.new_users_per_day` bounds first logins in any 24 hours across the fleet, counted
/// in the database: with a limit of 3, users made through two replicas add up, the fourth new
/// user gets 429 `new_user_limit_reached` with Retry-After from either replica, nothing is
/// made for them, and a returning user still gets keys.
async fn the_daily_new_user_limit_holds_across_replicas(postgres: bool) {
    let prefix = private_prefix();
    let url = if postgres {
        Some(crate::support::pg::fresh_database().await)
    } else {
        None
    };
    let opts = || {
        let o = Options::default()
            .set("STSVEND_LIMITS__NEW_USERS_PER_DAY", "3")
            .set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix);
        match &url {
            Some(url) => o.set("STSVEND_DATABASE__URL", url),
            None => o,
        }
    };
    let a = TestApp::spawn_with(opts()).await;
    let b = TestApp::spawn_with(Options {
        db_dir: Some(a.db_dir.clone()),
        issuer: Some(a.issuer.clone()),
        ..opts()
    })
    .await;
    let users: Vec<String> = (0..3).map(|i| unique_sub(&format!("daily-{i}"))).collect();
    a.vend(&users[0], None).await;
    b.vend(&users[1], None).await;
    a.vend(&users[2], None).await;

    let fourth = unique_sub("daily-fourth");
    for (name, app) in [("b", &b), ("a", &a)] {
        let refused = app.post_credentials(Some(&app.issuer.token(&fourth)), None).await;
        assert_eq!(refused.status(), 429, "replica {name}");
        let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(
            (86_000..=86_400).contains(&wait),
            "Retry-After {wait}: room comes back when the first of the three is a day old"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "new_user_limit_reached",
            "replica {name}: {body}"
        );
    }
    assert_eq!(a.users_in_db().await, 3, "no row for the refused user");
    assert_eq!(buckets_named(&prefix).await.len(), 3, "no bucket for the refused user");
    // Returning users are unaffected, on either replica.
    b.vend(&users[0], None).await;
    a.vend(&users[1], None).await;

    let metrics = b.metrics_text().await;
    let sample = |name: &str| crate::support::sample(&metrics, name);
    assert_eq!(
        sample(r#"stsvend_new_users_refused_total{limit="per_day"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(sample("stsvend_buckets "), Some(3.0), "{metrics}");
    assert_eq!(sample("stsvend_bucket_quota "), Some(10_000.0), "{metrics}");
}

#[tokio::test]
async fn the_daily_new_user_limit_holds_across_replicas_on_sqlite() {
    the_daily_new_user_limit_holds_across_replicas(false).await;
}

#[tokio::test]
async fn the_daily_new_user_limit_holds_across_replicas_on_postgres() {
    the_daily_new_user_limit_holds_across_replicas(true).await;
}

/// AWS's bucket quota (`TooManyBuckets`, which `MiniStack` never answers: the fault proxy
/// does) is an outage for new users, not an internal error: 503 `bucket_quota_exhausted` with
/// `Retry-After`, counted in a metric; the user's first login completes once a bucket can be
/// made.
#[tokio::test]
async fn a_full_bucket_quota_answers_503_and_is_counted() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::spawn_with(Options::default().set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)).await;
    proxy.answer_with_error("PUT /stsvend-", "/ HTTP", 1, 400, "TooManyBuckets");
    let sub = unique_sub("quota");
    let refused = app.post_credentials(Some(&app.issuer.token(&sub)), None).await;
    assert_eq!(refused.status(), 503);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 60, "Retry-After {wait}: a quota does not free up in seconds");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bucket_quota_exhausted");
    let metrics = app.metrics_text().await;
    assert_eq!(
        crate::support::sample(&metrics, "stsvend_bucket_quota_exhausted_total"),
        Some(1.0),
        "{metrics}"
    );
    // Once the account has room again, the same user's first login completes.
    let v = app.vend(&sub, None).await;
    assert!(v.bucket.starts_with("stsvend-"));
}

/// `auth.required_claims` (here `email_verified = true`): a token without the claim, or with
/// another value, gets 403 `required_claim_missing` and no bucket (nor, from `/v1/me`, the
/// bucket made for a token that had it); with it, keys.
#[tokio::test]
async fn tokens_without_the_required_claims_get_no_bucket() {
    let prefix = private_prefix();
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AUTH__REQUIRED_CLAIMS__EMAIL_VERIFIED", "true")
            .set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix),
    )
    .await;
    let token_with = |sub: &str, verified: Option<Value>| {
        let mut claims = app.issuer.claims(sub);
        if let Some(v) = verified {
            claims["email_verified"] = v;
        }
        sign(&claims, &signing_key(), KID)
    };
    for (name, verified) in [
        ("missing", None),
        ("false", Some(Value::Bool(false))),
        ("a string", Some(Value::String("true".to_owned()))),
    ] {
        let resp = app
            .post_credentials(Some(&token_with(&unique_sub("unverified"), verified)), None)
            .await;
        assert_eq!(resp.status(), 403, "{name}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "required_claim_missing", "{name}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("email_verified"),
            "{body}"
        );
    }
    assert_eq!(app.users_in_db().await, 0);
    assert!(buckets_named(&prefix).await.is_empty());

    let verified = unique_sub("verified");
    let ok = app
        .post_credentials(Some(&token_with(&verified, Some(Value::Bool(true)))), None)
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(buckets_named(&prefix).await.len(), 1);
    // The same user with a token lacking the claim learns nothing of their storage either.
    let me = app.me_with(&token_with(&verified, Some(Value::Bool(false)))).await;
    assert_eq!(me["error"]["code"], "required_claim_missing", "{me}");
    assert!(me.get("bucket").is_none(), "{me}");
}
