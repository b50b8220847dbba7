//! A consuming replica that dies mid-stream, in both storage modes: two replicas (one in this
//! process, one a real `stsvend` process on the same database) consume the usage queue while a
//! user uploads; the second is killed (SIGKILL, no shutdown code runs) halfway through. What it
//! had received and not deleted comes back after the queue's visibility timeout and the
//! survivor applies it: the ledger ends exact, nothing lost, nothing counted twice (on `SQLite`
//! and on `PostgreSQL`).

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use stsvend::store::Totals;

use super::events::{EVENT_BOUND, events, put};
use super::pipeline::{Mode, stored};
use crate::support::process::ServiceProcess;
use crate::support::quota::{root_sqs, usage_queue};
use crate::support::*;

const OBJECTS: usize = 200;

/// Messages received by the killed replica and not deleted come back after this.
const VISIBILITY: Duration = Duration::from_secs(2);

/// Sealing key shared by the replicas (`cache.sealing_keys`).
fn sealing_keys() -> String {
    let key: Vec<u8> = (0u8..32).collect();
    format!("1:{}", data_encoding::BASE64.encode(&key))
}

/// `database_url`: both replicas on this `PostgreSQL` database (`None`: `SQLite`, one file).
async fn a_replica_killed_mid_stream_loses_no_event(mode: Mode, database_url: Option<&str>) {
    let queue = usage_queue().await;
    root_sqs()
        .set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY.as_secs().to_string())
        .send()
        .await
        .unwrap();
    let mut opts = Options::default()
        .with_quota(&queue)
        .set("STSVEND_CACHE__SEALING_KEYS", &sealing_keys());
    if let Some(url) = database_url {
        opts = opts.set("STSVEND_DATABASE__URL", url);
    }
    let (a, shared) = match mode {
        Mode::Bucket => (TestApp::spawn_with(opts).await, None),
        Mode::Prefix => {
            let (app, shared) = TestApp::spawn_prefix(opts).await;
            (app, Some(shared))
        }
    };
    let mut env = vec![
        ("STSVEND_AUTH__ISSUER", a.issuer.issuer.clone()),
        (
            "STSVEND_DATABASE__PATH",
            a.db_dir.path().join("stsvend.db").display().to_string(),
        ),
        ("STSVEND_QUOTA__QUEUE_URL", queue.url.clone()),
        ("STSVEND_CACHE__SEALING_KEYS", sealing_keys()),
    ];
    if let Some(url) = database_url {
        env.push(("STSVEND_DATABASE__URL", url.to_owned()));
    }
    if let Some(shared) = &shared {
        env.push(("STSVEND_STORAGE__MODE", "prefix".to_owned()));
        env.push(("STSVEND_STORAGE__SHARED_BUCKET", shared.clone()));
    }
    let mut b = ServiceProcess::start(&env).await;

    let v = a.vend(&unique_sub("quota-killed"), None).await;
    let s3 = user_s3(&v);
    for k in 0..OBJECTS {
        if k == OBJECTS / 2 {
            b.kill();
        }
        put(&s3, &v, &format!("o{k}"), k + 1).await;
    }
    let total = i64::try_from(OBJECTS).unwrap();
    let want = Totals {
        bytes: total * (total + 1) / 2,
        objects: total,
    };
    assert_eq!(stored(&v.bucket, &v.prefix).await, (want.bytes, want.objects));
    wait_until(
        VISIBILITY + EVENT_BOUND,
        "the ledger is exact after the kill",
        async || a.ledger(&v.bucket, &v.prefix).await == want,
    )
    .await;
    let applied = events(&a.metrics_text().await, "applied");
    eprintln!(
        "replica killed ({mode:?} mode): the survivor applied {applied} of {OBJECTS} events, the killed one the rest"
    );
    assert!(
        applied < u64::try_from(OBJECTS).unwrap(),
        "the killed replica consumed some events before its death ({applied} applied by the survivor):\n{}",
        b.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consuming_replica_killed_mid_stream_leaves_the_ledger_exact_in_bucket_mode() {
    Box::pin(a_replica_killed_mid_stream_loses_no_event(Mode::Bucket, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consuming_replica_killed_mid_stream_leaves_the_ledger_exact_in_prefix_mode() {
    Box::pin(a_replica_killed_mid_stream_loses_no_event(Mode::Prefix, None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consuming_replica_killed_mid_stream_leaves_the_ledger_exact_on_postgresql() {
    let url = crate::support::pg::fresh_database().await;
    Box::pin(a_replica_killed_mid_stream_loses_no_event(Mode::Bucket, Some(&url))).await;
}
