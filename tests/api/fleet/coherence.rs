//! Several replicas on one database: a change made through one (disable, enable, revoke,
//! delete) holds on the others within a second, through the change feed each replica polls
//! (`vend/coherence.rs`). Each replica here is a whole `Application` with caches of its own.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::admin::{ADMIN_PERMISSION, admin_ok, put, user_id_of};
use crate::support::figures::Figures;
use crate::support::*;

/// The promise: a change made anywhere holds everywhere within this.
const BOUND: Duration = Duration::from_secs(1);

/// The sealing key every replica of a test fleet shares (`cache.sealing_keys`).
fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

/// A replica's settings: the fleet's sealing key, and no per-user rate limit in the way of
/// the polling below.
fn replica(opts: Options) -> Options {
    opts.set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys())
        .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
        .set("STSVEND_LIMITS__VEND_BURST", "100000")
}

/// Where the replicas keep their state.
#[derive(Clone, Copy)]
enum Backend {
    /// One `SQLite` file (several processes on one host).
    Sqlite,
    /// A fresh `PostgreSQL` database (the fleet).
    Postgres,
}

/// Two replicas on one database.
async fn replicas(backend: Backend) -> (TestApp, TestApp) {
    let mut apps = fleet_of(backend, 2).await;
    let b = apps.pop().unwrap();
    (apps.pop().unwrap(), b)
}

/// `n` replicas on one database; the first has the admin API.
async fn fleet_of(backend: Backend, n: usize) -> Vec<TestApp> {
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::support::pg::fresh_database().await),
    };
    let on = |opts: Options| match &url {
        Some(url) => replica(opts.set("STSVEND_DATABASE__URL", url)),
        None => replica(opts),
    };
    let first = TestApp::spawn_with(on(Options::default().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION))).await;
    let mut apps = Vec::new();
    for _ in 1..n {
        apps.push(
            TestApp::spawn_with(on(Options {
                db_dir: Some(first.db_dir.clone()),
                issuer: Some(first.issuer.clone()),
                ..Options::default()
            }))
            .await,
        );
    }
    apps.insert(0, first);
    apps
}

/// `AssumeRole` calls a replica made, from its metrics.
async fn assume_role_calls(app: &TestApp) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with(r#"stsvend_aws_calls_total{operation="AssumeRole",service="sts"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_over_two_replicas_make_one_bucket_one_mapping_one_assume_role() {
    let (a, b) = replicas(Backend::Postgres).await;
    let sub = unique_sub("fleet-burst");
    let token = a.issuer.token(&sub);
    let requests = (0..100).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post_credentials(Some(&token), None)
    });
    let (keys, buckets) = distinct_keys_and_buckets(futures::future::join_all(requests).await).await;
    assert_eq!(buckets.len(), 1, "one bucket");
    assert_eq!(a.users_in_db().await, 1, "one mapping");
    assert_eq!(keys.len(), 1, "one set of keys in the fleet");
    assert_eq!(
        assume_role_calls(&a).await + assume_role_calls(&b).await,
        1,
        "one AssumeRole in the fleet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshes_spread_over_replicas_ask_sts_once_per_user() {
    let (a, b) = replicas(Backend::Postgres).await;
    let users: Vec<String> = (0..40).map(|i| unique_sub(&format!("fleet-refresh-{i}"))).collect();
    for round in 0..3 {
        for (i, sub) in users.iter().enumerate() {
            let app = if (i + round) % 2 == 0 { &a } else { &b };
            app.vend(sub, None).await;
        }
    }
    let calls = assume_role_calls(&a).await + assume_role_calls(&b).await;
    assert_eq!(
        calls,
        users.len() as u64,
        "one AssumeRole per user across both replicas"
    );
}

async fn vend_status(app: &TestApp, token: &str) -> (u16, Option<Vended>) {
    let resp = app.post_credentials(Some(token), None).await;
    let status = resp.status().as_u16();
    let body = if status == 200 { resp.json().await.ok() } else { None };
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_through_one_replica_holds_on_another_within_a_second_on_postgres() {
    Box::pin(change_holds_everywhere_within_a_second(
        Backend::Postgres,
        "fleet_coherence_postgres",
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_through_one_process_holds_on_another_on_one_sqlite_file() {
    Box::pin(change_holds_everywhere_within_a_second(
        Backend::Sqlite,
        "fleet_coherence_sqlite",
    ))
    .await;
}

/// The time from `changed` until `probe` holds on every one of `apps`.
async fn held_on_all(apps: &[TestApp], changed: Instant, probe: impl AsyncFn(&TestApp) -> bool) -> Duration {
    let mut worst = Duration::ZERO;
    for app in apps {
        loop {
            if probe(app).await {
                break;
            }
            assert!(changed.elapsed() < Duration::from_secs(5), "the change never held");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        worst = worst.max(changed.elapsed());
    }
    worst
}

async fn change_holds_everywhere_within_a_second(backend: Backend, figures: &str) {
    let apps = fleet_of(backend, 3).await;
    let (a, others) = apps.split_first().unwrap();
    let alice = unique_sub("fleet-alice");
    let token = a.issuer.token(&alice);
    let id = user_id_of(a, &alice);
    let mut worst = Duration::ZERO;
    let mut trials = 0u64;
    let warm = || async {
        for o in others {
            o.vend(&alice, None).await;
            o.vend(&alice, None).await;
        }
    };

    for _ in 0..20 {
        // Warm on the others: their mappings and keys are cached.
        warm().await;
        admin_ok(a, Method::POST, &format!("/users/{id}/disable")).await;
        let changed = Instant::now();
        worst = worst.max(
            held_on_all(others, changed, async |o: &TestApp| {
                vend_status(o, &token).await.0 == 403
            })
            .await,
        );
        admin_ok(a, Method::POST, &format!("/users/{id}/enable")).await;
        let changed = Instant::now();
        worst = worst.max(
            held_on_all(others, changed, async |o: &TestApp| {
                vend_status(o, &token).await.0 == 200
            })
            .await,
        );
        trials += 2;
    }

    for _ in 0..3 {
        warm().await;
        let old = others[0].vend(&alice, None).await;
        admin_ok(a, Method::POST, &format!("/users/{id}/revoke")).await;
        let changed = Instant::now();
        worst = worst.max(
            held_on_all(others, changed, async |o: &TestApp| {
                vend_status(o, &token)
                    .await
                    .1
                    .is_some_and(|v| v.access_key_id != old.access_key_id)
            })
            .await,
        );
        trials += 1;
        assert_eq!(
            put(&old, "after-revoke.txt").await,
            "AccessDenied",
            "the old keys are denied"
        );
        for o in others {
            let fresh = o.vend(&alice, None).await;
            assert_eq!(
                put(&fresh, "after-revoke.txt").await,
                "ok",
                "every replica's new keys work"
            );
        }
    }

    warm().await;
    admin_ok(a, Method::DELETE, &format!("/users/{id}?force=true")).await;
    let changed = Instant::now();
    worst = worst.max(
        held_on_all(others, changed, async |o: &TestApp| {
            let req = o.http.get(format!("{}/v1/me", o.base)).bearer_auth(&token);
            req.send().await.unwrap().status().as_u16() == 404
        })
        .await,
    );
    trials += 1;

    assert!(worst < BOUND, "worst of {trials} trials: {worst:?}");
    Figures {
        coherence_trials: trials,
        coherence_worst_ms: u64::try_from(worst.as_millis()).unwrap(),
        ..Figures::default()
    }
    .record(figures);
}

/// Vends for `sub` through a request carrying `X-Forwarded-For: 198.51.100.7`; the client
/// address the audit recorded for the keys.
async fn audited_client(app: &TestApp, sub: &str) -> Option<String> {
    let resp = app
        .http
        .post(format!("{}/v1/credentials", app.base))
        .bearer_auth(app.issuer.token(sub))
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Vended = resp.json().await.unwrap();
    let rows = app.state.store.key_owner(&v.access_key_id).await.unwrap();
    rows[0].client_addr.clone()
}

#[tokio::test]
async fn behind_a_trusted_balancer_the_audit_records_the_real_client() {
    let behind =
        TestApp::spawn_with(Options::default().set("STSVEND_SERVER__TRUSTED_PROXIES", r#"["127.0.0.1/32"]"#)).await;
    assert_eq!(
        audited_client(&behind, &unique_sub("proxied")).await.as_deref(),
        Some("198.51.100.7")
    );
    // Without the balancer being trusted, the header is the client's own claim: ignored.
    let direct = TestApp::spawn().await;
    assert_eq!(
        audited_client(&direct, &unique_sub("direct")).await.as_deref(),
        Some("127.0.0.1")
    );
}

/// Keys a replica shared before a revocation cut-off stay in the database when no cache is
/// cleared (here the cut-off is written straight to the store): the replica reading them must
/// refuse them by their issue time alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_keys_issued_before_a_revocation_cut_off_are_never_handed_out() {
    let (a, b) = replicas(Backend::Postgres).await;
    let alice = unique_sub("fleet-cutoff");
    let old = a.vend(&alice, None).await;
    let id = stsvend::identity::UserId::parse(&user_id_of(&a, &alice)).unwrap();
    let cut_off = stsvend::runtime::clock::next_second(time::OffsetDateTime::now_utc());
    a.state.store.set_revoked_before(&id, cut_off).await.unwrap();
    stsvend::runtime::clock::sleep_until(cut_off).await;
    let fresh = b.vend(&alice, None).await;
    assert_ne!(
        fresh.access_key_id, old.access_key_id,
        "b refused the shared keys from before the cut-off"
    );
}
