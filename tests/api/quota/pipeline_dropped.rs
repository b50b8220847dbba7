//! Lost events, end to end, in both storage modes: the user's storage notifies a queue the test
//! reads, and the test relays S3's messages to the queue the service consumes, leaving out
//! some creations and sending the rest twice. The ledger ends under the truth, never over it;
//! an on-demand reconciliation makes it exact and reports the drift; every message delivered
//! again afterwards (duplicates, and the lost ones late) changes nothing.

use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
use reqwest::Method;
use serde_json::Value;
use stsvend::store::Totals;

use super::events::{EVENT_BOUND, delete, events, put};
use super::pipeline::{Mode, stored};
use crate::support::admin::{ADMIN_PERMISSION, admin_ok, user_id_of};
use crate::support::quota::{UsageQueue, drain_until, root_sqs, usage_queue};
use crate::support::*;

/// A service consuming `fed` whose users' storage notifies `raw` instead, in `mode`.
async fn relayed_app(mode: Mode, raw: &UsageQueue, fed: &UsageQueue) -> (TestApp, String, Vended) {
    let opts = Options::default()
        .with_quota(fed)
        .set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION);
    let app = match mode {
        Mode::Bucket => TestApp::spawn_with(opts).await,
        Mode::Prefix => {
            let probe = test_config(
                "http://127.0.0.1:1/",
                std::path::Path::new("/nonexistent"),
                &Options::default().with_quota(raw).env,
            );
            let shared = fresh_shared_bucket(&probe).await;
            TestApp::spawn_with(opts.prefix_mode(&shared)).await
        }
    };
    let sub = unique_sub("quota-dropped");
    let v = app.vend(&sub, None).await;
    if matches!(mode, Mode::Bucket) {
        // Provisioning pointed the new bucket at `fed`; the test takes its events over.
        let to_raw = QueueConfiguration::builder()
            .id("stsvend-usage")
            .queue_arn(&raw.arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .events(Event::from("s3:ObjectRemoved:*"))
            .build()
            .unwrap();
        service_s3()
            .put_bucket_notification_configuration()
            .bucket(&v.bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(to_raw)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    (app, sub, v)
}

async fn send_all(queue: &str, bodies: &[String]) {
    let sqs = root_sqs();
    for body in bodies {
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
}

/// Deliveries the consumer has read and applied or found stale.
async fn read(app: &TestApp) -> u64 {
    let text = app.metrics_text().await;
    events(&text, "applied") + events(&text, "stale")
}

fn totals(v: &Value) -> (i64, i64) {
    (v["bytes"].as_i64().unwrap(), v["objects"].as_i64().unwrap())
}

async fn lost_events_leave_the_ledger_under_and_a_reconciliation_makes_it_exact(mode: Mode) {
    let (raw, fed) = (usage_queue().await, usage_queue().await);
    let (app, sub, v) = relayed_app(mode, &raw, &fed).await;
    let s3 = user_s3(&v);
    put(&s3, &v, "kept-a", 1000).await;
    put(&s3, &v, "lost-b", 300).await;
    put(&s3, &v, "kept-c", 50).await;
    put(&s3, &v, "lost-d", 2000).await;
    put(&s3, &v, "kept-a", 400).await;
    delete(&s3, &v, "kept-c").await;
    let records: Vec<String> = drain_until(&raw.url, EVENT_BOUND, |b| {
        b.iter().filter(|m| m.contains("\"Records\"")).count() >= 6
    })
    .await
    .into_iter()
    .filter(|m| m.contains("\"Records\""))
    .collect();
    let (lost, kept): (Vec<String>, Vec<String>) = records
        .iter()
        .cloned()
        .partition(|m| m.contains("lost-") && m.contains("ObjectCreated"));
    assert_eq!((lost.len(), kept.len()), (2, 4), "{records:?}");
    // Each message that gets through, twice: the second time newest first, so an older
    // event arrives after a newer one of its key (the overwritten size, the removed key's
    // create) and must be found stale.
    let twice: Vec<String> = kept.iter().chain(kept.iter().rev()).cloned().collect();
    send_all(&fed.url, &twice).await;
    let sent = u64::try_from(twice.len()).unwrap();
    wait_until(EVENT_BOUND, "every relayed delivery is read", async || {
        read(&app).await >= sent
    })
    .await;
    let truth = stored(&v.bucket, &v.prefix).await;
    assert_eq!(truth, (2700, 3), "kept-a 400, lost-b 300, lost-d 2000");
    let ledger = app.ledger(&v.bucket, &v.prefix).await;
    assert_eq!(ledger, Totals { bytes: 400, objects: 1 }, "only what got through, once");
    assert!(ledger.bytes < truth.0 && ledger.objects < truth.1);
    assert_eq!(read(&app).await, sent, "duplicates are read, not counted twice");

    let id = user_id_of(&app, &sub);
    let done = admin_ok(&app, Method::POST, &format!("/users/{id}/usage/reconcile")).await;
    assert_eq!(totals(&done["before"]), (400, 1), "{done}");
    assert_eq!(totals(&done["after"]), truth, "{done}");
    assert_eq!(totals(&done["drift"]), (2300, 2), "{done}");
    let me = app.me(&sub).await;
    assert_eq!(
        (me["usage"]["bytes"].as_i64(), me["usage"]["objects"].as_i64()),
        (Some(truth.0), Some(truth.1)),
        "{me}"
    );

    // Everything S3 sent, delivered once more, newest first: the kept ones a third time, the
    // lost ones late.
    let late: Vec<String> = records.iter().rev().cloned().collect();
    send_all(&fed.url, &late).await;
    let all = sent + u64::try_from(records.len()).unwrap();
    wait_until(EVENT_BOUND, "every late delivery is read", async || {
        read(&app).await >= all
    })
    .await;
    assert_eq!(
        app.ledger(&v.bucket, &v.prefix).await,
        Totals {
            bytes: truth.0,
            objects: truth.1
        },
        "late and repeated events after the reconciliation count nothing twice"
    );
}

#[tokio::test]
async fn lost_events_leave_the_ledger_under_and_a_reconciliation_makes_it_exact_in_bucket_mode() {
    Box::pin(lost_events_leave_the_ledger_under_and_a_reconciliation_makes_it_exact(
        Mode::Bucket,
    ))
    .await;
}

#[tokio::test]
async fn lost_events_leave_the_ledger_under_and_a_reconciliation_makes_it_exact_in_prefix_mode() {
    Box::pin(lost_events_leave_the_ledger_under_and_a_reconciliation_makes_it_exact(
        Mode::Prefix,
    ))
    .await;
}
