//! What the reconciliation and usage tests share: a service with quotas on, objects written
//! and deleted behind the ledger's back (no event is consumed here), counters read.

use std::time::Duration;

use crate::support::admin::ADMIN_PERMISSION;
use crate::support::*;

/// Bucket or prefix mode.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Bucket,
    Prefix,
}

/// `opts` with `[quota]` on, and no events: the queue URL names no queue (no `/<account>/<name>`),
/// so buckets get no notifications and the consumer reads nothing, as when events are lost or
/// were never sent; only reconciliations fill the ledger.
pub fn with_quota(opts: Options) -> Options {
    opts.set("STSVEND_QUOTA__QUEUE_URL", crate::support::quota::UNREAD_QUEUE)
}

/// A service with `[quota]` and the admin API on, in `mode`; scheduled reconciliations every
/// `period` when given (else the default day, which no test waits for).
pub async fn quota_app(mode: Mode, opts: Options, period: Option<Duration>) -> TestApp {
    let opts = Options {
        quota_period: period,
        ..with_quota(opts.set("STSVEND_ADMIN__PERMISSION", ADMIN_PERMISSION))
    };
    match mode {
        Mode::Bucket => TestApp::spawn_with(opts).await,
        Mode::Prefix => TestApp::spawn_prefix(opts).await.0,
    }
}

/// Puts `size` bytes at `key` in the vended keys' storage (under their prefix in prefix mode)
/// with those keys: S3 would tell the queue, which nobody here reads.
pub async fn put_sized(v: &Vended, key: &str, size: usize) {
    put_in(v, &v.bucket, &v.prefix, key, size).await;
}

/// Puts `size` bytes at `prefix` + `key` in `bucket` with `v`'s keys.
pub async fn put_in(v: &Vended, bucket: &str, prefix: &str, key: &str, size: usize) {
    user_s3(v)
        .put_object()
        .bucket(bucket)
        .key(format!("{prefix}{key}"))
        .body(vec![b'x'; size].into())
        .send()
        .await
        .unwrap();
}

/// Deletes `key` from the vended keys' storage.
pub async fn delete(v: &Vended, key: &str) {
    user_s3(v)
        .delete_object()
        .bucket(&v.bucket)
        .key(format!("{}{key}", v.prefix))
        .send()
        .await
        .unwrap();
}

/// The value of the counter sample `prefix` (`0` when absent).
pub async fn metric(app: &TestApp, prefix: &str) -> u64 {
    app.metrics_text()
        .await
        .lines()
        .find(|l| l.starts_with(prefix))
        // An integer counter: its value prints without a fraction.
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}
