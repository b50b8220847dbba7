//! Two replicas consuming one queue while ten users upload a hundred objects each: every event
//! is applied once, by one replica or the other, and every user's ledger is exact.

use stsvend::store::Totals;

use super::events::{EVENT_BOUND, events, put};
use crate::support::quota::{UsageQueue, usage_queue};
use crate::support::*;

const USERS: usize = 10;
const OBJECTS: usize = 100;

/// Sealing key shared by the replicas (`cache.sealing_keys`).
fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

async fn two_replicas_count_concurrent_uploads_exactly(queue: &UsageQueue, url: Option<&str>) {
    let opts = || {
        let o = Options::default()
            .with_quota(queue)
            .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys())
            .set("STSVEND_LIMITS__VENDS_PER_MINUTE", "100000")
            .set("STSVEND_LIMITS__VEND_BURST", "100000");
        match url {
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
    let mut vended = Vec::new();
    for i in 0..USERS {
        let app = if i % 2 == 0 { &a } else { &b };
        vended.push(app.vend(&unique_sub(&format!("quota-fleet-{i}")), None).await);
    }
    let uploads = vended.iter().map(|v| async move {
        let s3 = user_s3(v);
        for k in 0..OBJECTS {
            put(&s3, v, &format!("o{k}"), k + 1).await;
        }
    });
    futures::future::join_all(uploads).await;
    let each = Totals {
        bytes: i64::try_from(OBJECTS * (OBJECTS + 1) / 2).unwrap(),
        objects: i64::try_from(OBJECTS).unwrap(),
    };
    wait_until(
        std::time::Duration::from_secs(90),
        "every user's ledger is exact",
        async || {
            for v in &vended {
                if a.ledger(&v.bucket, "").await != each {
                    return false;
                }
            }
            true
        },
    )
    .await;
    // Counted just after the commit: wait for the last batch's count.
    let applied = async || events(&a.metrics_text().await, "applied") + events(&b.metrics_text().await, "applied");
    let all = u64::try_from(USERS * OBJECTS).unwrap();
    wait_until(EVENT_BOUND, "the last batch is counted", async || {
        applied().await >= all
    })
    .await;
    assert_eq!(applied().await, all, "each event applied once across the replicas");
    for v in &vended {
        assert_eq!(b.ledger(&v.bucket, "").await, each);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_postgresql_count_ten_users_hundred_uploads_exactly() {
    let url = crate::support::pg::fresh_database().await;
    two_replicas_count_concurrent_uploads_exactly(&usage_queue().await, Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_sqlite_count_ten_users_hundred_uploads_exactly() {
    two_replicas_count_concurrent_uploads_exactly(&usage_queue().await, None).await;
}
