//! The database away while events arrive: the consumer deletes nothing it could not apply, so
//! the messages come back after the queue's visibility timeout and are applied once the
//! database answers again; the ledger ends exact.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use stsvend::store::Totals;

use super::events::{EVENT_BOUND, put};
use crate::support::quota::{ledger_of, messages_kept, root_sqs, usage_queue};
use crate::support::tcp_cut::TcpCut;
use crate::support::*;

fn consumer_errors(text: &str, stage: &str) -> u64 {
    let series = format!("stsvend_quota_consumer_errors_total{{stage=\"{stage}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_arriving_while_the_database_is_down_are_kept_and_applied_when_it_is_back() {
    let url = crate::support::pg::fresh_database().await;
    let cut = TcpCut::start(crate::support::pg::server_addr()).await;
    let queue = usage_queue().await;
    // Messages received and not deleted come back after two seconds.
    root_sqs()
        .set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::VisibilityTimeout, "2")
        .send()
        .await
        .unwrap();
    let quota = Options::default().with_quota(&queue);
    let probe = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &quota.env);
    let shared = fresh_shared_bucket(&probe).await;
    let app = TestApp::spawn_with(
        quota
            .prefix_mode(&shared)
            .set("STSVEND_DATABASE__URL", &crate::support::pg::through(&url, cut.addr)),
    )
    .await;
    let v = app.vend(&unique_sub("quota-outage"), None).await;
    let s3 = user_s3(&v);
    // Read beside the relay: the test's view of the ledger does not go down with it.
    let ledger = crate::support::pg::store(&url).await;
    put(&s3, &v, "a", 100).await;
    wait_until(EVENT_BOUND, "the first write is counted", async || {
        ledger_of(&ledger, &v.bucket, &v.prefix).await == Totals { bytes: 100, objects: 1 }
    })
    .await;

    cut.refuse(true);
    cut.cut();
    put(&s3, &v, "b", 200).await;
    wait_until(EVENT_BOUND, "the consumer fails to apply", async || {
        consumer_errors(&app.metrics_text().await, "apply") >= 1
    })
    .await;
    assert!(
        messages_kept(&queue.url).await >= 1,
        "the unapplied message was deleted"
    );
    assert_eq!(
        ledger_of(&ledger, &v.bucket, &v.prefix).await,
        Totals { bytes: 100, objects: 1 }
    );

    cut.refuse(false);
    wait_until(Duration::from_mins(1), "the kept message is applied", async || {
        ledger_of(&ledger, &v.bucket, &v.prefix).await == Totals { bytes: 300, objects: 2 }
    })
    .await;
    let deleted = holds_within(EVENT_BOUND, async || messages_kept(&queue.url).await == 0).await;
    assert!(
        deleted,
        "applied and not deleted: {} kept\n{}",
        messages_kept(&queue.url).await,
        app.metrics_text().await
    );
}
