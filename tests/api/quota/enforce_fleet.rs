//! Two replicas on one database: a limit set through one refuses write vends on the other
//! within the change feed's bound, and removing it lets them through again (both databases).

use std::time::{Duration, Instant};

use reqwest::Method;

use super::limits::{fill, user_storage, vend_for, with_quota};
use super::overrides::admin_send;
use crate::support::admin::{ADMIN_PERMISSION, user_id_of};
use crate::support::*;

/// The change feed's promise (as `orgs::fleet`): a change made anywhere holds everywhere
/// within this.
const BOUND: Duration = Duration::from_secs(1);

fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

/// How long after `since` `app` answered `want` to a read-write vend; fails past five bounds.
async fn vend_answers(app: &TestApp, token: &str, want: u16, since: Instant) -> Duration {
    loop {
        if vend_for(app, token, "read-write").await.0 == want {
            return since.elapsed();
        }
        assert!(since.elapsed() < BOUND * 5, "the other replica never followed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn a_limit_set_on_one_replica_holds_on_the_other(url: Option<&str>) {
    let opts = || {
        let o = with_quota(Options::default(), &[("USER_BYTES", "1000")])
            .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys());
        match url {
            Some(url) => o.set("STSVEND_DATABASE__URL", url),
            None => o,
        }
    };
    let a = TestApp::spawn_with(opts().set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION)).await;
    let b = TestApp::spawn_with(Options {
        db_dir: Some(a.db_dir.clone()),
        issuer: Some(a.issuer.clone()),
        ..opts()
    })
    .await;
    let sub = unique_sub("fleet-quota");
    let token = a.issuer.token(&sub);
    assert_eq!(vend_for(&b, &token, "read-write").await.0, 200);
    fill(&a, &user_storage(&a, &sub).await, &["a"], Some(500)).await;
    let path = format!("/users/{}/quota", user_id_of(&a, &sub));
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let (status, q) = admin_send(&a, Method::PUT, &path, Some(r#"{"bytes": 500, "objects": null}"#)).await;
        assert_eq!(status, 200, "{q}");
        worst = worst.max(vend_answers(&b, &token, 403, Instant::now()).await);
        assert_eq!(vend_for(&b, &token, "read-only").await.0, 200, "reads still vend on b");
        let (status, _) = admin_send(&a, Method::DELETE, &path, None).await;
        assert_eq!(status, 200);
        worst = worst.max(vend_answers(&b, &token, 200, Instant::now()).await);
    }
    assert!(
        worst <= BOUND,
        "the other replica followed after {worst:?}, beyond {BOUND:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limit_set_on_one_replica_refuses_write_vends_on_the_other_within_the_bound() {
    a_limit_set_on_one_replica_holds_on_the_other(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgresql_a_limit_set_on_one_replica_refuses_write_vends_on_the_other_within_the_bound() {
    let url = crate::support::pg::fresh_database().await;
    a_limit_set_on_one_replica_holds_on_the_other(Some(&url)).await;
}
