//! Scheduled reconciliation across a fleet: two replicas on one `PostgreSQL` database, each
//! running the schedule, list each owner's storage once per period between them (the claim
//! is taken in the database), and the listings count what no event told the ledger.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::usage_support::*;
use crate::support::admin::{admin_ok, user_id_of};
use crate::support::*;

/// A short period, so the test sees several.
const PERIOD: Duration = Duration::from_secs(2);

async fn runs(apps: &[&TestApp]) -> u64 {
    let mut sum = 0;
    for app in apps {
        sum += metric(app, r#"stsvend_quota_reconciliations_total{result="ok"}"#).await;
    }
    sum
}

fn bytes_by_user(page: &Value) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = page["largest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["bytes"].as_i64().unwrap()))
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_reconcile_each_owner_once_per_period_between_them() {
    let url = crate::support::pg::fresh_database().await;
    let on_db = || Options::default().set("STSVEND_DATABASE__URL", &url);
    let a = quota_app(Mode::Bucket, on_db(), Some(PERIOD)).await;
    let b = quota_app(Mode::Bucket, on_db(), Some(PERIOD)).await;
    let mut expected = Vec::new();
    for (n, size) in [10, 20, 30].into_iter().enumerate() {
        let sub = unique_sub(&format!("scheduled-{n}"));
        let v = a.vend(&sub, None).await;
        put_sized(&v, "k", size).await;
        expected.push((user_id_of(&a, &sub), i64::try_from(size).unwrap()));
    }
    expected.sort();
    let owners = u64::try_from(expected.len()).unwrap();

    // New owners are given a time within the first period, after at most half a period.
    wait_until(
        PERIOD * 4,
        "every owner's storage counted by a scheduled listing",
        async || bytes_by_user(&admin_ok(&a, Method::GET, "/usage").await) == expected,
    )
    .await;

    // From here on, four more listings of every owner take at least three periods: each
    // owner's next listing is due a period after its last was claimed, by either replica.
    // (Were both replicas to list every owner, or each twice a period, they would take
    // about half that: 4.6 s measured against the 5.8 s bound.)
    let (start, before) = (Instant::now(), runs(&[&a, &b]).await);
    wait_until(PERIOD * 8, "four more listings of every owner", async || {
        runs(&[&a, &b]).await >= before + 4 * owners
    })
    .await;
    let took = start.elapsed();
    // A listing claimed just before `start` may finish just after it.
    assert!(
        took >= (PERIOD * 3).saturating_sub(Duration::from_millis(200)),
        "took {took:?}"
    );
}
