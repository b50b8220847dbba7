//! At-least-once delivery, as SQS gives it: the same events delivered twice and out of order
//! change nothing against the exact figures; and the queue's policy lets no bucket but this
//! account's `stsvend-*` ones send (`MiniStack` checks it when a bucket's notifications are set).

use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use stsvend::store::Totals;

use super::events::{EVENT_BOUND, delete, events, put};
use crate::support::quota::{drain_until, root_sqs, usage_queue};
use crate::support::*;

/// `items` in an order fixed by `seed` (a small LCG: the test needs no real randomness).
fn shuffled<T>(mut items: Vec<T>, mut seed: u64) -> Vec<T> {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
        items.swap(i, j);
    }
    items
}

#[tokio::test]
async fn duplicated_and_reordered_deliveries_leave_the_ledger_exact() {
    // The shared bucket sends to `raw`, which the test reads; the service consumes `fed`.
    let (raw, fed) = (usage_queue().await, usage_queue().await);
    let probe = test_config(
        "http://127.0.0.1:1/",
        std::path::Path::new("/nonexistent"),
        &Options::default().with_quota(&raw).env,
    );
    let shared = fresh_shared_bucket(&probe).await;
    let app = TestApp::spawn_with(Options::default().with_quota(&fed).prefix_mode(&shared)).await;
    let v = app.vend(&unique_sub("quota-replay"), None).await;
    let s3 = user_s3(&v);
    put(&s3, &v, "a", 1000).await;
    put(&s3, &v, "b", 300).await;
    put(&s3, &v, "a", 400).await;
    delete(&s3, &v, "b").await;
    put(&s3, &v, "c", 50).await;
    delete(&s3, &v, "c").await;
    delete(&s3, &v, "missing").await;
    // Six events (AWS sends a seventh, for the missing key; `MiniStack` does not).
    let bodies = drain_until(&raw.url, EVENT_BOUND, |b| {
        b.iter().filter(|m| m.contains("\"Records\"")).count() >= 6
    })
    .await;
    let twice: Vec<String> = bodies.iter().chain(&bodies).cloned().collect();
    let sqs = root_sqs();
    for body in shuffled(twice, 25) {
        sqs.send_message()
            .queue_url(&fed.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let sent = u64::try_from(bodies.len() * 2).unwrap();
    // Every delivery read (the events counted, applied or stale), then the figures exact.
    wait_until(EVENT_BOUND, "every delivery is read", async || {
        let text = app.metrics_text().await;
        let read = events(&text, "applied") + events(&text, "stale") + events(&text, "test_event");
        read >= sent
    })
    .await;
    assert_eq!(
        app.ledger(&v.bucket, &v.prefix).await,
        Totals { bytes: 400, objects: 1 }
    );
    let text = app.metrics_text().await;
    assert!(
        events(&text, "stale") >= 6,
        "each event's second delivery is stale: {text}"
    );
}

fn root_s3() -> aws_sdk_s3::Client {
    s3_with(Credentials::new("test", "test", None, None, "root"))
}

/// Asks S3 to send `bucket`'s object events to `queue_arn`; S3's error code, or "ok".
async fn point_at(s3: &aws_sdk_s3::Client, bucket: &str, queue_arn: &str) -> String {
    let config = NotificationConfiguration::builder()
        .queue_configurations(
            QueueConfiguration::builder()
                .queue_arn(queue_arn)
                .events(Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap(),
        )
        .build();
    s3_code(
        &s3.put_bucket_notification_configuration()
            .bucket(bucket)
            .notification_configuration(config)
            .send()
            .await,
    )
}

#[tokio::test]
async fn only_this_accounts_stsvend_buckets_may_send_to_the_usage_queue() {
    let queue = usage_queue().await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    // A stranger's bucket with a name stsvend could have made.
    let stranger = other_account_s3();
    let theirs = format!("stsvend-stranger-{suffix}");
    stranger.create_bucket().bucket(&theirs).send().await.unwrap();
    assert_eq!(point_at(&stranger, &theirs, &queue.arn).await, "InvalidArgument");
    // This account's bucket outside the prefix.
    let root = root_s3();
    let outside = format!("other-{suffix}");
    root.create_bucket().bucket(&outside).send().await.unwrap();
    assert_eq!(point_at(&root, &outside, &queue.arn).await, "InvalidArgument");
    // This account's bucket under the prefix: accepted.
    let ours = format!("stsvend-ours-{suffix}");
    root.create_bucket().bucket(&ours).send().await.unwrap();
    assert_eq!(point_at(&root, &ours, &queue.arn).await, "ok");
}
