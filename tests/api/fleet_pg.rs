//! The fleet's database failing: `PostgreSQL` "restarted" under load (every connection dropped,
//! new ones refused for a while) and the `LISTEN` connection cut. A relay in front of the
//! shared test server stands in for the restart, so no other test loses its database.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::admin::{ADMIN_PERMISSION, admin_ok, user_id_of};
use crate::helpers::*;
use crate::tcp_cut::TcpCut;

/// A replica whose database connections go through `cut`.
async fn replica_through(cut: &TcpCut, url: &str, opts: Options) -> TestApp {
    TestApp::spawn_with(
        opts.set("STSVEND_DATABASE__URL", &crate::pg::through(url, cut.addr))
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
    let url = crate::pg::fresh_database().await;
    let cut = TcpCut::start(crate::pg::server_addr()).await;
    let app = replica_through(&cut, &url, Options::default()).await;
    let known: Vec<String> = (0..10).map(|i| unique_sub(&format!("pg-down-known-{i}"))).collect();
    for sub in &known {
        app.vend(sub, None).await;
        app.vend(sub, None).await;
    }
    // Past a poll of the change feed: nothing in it touches these users.
    tokio::time::sleep(Duration::from_millis(600)).await;

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
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "the balancer is told");

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
    crate::figures::Figures {
        requests: app.requests_answered().await,
        faults: 1,
        expected_unavailable: 1,
        ..Default::default()
    }
    .record("fleet_postgres_down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_listen_connection_cut_the_polled_feed_still_converges() {
    let url = crate::pg::fresh_database().await;
    let a = TestApp::spawn_with(
        Options::default()
            .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)
            .set("STSVEND_DATABASE__URL", &url),
    )
    .await;
    let cut = TcpCut::start(crate::pg::server_addr()).await;
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
