//! Concurrency and load against the real binary: a stampede of first logins, and a minute of
//! mixed traffic (warm users, new users, invalid tokens) with no 5xx and stable memory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;

use crate::support::figures::Figures;
use crate::support::process::ServiceProcess;
use crate::support::*;

/// Lifts the per-user vend rate so load tests measure the service, not the limiter.
fn unlimited(issuer: &TestIssuer, db: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", db.display().to_string()),
        ("STSVEND_LIMITS__VENDS_PER_MINUTE", "1000000".to_owned()),
        ("STSVEND_LIMITS__VEND_BURST", "1000000".to_owned()),
        // The mixed load makes new users continuously (thousands a minute): the first-login
        // limits are tested on their own (provisioning.rs).
        ("STSVEND_LIMITS__NEW_USERS_PER_MINUTE", "1000000".to_owned()),
        ("STSVEND_LIMITS__NEW_USERS_PER_DAY", "0".to_owned()),
        (
            "RUST_LOG",
            "warn,stsvend=info,stsvend::http=warn,stsvend::aws::sts=warn,stsvend::provision=warn".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn two_hundred_concurrent_first_logins_of_fifty_users_make_fifty_buckets() {
    let issuer = TestIssuer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stsvend.db");
    let prefix = private_prefix();
    let mut env = unlimited(&issuer, &db);
    env.push(("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone()));
    let service = ServiceProcess::start(&env).await;
    let http = reqwest::Client::new();
    let subs: Vec<String> = (0..50).map(|i| unique_sub(&format!("stampede{i}"))).collect();
    let requests = (0..200).map(|i| {
        let sub = subs[i % 50].clone();
        let req = http
            .post(format!("{}/v1/credentials", service.base))
            .bearer_auth(issuer.token(&sub));
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (sub, status, body["Bucket"].as_str().unwrap_or_default().to_owned())
        }
    });
    let results = join_all(requests).await;
    let server_errors = results.iter().filter(|(_, s, _)| *s >= 500).count();
    assert_eq!(server_errors, 0);
    assert!(results.iter().all(|(_, s, _)| *s == 200));
    let mut by_user: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (sub, _, bucket) in &results {
        by_user.entry(sub.clone()).or_default().insert(bucket.clone());
    }
    assert_eq!(by_user.len(), 50);
    assert!(by_user.values().all(|b| b.len() == 1), "each user saw one bucket");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM users WHERE state = 'ready'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 50);
    // Exactly the fifty mapped buckets exist: none left over from a lost race.
    let existing: BTreeSet<String> = buckets_named(&prefix).await.into_iter().collect();
    let ours: BTreeSet<String> = by_user.values().flatten().cloned().collect();
    assert_eq!(existing, ours);
    Figures {
        requests: results.len() as u64,
        ..Figures::default()
    }
    .record("stampede");
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    refused: AtomicU64,
    server_errors: AtomicU64,
    other: AtomicU64,
}

#[tokio::test]
async fn a_minute_of_mixed_load_has_no_5xx_and_stable_memory() {
    const DURATION: Duration = Duration::from_mins(1);
    const WORKERS: usize = 12;
    let issuer = Arc::new(TestIssuer::start());
    let dir = tempfile::tempdir().unwrap();
    let service = ServiceProcess::start(&unlimited(&issuer, &dir.path().join("stsvend.db"))).await;
    let base = service.base.clone();
    let http = reqwest::Client::new();
    let warm: Vec<String> = (0..20)
        .map(|i| issuer.token(&unique_sub(&format!("warm{i}"))))
        .collect();
    for t in &warm {
        assert_eq!(
            http.post(format!("{base}/v1/credentials"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let invalid = sign(&issuer.claims("auth0|x"), &other_key(), KID);
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let workers = (0..WORKERS).map(|w| {
        let (http, base, warm, invalid, tally, issuer) = (
            http.clone(),
            base.clone(),
            warm.clone(),
            invalid.clone(),
            Arc::clone(&tally),
            Arc::clone(&issuer),
        );
        tokio::spawn(async move {
            let mut i = 0usize;
            while started.elapsed() < DURATION {
                i += 1;
                // Mostly warm vends; every 10th a new user; every 7th an invalid token.
                let token = if i.is_multiple_of(10) {
                    issuer.token(&unique_sub(&format!("new{w}-{i}")))
                } else if i.is_multiple_of(7) {
                    invalid.clone()
                } else {
                    warm[(w + i) % warm.len()].clone()
                };
                let status = match http
                    .post(format!("{base}/v1/credentials"))
                    .bearer_auth(token)
                    .send()
                    .await
                {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 599,
                };
                let counter = match status {
                    200 => &tally.ok,
                    401 => &tally.refused,
                    500..=599 => &tally.server_errors,
                    _ => &tally.other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let mut rss = Vec::new();
    let sampler = async {
        while started.elapsed() < DURATION {
            tokio::time::sleep(Duration::from_secs(5)).await;
            rss.push(service.rss_kib());
        }
    };
    let ((), done) = tokio::join!(sampler, join_all(workers));
    for worker in done {
        worker.unwrap();
    }

    let (ok, refused) = (tally.ok.load(Ordering::Relaxed), tally.refused.load(Ordering::Relaxed));
    let (server_errors, other) = (
        tally.server_errors.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
    );
    let total = ok + refused + server_errors + other;
    eprintln!(
        "mixed load: {total} requests in {DURATION:?}: {ok} ok, {refused} refused, {server_errors} 5xx; RSS KiB {rss:?}"
    );
    assert_eq!(server_errors, 0, "no 5xx under load");
    assert_eq!(other, 0, "only 200 and 401 are expected");
    assert!(
        ok > 1000 && refused > 100,
        "the load really ran: {ok} ok, {refused} refused"
    );
    // Memory settles once caches are warm: the second half of the run may not grow by more
    // than 16 MiB (new users add about a kilobyte each).
    let (mid, last) = (rss[rss.len() / 2], *rss.last().unwrap());
    assert!(
        last <= mid + 16 * 1024,
        "RSS grew from {mid} KiB to {last} KiB in the second half"
    );
    Figures {
        requests: total,
        server_errors,
        ..Figures::default()
    }
    .record("mixed_load");
}
