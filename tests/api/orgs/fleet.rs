//! A new organisation's first vends arriving together at two replicas sharing one database
//! make one org row and one org bucket.

use super::*;

/// Sealing key shared by the replicas (`cache.sealing_keys`).
fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_members_of_a_new_org_at_once_through_two_replicas_make_one_org_storage() {
    let url = crate::support::pg::fresh_database().await;
    let prefix = private_prefix();
    let opts = || {
        with_orgs(Options::default())
            .set("STSVEND_DATABASE__URL", &url)
            .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys())
            .set("STSVEND_STORAGE__BUCKET_PREFIX", &prefix)
    };
    let a = TestApp::spawn_with(opts()).await;
    let b = TestApp::spawn_with(Options {
        issuer: Some(a.issuer.clone()),
        ..opts()
    })
    .await;
    let org = new_org();
    let tokens: Vec<String> = (0..20)
        .map(|i| writer(&a, &unique_sub(&format!("member-{i}")), &org))
        .collect();
    let vends = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| vend_as(if i % 2 == 0 { &a } else { &b }, t, TEAM_RW));
    let answers = futures::future::join_all(vends).await;
    let mut org_buckets = std::collections::BTreeSet::new();
    for (status, body) in answers {
        assert_eq!(status, 200, "{body}");
        org_buckets.insert(body["OrgBucket"].as_str().unwrap().to_owned());
    }
    assert_eq!(org_buckets.len(), 1, "one org bucket handed out: {org_buckets:?}");
    assert_eq!(a.state.store.count_orgs().await.unwrap(), 1, "one org row");
    let made = buckets_named(&prefix).await;
    assert_eq!(made.len(), 21, "20 members' buckets and one org bucket: {made:?}");
    assert!(made.contains(org_buckets.first().unwrap()));
}

/// The promise of the change feed: a change made anywhere holds everywhere within this.
const BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Two replicas with `[orgs]` on one database (`PostgreSQL` when `url` is given, else one
/// `SQLite` file); the first has the admin API.
async fn org_replicas(url: Option<&str>) -> (TestApp, TestApp) {
    let opts = || {
        let o = with_orgs(Options::default())
            .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys())
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
            .set("STSVEND_LIMITS__VEND_BURST", "100000");
        match url {
            Some(url) => o.set("STSVEND_DATABASE__URL", url),
            None => o,
        }
    };
    let a = TestApp::spawn_with(opts().set("STSVEND_ADMIN__PERMISSION", crate::support::admin::ADMIN_PERMISSION)).await;
    let b = TestApp::spawn_with(Options {
        db_dir: Some(a.db_dir.clone()),
        issuer: Some(a.issuer.clone()),
        ..opts()
    })
    .await;
    (a, b)
}

/// How long after `changed` the team vend of `token` through `app` answered `want`; fails
/// past five times the bound.
async fn team_vend_answers(app: &TestApp, token: &str, want: u16, changed: std::time::Instant) -> std::time::Duration {
    loop {
        if vend_as(app, token, TEAM_RW).await.0 == want {
            return changed.elapsed();
        }
        assert!(
            changed.elapsed() < BOUND * 5,
            "the change never held on the other replica"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// An org disabled (and enabled), then revoked, through one replica holds on the other, whose
/// org row and team keys were cached, within the change feed's bound.
async fn org_change_holds_on_the_other_replica(url: Option<&str>) {
    let (a, b) = org_replicas(url).await;
    let org = new_org();
    let token = writer(&a, &unique_sub("member"), &org);
    vended(&b, &token, TEAM_RW).await;
    let id = super::admin::org_id_of(&a, &token).await;
    let mut worst = std::time::Duration::ZERO;
    for _ in 0..3 {
        // Warm on b: its org row and team keys are cached.
        vended(&b, &token, TEAM_RW).await;
        crate::support::admin::admin_ok(&a, reqwest::Method::POST, &format!("/orgs/{id}/disable")).await;
        worst = worst.max(team_vend_answers(&b, &token, 403, std::time::Instant::now()).await);
        let (_, body) = vend_as(&b, &token, TEAM_RW).await;
        assert_eq!(body["error"]["code"], "org_disabled", "{body}");
        assert_eq!(
            vend_as(&b, &token, "read-write").await.0,
            200,
            "personal templates still work"
        );
        crate::support::admin::admin_ok(&a, reqwest::Method::POST, &format!("/orgs/{id}/enable")).await;
        worst = worst.max(team_vend_answers(&b, &token, 200, std::time::Instant::now()).await);
    }
    // A revoke through a: b's cached and the fleet's shared team keys are never handed out
    // again (they are bound to the org's cut-off); b's next keys are new and work.
    let old = vended(&b, &token, TEAM_RW).await;
    assert_eq!(
        vended(&b, &token, TEAM_RW).await.access_key_id,
        old.access_key_id,
        "cached on b"
    );
    crate::support::admin::admin_ok(&a, reqwest::Method::POST, &format!("/orgs/{id}/revoke")).await;
    let changed = std::time::Instant::now();
    let fresh = loop {
        let v = vended(&b, &token, TEAM_RW).await;
        if v.access_key_id != old.access_key_id {
            break v;
        }
        assert!(
            changed.elapsed() < BOUND * 5,
            "b kept handing out keys made before the revoke"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    worst = worst.max(changed.elapsed());
    assert_eq!(super::revoke::put_team(&old, "old.txt").await, "AccessDenied");
    assert_eq!(super::revoke::put_team(&fresh, "new.txt").await, "ok");
    assert!(worst < BOUND, "worst: {worst:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_disabled_through_one_replica_is_refused_by_the_other_within_a_second_on_postgres() {
    let url = crate::support::pg::fresh_database().await;
    Box::pin(org_change_holds_on_the_other_replica(Some(&url))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_disabled_through_one_process_is_refused_by_the_other_on_one_sqlite_file() {
    Box::pin(org_change_holds_on_the_other_replica(None)).await;
}
