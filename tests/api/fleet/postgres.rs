//! The fleet's database failing: `PostgreSQL` "restarted" under load (every connection dropped,
//! new ones refused for a while) and the `LISTEN` connection cut. A relay in front of the
//! shared test server stands in for the restart, so no other test loses its database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::admin::{ADMIN_PERMISSION, admin_ok, user_id_of};
use crate::support::balancer::Balancer;
use crate::support::process::ServiceProcess;
use crate::support::tcp_cut::TcpCut;
use crate::support::*;

/// A replica whose database connections go through `cut`.
async fn replica_through(cut: &TcpCut, url: &str, opts: Options) -> TestApp {
    TestApp::spawn_with(
        opts.set("STSVEND_DATABASE__URL", &crate::support::pg::through(url, cut.addr))
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
            .set("STSVEND_LIMITS__VEND_BURST", "100000"),
    )
    .await
}

async fn status(app: &TestApp, sub: &str) -> (u16, Option<String>) {
    let r = app.post_credentials(Some(&app.issuer.token(sub)), None).await;
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_cached_users_are_served_new_ones_get_503_and_service_resumes_by_itself() {
    let url = crate::support::pg::fresh_database().await;
    let cut = TcpCut::start(crate::support::pg::server_addr()).await;
    let app = replica_through(&cut, &url, Options::default()).await;
    let known: Vec<String> = (0..10).map(|i| unique_sub(&format!("pg-down-known-{i}"))).collect();
    for sub in &known {
        app.vend(sub, None).await;
        app.vend(sub, None).await;
    }
    // The replica has read the change feed up to its head: nothing left in it touches these
    // users, so they stay cached through the outage.
    let head = feed_head(&url).await;
    assert!(
        holds_within(Duration::from_secs(5), async || {
            crate::support::sample(&app.metrics_text().await, "stsvend_change_feed_read_sequence")
                .is_some_and(|read| read >= head)
        })
        .await,
        "the replica never read the change feed up to {head}"
    );

    // The database goes away: connections dropped, new ones refused.
    cut.refuse(true);
    cut.cut();
    for _ in 0..3 {
        for sub in &known {
            let (code, _) = status(&app, sub).await;
            assert_eq!(code, 200, "a cached user is served while the database is down");
        }
    }
    let (code, retry) = status(&app, &unique_sub("pg-down-new")).await;
    assert_eq!(code, 503, "a new user needs the database");
    assert!(retry.is_some(), "with Retry-After");
    // The balancer keeps the replica (it serves its cached users); the body says why it is
    // degraded, once the database watch has noticed.
    let noticed = Instant::now();
    loop {
        let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
        assert_eq!(ready.status(), 200, "/readyz does not fail on the shared database");
        let body: serde_json::Value = ready.json().await.unwrap();
        if body["status"] == "degraded" {
            assert_eq!(body["checks"]["database"], false, "{body}");
            break;
        }
        assert!(noticed.elapsed() < Duration::from_secs(5), "never degraded: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // It comes back: no restart of stsvend.
    cut.refuse(false);
    let newcomer = unique_sub("pg-back-new");
    let started = Instant::now();
    loop {
        if status(&app, &newcomer).await.0 == 200 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "service did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    crate::support::figures::Figures {
        requests: app.requests_answered().await,
        faults: 1,
        expected_unavailable: 1,
        ..Default::default()
    }
    .record("fleet_postgres_down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_listen_connection_cut_the_polled_feed_still_converges() {
    let url = crate::support::pg::fresh_database().await;
    let a = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_DATABASE__URL", &url),
    )
    .await;
    let cut = TcpCut::start(crate::support::pg::server_addr()).await;
    let b = replica_through(
        &cut,
        &url,
        Options {
            issuer: Some(a.issuer.clone()),
            ..Options::default()
        },
    )
    .await;
    let alice = unique_sub("pg-listen-cut");
    b.vend(&alice, None).await;
    let id = user_id_of(&a, &alice);

    // b loses every connection, its LISTEN included, and cannot reconnect for a moment: the
    // notification of the disable below is sent while nobody on b listens.
    cut.refuse(true);
    cut.cut();
    admin_ok(&a, Method::POST, &format!("/users/{id}/disable")).await;
    let changed = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    cut.refuse(false);
    loop {
        if status(&b, &alice).await.0 == 403 {
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "b still vends to a disabled user {:?} after the change",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The bound: the outage (300 ms) plus one poll period and a reconnect.
    assert!(
        changed.elapsed() < Duration::from_secs(1),
        "converged in {:?}",
        changed.elapsed()
    );
}

/// Concurrent clients of warm users in the balancer test.
const WORKERS: usize = 8;
/// How long `PostgreSQL` stays away in the balancer test.
const OUTAGE: Duration = Duration::from_secs(10);

/// What one request through the balancer answered: its status, the error `code` of a JSON body,
/// and whether it carried `Retry-After`.
struct Answer {
    status: u16,
    code: Option<String>,
    retry_after: bool,
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let retry_after = resp.headers().contains_key("retry-after");
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        code: body["error"]["code"].as_str().map(str::to_owned),
        retry_after,
    }
}

/// One metric's value on a replica's metrics listener.
async fn metric(http: &reqwest::Client, metrics_base: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    crate::support::sample(&text, name)
}

/// The change feed's head now (the last change any replica made).
async fn feed_head(url: &str) -> f64 {
    let head = crate::support::pg::store(url).await.latest_change().await.unwrap();
    #[allow(clippy::cast_precision_loss)] // sequence numbers of a test database stay small
    let head = head as f64;
    head
}

/// Waits (at most `bound`) until every replica has read the change feed up to its head now,
/// so whatever they cached before the changes made so far is dropped.
async fn feed_read_on_all(http: &reqwest::Client, metrics: &[String], url: &str, bound: Duration) -> bool {
    let head = feed_head(url).await;
    holds_within(bound, async || {
        for m in metrics {
            if !metric(http, m, "stsvend_change_feed_read_sequence")
                .await
                .is_some_and(|read| read >= head)
            {
                return false;
            }
        }
        true
    })
    .await
}

/// Waits (at most `bound`) until every replica reports `stsvend_database_up` = `want`.
async fn database_up_on_all(http: &reqwest::Client, metrics: &[String], want: f64, bound: Duration) -> bool {
    holds_within(bound, async || {
        for m in metrics {
            if metric(http, m, "stsvend_database_up").await != Some(want) {
                return false;
            }
        }
        true
    })
    .await
}

/// The fleet as it runs (real processes behind `HAProxy`, health-checked on `/readyz`) with its
/// database away for 10 s under load: every replica keeps serving its cached users, so the
/// balancer must keep them all in; what needs the database answers stsvend's own 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_behind_the_balancer_warm_users_are_served_and_new_ones_get_stsvends_503() {
    let issuer = TestIssuer::start();
    let url = crate::support::pg::fresh_database().await;
    let cut = TcpCut::start(crate::support::pg::server_addr()).await;
    let key: Vec<u8> = (100u8..132).collect();
    let mut replicas = Vec::new();
    let mut metrics = Vec::new();
    for _ in 0..2 {
        let metrics_port = crate::support::balancer::free_port();
        replicas.push(
            ServiceProcess::start(&[
                ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
                ("STSVEND_DATABASE__URL", crate::support::pg::through(&url, cut.addr)),
                ("STSVEND_SERVER__METRICS_BIND", format!("127.0.0.1:{metrics_port}")),
                (
                    "STSVEND_CACHE__SEALING_KEYS",
                    format!("1:{}", data_encoding::BASE64.encode(&key)),
                ),
                ("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION.to_owned()),
                ("STSVEND_LIMITS__REPLICAS", "2".to_owned()),
                ("STSVEND_LIMITS__VENDS_PER_MINUTE", "300000".to_owned()),
                ("STSVEND_LIMITS__VEND_BURST", "300000".to_owned()),
            ])
            .await,
        );
        metrics.push(format!("http://127.0.0.1:{metrics_port}"));
    }
    let http = reqwest::Client::new();
    let post = |base: &str, token: &str| http.post(format!("{base}/v1/credentials")).bearer_auth(token).send();

    // 32 warm users: first logins on one replica, then (past a poll of the change feed, whose
    // "provisioned" entries drop what the others cached) served once by every replica.
    let subs: Vec<String> = (0..32).map(|i| unique_sub(&format!("lb-pg-warm-{i}"))).collect();
    let tokens: Arc<Vec<String>> = Arc::new(subs.iter().map(|s| issuer.token(s)).collect());
    for t in tokens.iter() {
        assert_eq!(post(&replicas[0].base, t).await.unwrap().status(), 200);
    }
    assert!(
        feed_read_on_all(&http, &metrics, &url, Duration::from_secs(5)).await,
        "the replicas never read the change feed's first logins"
    );
    for r in &replicas {
        for t in tokens.iter() {
            assert_eq!(post(&r.base, t).await.unwrap().status(), 200);
        }
    }
    let bases: Vec<&str> = replicas.iter().map(|r| r.base.as_str()).collect();
    let lb = Balancer::start(&bases).await;

    let (ok, sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let outage = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (http, tokens, base) = (http.clone(), Arc::clone(&tokens), lb.base.clone());
            let (ok, sent, outage, stop) = (
                Arc::clone(&ok),
                Arc::clone(&sent),
                Arc::clone(&outage),
                Arc::clone(&stop),
            );
            tokio::spawn(async move {
                let mut i = w;
                let mut refused = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let during = outage.load(Ordering::SeqCst);
                    let r = http
                        .post(format!("{base}/v1/credentials"))
                        .bearer_auth(&tokens[i % tokens.len()])
                        .send()
                        .await;
                    if during {
                        sent.fetch_add(1, Ordering::Relaxed);
                        match r {
                            Ok(r) if r.status() == 200 => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => refused.push(r.status().as_u16()),
                            Err(e) => refused.push(e.status().map_or(0, |s| s.as_u16())),
                        }
                    }
                    i += WORKERS;
                }
                refused
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // PostgreSQL goes away: every connection dropped, new ones refused, for 10 s.
    outage.store(true, Ordering::SeqCst);
    cut.refuse(true);
    cut.cut();
    let down_at = Instant::now();
    let noticed = database_up_on_all(&http, &metrics, 0.0, Duration::from_secs(5)).await;
    let mut ready = Vec::new();
    for r in &replicas {
        let resp = http.get(format!("{}/readyz", r.base)).send().await.unwrap();
        let status = resp.status().as_u16();
        ready.push((status, resp.json::<serde_json::Value>().await.unwrap_or_default()));
    }
    let mut newcomers = Vec::new();
    for i in 0..3 {
        let token = issuer.token(&unique_sub(&format!("lb-pg-new-{i}")));
        newcomers.push(answer(post(&lb.base, &token).await.unwrap()).await);
    }
    let warm_id = stsvend::identity::UserId::derive(&issuer.issuer, &subs[0]);
    let admin_change = answer(
        http.post(format!("{}/admin/v1/users/{warm_id}/disable", lb.base))
            .bearer_auth(crate::support::admin::admin_token_of(&issuer))
            .send()
            .await
            .unwrap(),
    )
    .await;
    tokio::time::sleep(OUTAGE.saturating_sub(down_at.elapsed())).await;

    // It comes back.
    cut.refuse(false);
    outage.store(false, Ordering::SeqCst);
    let up_at = Instant::now();
    let latecomer = issuer.token(&unique_sub("lb-pg-back"));
    let recovered = loop {
        if post(&lb.base, &latecomer).await.is_ok_and(|r| r.status() == 200) {
            break up_at.elapsed();
        }
        assert!(
            up_at.elapsed() < Duration::from_secs(20),
            "a new user is still refused 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, Ordering::SeqCst);
    let mut refused = Vec::new();
    for w in workers {
        refused.extend(w.await.unwrap());
    }
    let (ok, sent) = (ok.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
    eprintln!(
        "database away {OUTAGE:?}: {ok} of {sent} warm requests served; refused: {:?}; recovered in {recovered:?}",
        &refused[..refused.len().min(20)]
    );

    assert!(sent > 100, "the load ran during the outage: {sent} requests");
    assert!(
        ok * 100 >= sent * 99,
        "warm users are served through the balancer while the database is away: {ok} of {sent} (refused: {:?})",
        &refused[..refused.len().min(20)]
    );
    for (status, body) in &ready {
        assert_eq!(*status, 200, "/readyz keeps the replica in the balancer: {body}");
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["checks"]["database"], false, "{body}");
    }
    assert!(noticed, "stsvend_database_up went to 0 on every replica");
    for n in &newcomers {
        assert_eq!(
            (n.status, n.code.as_deref(), n.retry_after),
            (503, Some("service_unavailable"), true),
            "a first login gets stsvend's own 503 with Retry-After"
        );
    }
    assert_eq!(
        (
            admin_change.status,
            admin_change.code.as_deref(),
            admin_change.retry_after
        ),
        (503, Some("service_unavailable"), true),
        "an admin change gets stsvend's own 503 with Retry-After"
    );
    assert!(
        recovered < Duration::from_secs(5),
        "service resumed {recovered:?} after the database came back"
    );
    assert!(
        database_up_on_all(&http, &metrics, 1.0, Duration::from_secs(5)).await,
        "stsvend_database_up is back to 1 on every replica"
    );
    for r in &replicas {
        let logs = r.logs();
        let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(
            (count("database unreachable"), count("database reachable again")),
            (1, 1),
            "one log line per transition:\n{logs}"
        );
        // The change feed's poll fails every few hundred milliseconds while the database is
        // away: one warning when it starts failing and one line when it answers again.
        assert!(
            count("reading the change feed failed") <= 1
                && count("reading the change feed failed") == count("the change feed answers again"),
            "the change feed's outage logged once each way:\n{logs}"
        );
    }
    crate::support::figures::Figures {
        requests: sent,
        faults: 1,
        server_errors: sent - ok,
        expected_unavailable: 4,
        ..Default::default()
    }
    .record("fleet_postgres_down_balanced");
}
