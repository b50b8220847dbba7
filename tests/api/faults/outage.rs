//! Faults: AWS unreachable mid-service, the global AWS gate, `SQLite` busy, and stsvend killed
//! with SIGKILL at each step of provisioning.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use stsvend::identity::UserId;

use crate::support::fault_proxy::FaultProxy;
use crate::support::figures::Figures;
use crate::support::process::ServiceProcess;
use crate::support::*;

async fn status_of(app: &TestApp, sub: &str, access: Option<&str>) -> (u16, Option<String>) {
    let body = access.map(|a| serde_json::json!({"access": a}));
    let resp = app.post_credentials(Some(&app.issuer.token(sub)), body).await;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), retry_after)
}

#[tokio::test]
async fn an_aws_outage_serves_cached_keys_refuses_new_ones_and_recovers_by_itself() {
    let proxy = FaultProxy::start().await;
    let prefix = private_prefix();
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "2")
            .set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix),
    )
    .await;
    let warm = unique_sub("warm");
    let cold = unique_sub("cold");
    let before = app.vend(&warm, None).await;

    proxy.down();
    let cached = app.vend(&warm, None).await;
    assert_eq!(
        cached.access_key_id, before.access_key_id,
        "cached keys are still served"
    );
    assert_eq!(
        status_of(&app, &cold, None).await,
        (503, Some("5".to_owned())),
        "new user: provisioning needs S3"
    );
    assert_eq!(
        status_of(&app, &warm, Some("read-only")).await,
        (503, Some("5".to_owned())),
        "known user, uncached access: AssumeRole needs STS"
    );
    // Each failed operation is counted once, by the SDK interceptor, as an outage.
    let text = app.metrics_text().await;
    for series in [
        r#"stsvend_aws_errors_total{kind="unavailable",operation="CreateBucket",service="s3"}"#,
        r#"stsvend_aws_errors_total{kind="unavailable",operation="AssumeRole",service="sts"}"#,
    ] {
        assert_eq!(crate::support::sample(&text, series), Some(1.0), "{series} in:\n{text}");
    }

    proxy.up();
    let recovered = app.vend(&cold, None).await;
    assert!(recovered.bucket.starts_with(&prefix));
    assert_eq!(app.vend(&warm, Some("read-only")).await.access, "read-only");
    // The interrupted first login left exactly one bucket behind: the one now in use (beside
    // the warm user's).
    let mut expected = vec![before.bucket.clone(), recovered.bucket.clone()];
    expected.sort();
    let mut existing = buckets_named(&prefix).await;
    existing.sort();
    assert_eq!(existing, expected);
    Figures {
        faults: 1,
        requests: app.requests_answered().await,
        expected_unavailable: 2,
        ..Figures::default()
    }
    .record("aws_outage");
}

#[tokio::test]
async fn the_global_aws_gate_refuses_new_work_instead_of_queueing_without_bound() {
    let proxy = FaultProxy::start().await;
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_AWS__ENDPOINT_URL", &proxy.url)
            .set("STSVEND_AWS__CALL_TIMEOUT_SECONDS", "1")
            .set("STSVEND_LIMITS__MAX_CONCURRENT_AWS_CALLS", "1"),
    )
    .await;
    // The first user's CreateBucket is held by the proxy, so it keeps the only slot.
    let held = proxy.hold_request("PUT /stsvend-");
    let first = unique_sub("holder");
    let token = app.issuer.token(&first);
    let pending = vend_in_background(&app.base, token);
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap();
    let started = std::time::Instant::now();
    let (status, retry) = status_of(&app, &unique_sub("waiter"), None).await;
    assert_eq!((status, retry.as_deref()), (503, Some("5")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused after the wait limit, not queued"
    );
    proxy.down();
    assert_eq!(pending.await.unwrap().unwrap(), 503);
    Figures {
        faults: 1,
        requests: app.requests_answered().await,
        expected_unavailable: 2,
        ..Figures::default()
    }
    .record("aws_gate");
}

#[tokio::test]
async fn a_busy_database_is_waited_out_and_no_vend_is_lost() {
    let app = TestApp::spawn().await;
    let sub = unique_sub("busy");
    let first = app.vend(&sub, None).await;
    // Another writer holds SQLite's write lock for 1.5 s.
    let db = app.db_dir.path().join("stsvend.db");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holding = Arc::new(AtomicBool::new(true));
    let still = Arc::clone(&holding);
    let holder = std::thread::spawn(move || {
        let mut conn = rusqlite::Connection::open(db).unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        still.store(false, Ordering::SeqCst);
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    // The same keys to the same party again: its audit row exists, nothing waits for the lock.
    let again = app.vend(&sub, None).await;
    assert!(
        holding.load(Ordering::SeqCst),
        "a repeat hand-out did not wait for the lock"
    );
    assert_eq!(again.access_key_id, first.access_key_id);
    // New keys need their row written first: that vend waits the lock out.
    let started = std::time::Instant::now();
    let fresh = app.vend(&sub, Some("read-only")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the vend of new keys waited for the lock"
    );
    holder.join().unwrap();
    assert_ne!(fresh.access_key_id, first.access_key_id);
    let first_rows = app.state.store.key_owner(&first.access_key_id).await.unwrap();
    assert_eq!(
        first_rows.iter().map(|r| r.hand_outs).collect::<Vec<_>>(),
        [2],
        "both hand-outs of the first keys are counted"
    );
    assert_eq!(app.state.store.key_owner(&fresh.access_key_id).await.unwrap().len(), 1);
    Figures {
        faults: 1,
        requests: app.requests_answered().await,
        ..Figures::default()
    }
    .record("sqlite_busy");
}

/// Request-line prefixes of each step of a first login, in order, for one user's bucket
/// (path-style addressing: the SDK puts the bucket in the path, followed by `/`).
/// Each AWS call of a first login, as the start of its request line and a part of it (bucket
/// names are random: `prefix` is the service's private bucket prefix).
fn kill_points(prefix: &str) -> Vec<(&'static str, String, &'static str)> {
    let put = format!("PUT /{prefix}-");
    vec![
        ("CreateBucket", put.clone(), "/ HTTP"),
        ("PutPublicAccessBlock", put.clone(), "/?publicAccessBlock"),
        ("PutBucketOwnershipControls", put.clone(), "/?ownershipControls"),
        ("PutBucketEncryption", put.clone(), "/?encryption"),
        ("PutBucketCors", put.clone(), "/?cors"),
        ("PutBucketTagging", put, "/?tagging"),
        ("AssumeRole", "POST / ".to_owned(), " HTTP"),
    ]
}

#[tokio::test]
async fn sigkill_at_every_step_of_provisioning_leaves_one_bucket_and_one_mapping_per_user() {
    let proxy = FaultProxy::start().await;
    let prefix = private_prefix();
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stsvend.db");
    let env = [
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", db.display().to_string()),
        ("STSVEND_AWS__ENDPOINT_URL", proxy.url.clone()),
        ("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone()),
    ];
    let http = reqwest::Client::new();
    let mut users = Vec::new();
    let (mut kills, mut sent) = (0u64, 0u64);
    // Round 0 kills stsvend before AWS performs each call; round 1 after AWS performed it and
    // before stsvend heard the answer (so recorded state lags what AWS did).
    for round in 0..2 {
        for step in 0..kill_points("x").len() {
            let sub = unique_sub(&format!("kill{round}-{step}"));
            let user_id = UserId::derive(&issuer.issuer, &sub);
            let (name, start, part) = kill_points(&prefix).swap_remove(step);
            let mut service = ServiceProcess::start(&env).await;
            let held = if round == 0 {
                proxy.hold_request_line(&start, part)
            } else {
                proxy.hold_response_to(&start, part)
            };
            let request = vend_in_background(&service.base, issuer.token(&sub));
            sent += 1;
            tokio::time::timeout(Duration::from_secs(20), held)
                .await
                .unwrap_or_else(|_| panic!("{name} (round {round}) never reached AWS:\n{}", service.logs()))
                .unwrap();
            service.kill();
            kills += 1;
            assert!(
                request.await.unwrap().is_err(),
                "{name}: the client sees the connection drop"
            );
            users.push((sub, user_id));
        }
    }

    // After a restart, every interrupted user logs in fine.
    let service = ServiceProcess::start(&env).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut lost = 0;
    for (sub, user_id) in &users {
        sent += 1;
        let resp = http
            .post(format!("{}/v1/credentials", service.base))
            .bearer_auth(issuer.token(sub))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT bucket, state FROM users WHERE user_id = ?1")
            .unwrap()
            .query_map([user_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if rows.len() != 1 {
            lost += 1;
        }
        assert_eq!(
            rows,
            vec![(body["Bucket"].as_str().unwrap().to_owned(), "ready".to_owned())]
        );
    }
    // Exactly one bucket per user, and it is the mapped one: no bucket of this service exists
    // without a mapping, and no mapping points at a missing bucket.
    let mut mapped: Vec<String> = conn
        .prepare("SELECT bucket FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    mapped.sort();
    let mut existing = buckets_named(&prefix).await;
    existing.sort();
    assert_eq!(existing, mapped);
    assert_eq!(mapped.len(), users.len());
    assert!(kills >= 10);
    Figures {
        faults: kills,
        requests: sent,
        mappings_lost: lost,
        ..Figures::default()
    }
    .record("sigkill");
}
