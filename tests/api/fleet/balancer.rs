//! The fleet as it runs: three `stsvend` processes on one database behind `HAProxy`. What holds
//! for the fleet as a whole: one bucket, one mapping and one `AssumeRole` for a burst of first
//! requests of one user, and a replica killed under load costing only its requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::balancer::Balancer;
use crate::support::figures::Figures;
use crate::support::process::ServiceProcess;
use crate::support::*;

/// Concurrent clients in the kill test.
const WORKERS: usize = 16;

/// Three replicas on one fresh `PostgreSQL` database (its URL returned), with a sealing key and
/// the issuer; limits out of the way of the load below (`limits.replicas` is 3 as the README
/// says).
async fn fleet(issuer: &TestIssuer) -> (Vec<ServiceProcess>, String) {
    fleet_with(issuer, &[]).await
}

/// [`fleet`] with more settings.
async fn fleet_with(issuer: &TestIssuer, extra: &[(&'static str, &str)]) -> (Vec<ServiceProcess>, String) {
    let key: Vec<u8> = (100u8..132).collect();
    let url = crate::support::pg::fresh_database().await;
    let mut env = vec![
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__URL", url.clone()),
        (
            "STSVEND_CACHE__SEALING_KEYS",
            format!("1:{}", data_encoding::BASE64.encode(&key)),
        ),
        ("STSVEND_SERVER__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#.to_owned()),
        ("STSVEND_LIMITS__REPLICAS", "3".to_owned()),
        ("STSVEND_LIMITS__VENDS_PER_MINUTE", "300000".to_owned()),
        ("STSVEND_LIMITS__VEND_BURST", "300000".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(ServiceProcess::start(&env).await);
    }
    (replicas, url)
}

async fn users_in(url: &str) -> i64 {
    let (ready, pending) = crate::support::pg::store(url).await.count_users().await.unwrap();
    ready + pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_first_requests_through_the_balancer_make_one_bucket_one_mapping_one_assume_role() {
    let issuer = TestIssuer::start();
    let (replicas, url) = fleet(&issuer).await;
    let bases: Vec<&str> = replicas.iter().map(|r| r.base.as_str()).collect();
    let lb = Balancer::start(&bases).await;

    let sub = unique_sub("lb-burst");
    let token = issuer.token(&sub);
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let requests = (0..1000).map(|_| {
        http.post(format!("{}/v1/credentials", lb.base))
            .bearer_auth(&token)
            .send()
    });
    let responses = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap);
    let (keys, buckets) = distinct_keys_and_buckets(responses).await;
    assert_eq!(buckets.len(), 1, "one bucket name handed out");
    let bucket = buckets.first().unwrap();
    assert_eq!(buckets_named(bucket).await.len(), 1, "one bucket in S3");
    assert_eq!(users_in(&url).await, 1, "one mapping");
    // Every AssumeRole's keys reach at least the request that caused it.
    assert_eq!(keys.len(), 1, "one AssumeRole in the fleet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_under_load_costs_only_its_requests_in_flight() {
    let issuer = TestIssuer::start();
    let (mut replicas, url) = fleet(&issuer).await;
    let bases: Vec<&str> = replicas.iter().map(|r| r.base.as_str()).collect();
    let lb = Balancer::start(&bases).await;

    let subs: Vec<String> = (0..WORKERS * 4).map(|i| unique_sub(&format!("lb-kill-{i}"))).collect();
    let tokens: Arc<Vec<String>> = Arc::new(subs.iter().map(|s| issuer.token(s)).collect());
    let http = reqwest::Client::new();
    let (ok, failed, sent) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let until = Instant::now() + Duration::from_secs(6);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (http, tokens, base) = (http.clone(), Arc::clone(&tokens), lb.base.clone());
            let (ok, failed, sent) = (Arc::clone(&ok), Arc::clone(&failed), Arc::clone(&sent));
            tokio::spawn(async move {
                let mut i = w;
                while Instant::now() < until {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let r = http
                        .post(format!("{base}/v1/credentials"))
                        .bearer_auth(&tokens[i % tokens.len()])
                        .send()
                        .await;
                    // A connection cut by the kill, or a 5xx: both count against the fleet.
                    if r.is_ok_and(|r| r.status() == 200) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    i += WORKERS;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    replicas[1].kill();
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed, sent) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed),
    );
    // At most every worker's request was in flight on the killed replica, once.
    assert!(failed <= WORKERS as u64, "{failed} failed of {sent}");
    assert!(
        ok > sent / 2,
        "the balancer routed around the dead replica: {ok} of {sent}"
    );
    assert_eq!(
        users_in(&url).await,
        i64::try_from(subs.len()).unwrap(),
        "no mapping lost"
    );
    for token in tokens.iter() {
        let r = http
            .post(format!("{}/v1/credentials", lb.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "every user is served after the kill");
    }
    Figures {
        requests: sent,
        faults: 1,
        lost_to_kill: failed,
        ..Figures::default()
    }
    .record("fleet_replica_killed");
    eprintln!("replica killed under load: {failed} of {sent} requests failed (its in-flight ones)");
}

/// A compressed hour: 10-second sessions handed out again while 5 s remain (a 5-second refresh
/// window), 200 users refreshing every second through the balancer for 12 s. However their
/// requests spread over the replicas, each user's keys change at most once per window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshes_through_the_balancer_make_at_most_one_assume_role_per_user_and_window() {
    let issuer = TestIssuer::start();
    let (replicas, _url) = fleet_with(
        &issuer,
        &[
            ("STSVEND_AWS__ALLOW_SHORT_SESSIONS", "true"),
            ("STSVEND_AWS__SESSION_DURATION_SECONDS", "10"),
            ("STSVEND_AWS__MIN_REMAINING_SECONDS", "5"),
        ],
    )
    .await;
    let bases: Vec<&str> = replicas.iter().map(|r| r.base.as_str()).collect();
    let lb = Balancer::start(&bases).await;
    let tokens: Vec<String> = (0..200)
        .map(|i| issuer.token(&unique_sub(&format!("lb-hour-{i}"))))
        .collect();
    let http = reqwest::Client::new();
    // Per user: each distinct key and its expiry.
    let mut seen: Vec<std::collections::BTreeMap<String, String>> =
        vec![std::collections::BTreeMap::new(); tokens.len()];
    let started = Instant::now();
    let mut vends = 0u64;
    while started.elapsed() < Duration::from_secs(12) {
        let round = tokens.iter().map(|t| {
            let req = http.post(format!("{}/v1/credentials", lb.base)).bearer_auth(t);
            async move {
                let r = req.send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.json::<Vended>().await.unwrap()
            }
        });
        for (user, v) in futures::future::join_all(round).await.into_iter().enumerate() {
            seen[user].insert(v.access_key_id, v.expiration);
            vends += 1;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut assume_roles = 0;
    for keys in &seen {
        let mut expiries: Vec<time::OffsetDateTime> = keys
            .values()
            .map(|e| time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).unwrap())
            .collect();
        expiries.sort();
        assume_roles += keys.len();
        for pair in expiries.windows(2) {
            // Expiries are whole seconds: two sets 4 s apart can still fall in different windows.
            assert!(
                pair[1] - pair[0] >= time::Duration::seconds(4),
                "two sets of keys within one window: {keys:?}"
            );
        }
        assert!(
            keys.len() <= 4,
            "12 s hold at most 3 windows (and the first set): {keys:?}"
        );
    }
    eprintln!(
        "{vends} vends by {} users through the balancer: {assume_roles} AssumeRole",
        tokens.len()
    );
}

/// Behind `HAProxy` (`option forwardfor`, as shipped), a client's own `Forwarded` header is
/// passed through untouched: the audit must take the client from the `X-Forwarded-For` the
/// balancer appended, never from the client's claim. The client connects from 127.0.0.7, the
/// balancer reaches the replica from 127.0.0.1 (trusted).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forwarded_header_sent_by_the_client_does_not_forge_the_audited_address() {
    let app = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_SERVER__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)
            .set("STSVEND_ADMIN__PERMISSION", crate::support::admin::ADMIN_PERMISSION),
    )
    .await;
    let lb = Balancer::start(&[app.base.as_str()]).await;
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 7]))
        .build()
        .unwrap();
    let resp = client
        .post(format!("{}/v1/credentials", lb.base))
        .bearer_auth(app.issuer.token(&unique_sub("lb-forged")))
        .header("forwarded", "for=6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Vended = resp.json().await.unwrap();

    let lookup = json_of(
        client
            .get(format!("{}/admin/v1/access-keys/{}", lb.base, v.access_key_id))
            .bearer_auth(crate::support::admin::admin_token(&app)),
    )
    .await;
    assert_eq!(
        lookup["vends"][0]["client_addr"], "127.0.0.7",
        "the real client, not the one it claimed: {lookup}"
    );
    let audit = json_of(
        client
            .get(format!("{}/admin/v1/audit", lb.base))
            .bearer_auth(crate::support::admin::admin_token(&app))
            .header("forwarded", "for=6.6.6.6"),
    )
    .await;
    let actions = audit["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(
        actions.iter().all(|a| a["client_addr"] == "127.0.0.7"),
        "the admin audit too: {audit}"
    );
}
