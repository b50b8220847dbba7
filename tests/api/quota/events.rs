//! A user's writes through vended keys show up in the ledger exactly, in bucket mode and in
//! prefix mode: an overwrite counts its difference, a multipart upload counts once at its
//! completion, deleting a missing key changes nothing, and S3's test event is counted apart.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use stsvend::store::Totals;

use crate::support::quota::{messages_kept, usage_queue};
use crate::support::*;

/// How long S3 -> queue -> ledger may take here (`MiniStack` delivers at once; a receive waits
/// for it).
pub const EVENT_BOUND: std::time::Duration = std::time::Duration::from_secs(20);

/// A part of S3's smallest size for any but the last part.
const PART: usize = 5 * 1024 * 1024;

pub async fn put(s3: &aws_sdk_s3::Client, v: &Vended, key: &str, size: usize) {
    s3.put_object()
        .bucket(&v.bucket)
        .key(format!("{}{key}", v.prefix))
        .body(ByteStream::from(vec![b'x'; size]))
        .send()
        .await
        .unwrap();
}

pub async fn delete(s3: &aws_sdk_s3::Client, v: &Vended, key: &str) {
    s3.delete_object()
        .bucket(&v.bucket)
        .key(format!("{}{key}", v.prefix))
        .send()
        .await
        .unwrap();
}

async fn multipart(s3: &aws_sdk_s3::Client, v: &Vended, key: &str, sizes: &[usize]) {
    let key = format!("{}{key}", v.prefix);
    let up = s3
        .create_multipart_upload()
        .bucket(&v.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap();
        let part = s3
            .upload_part()
            .bucket(&v.bucket)
            .key(&key)
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(vec![b'p'; *size]))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(&v.bucket)
        .key(&key)
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
}

/// `stsvend_quota_events_total{result}` (an integer counter: it prints without a fraction).
pub fn events(text: &str, result: &str) -> u64 {
    let series = format!("stsvend_quota_events_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Writes of every kind through `v`'s keys; the ledger must end at exactly what is stored.
async fn writes_are_counted_exactly(app: &TestApp, v: &Vended, queue: &str) {
    let s3 = user_s3(v);
    put(&s3, v, "a", 1000).await;
    put(&s3, v, "b", 300).await;
    put(&s3, v, "a", 400).await; // overwritten smaller: -600
    multipart(&s3, v, "big", &[PART, 100]).await;
    delete(&s3, v, "never-written").await;
    let want = Totals {
        bytes: 400 + 300 + i64::try_from(PART).unwrap() + 100,
        objects: 3,
    };
    wait_until(EVENT_BOUND, "the ledger counts the writes", async || {
        app.ledger(&v.bucket, &v.prefix).await == want
    })
    .await;
    // Every event of those writes was read; a multipart upload sent one, at completion.
    // Counted just after the commit: wait for the last batch's count.
    // (AWS also sends an event for the delete of a missing key, applied as a tombstone that
    // changes no total; `MiniStack` sends none.)
    wait_until(EVENT_BOUND, "the last batch is counted", async || {
        events(&app.metrics_text().await, "applied") >= 4
    })
    .await;
    let text = app.metrics_text().await;
    assert!(
        (4..=5).contains(&events(&text, "applied")),
        "3 puts, 1 completion, maybe the delete of a missing key: {text}"
    );
    assert!(
        events(&text, "test_event") >= 1,
        "S3's test event when notifications were set: {text}"
    );
    assert_eq!(
        sample(&text, "stsvend_quota_queue_lag_seconds").map(|l| l < 60.0),
        Some(true)
    );
    assert_eq!(app.ledger(&v.bucket, &v.prefix).await, want);
    // Applied, then deleted: nothing stays on the queue to come back.
    wait_until(EVENT_BOUND, "every applied message is deleted", async || {
        messages_kept(queue).await == 0
    })
    .await;
}

#[tokio::test]
async fn bucket_mode_writes_through_vended_keys_reach_the_ledger_exactly() {
    let queue = usage_queue().await;
    let app = TestApp::spawn_with(Options::default().with_quota(&queue)).await;
    let v = app.vend(&unique_sub("quota-bucket"), None).await;
    assert_eq!(v.prefix, "");
    writes_are_counted_exactly(&app, &v, &queue.url).await;
}

#[tokio::test]
async fn prefix_mode_writes_through_vended_keys_reach_the_ledger_exactly() {
    let queue = usage_queue().await;
    let (app, shared) = TestApp::spawn_prefix(Options::default().with_quota(&queue)).await;
    let v = app.vend(&unique_sub("quota-prefix"), None).await;
    assert_eq!(v.bucket, shared);
    writes_are_counted_exactly(&app, &v, &queue.url).await;
    // A key of the shared bucket outside every user's prefix belongs to nobody.
    s3_with(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "root"))
        .put_object()
        .bucket(&shared)
        .key("elsewhere/k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    wait_until(EVENT_BOUND, "the stray key is counted as no one's", async || {
        events(&app.metrics_text().await, "no_owner") >= 1
    })
    .await;
}
