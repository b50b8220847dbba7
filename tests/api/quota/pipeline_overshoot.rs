//! How far past a limit a live session gets (issue 25, "Honesty"): a client with keys vended
//! before it crosses writes objects of one size as fast as it can until a PUT is denied. The
//! overshoot (bytes stored past the limit) is at most the upload rate times the pipeline's
//! bound; the figures are printed (`--nocapture`) for the README. Both storage modes.

use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;

use super::pipeline::{Mode, PIPELINE_BOUND, pipeline_app, stored};
use crate::support::quota::usage_queue;
use crate::support::*;

const LIMIT: u64 = 1024 * 1024;
const OBJECT: usize = 64 * 1024;

/// Byte counts here stay far below 2^32.
fn as_f64(n: u64) -> f64 {
    f64::from(u32::try_from(n).unwrap())
}

async fn the_overshoot_past_a_limit_is_at_most_rate_times_the_bound(mode: Mode) {
    let queue = usage_queue().await;
    let app = pipeline_app(mode, &queue, Options::default(), &[("USER_BYTES", &LIMIT.to_string())]).await;
    let sub = unique_sub("overshoot");
    let v = app.vend(&sub, None).await;
    let s3 = user_s3(&v);
    let body = vec![b'o'; OBJECT];
    let object = u64::try_from(OBJECT).unwrap();

    let started = Instant::now();
    let mut written: u64 = 0;
    let mut crossed: Option<Instant> = None;
    let mut n = 0u64;
    let denied = loop {
        if let Some(at) = crossed {
            assert!(
                at.elapsed() <= PIPELINE_BOUND,
                "no PUT denied within {PIPELINE_BOUND:?} of the limit ({mode:?} mode): {written} bytes written, {} past the limit",
                written - LIMIT
            );
        }
        let r = s3
            .put_object()
            .bucket(&v.bucket)
            .key(format!("{}o{n}", v.prefix))
            .body(ByteStream::from(body.clone()))
            .send()
            .await;
        n += 1;
        match s3_code(&r).as_str() {
            "ok" => {
                written += object;
                if written >= LIMIT && crossed.is_none() {
                    crossed = Some(Instant::now());
                }
            }
            "AccessDenied" => break Instant::now(),
            other => panic!("PUT {n}: {other}"),
        }
    };
    let crossed = crossed.expect("denied before reaching the limit");
    let took = denied - crossed;
    let overshoot = written - LIMIT;
    // Bytes per second over the whole run (the client's own rate, Deny or not).
    let rate = as_f64(written) / (denied - started).as_secs_f64();
    let bound = rate * PIPELINE_BOUND.as_secs_f64();
    eprintln!(
        "quota overshoot ({mode:?} mode, {OBJECT}-byte objects, limit {LIMIT}): {overshoot} bytes past the limit \
         ({} objects), first denied PUT {took:?} after the PUT that reached it, upload rate {:.0} KiB/s; \
         bound rate x {PIPELINE_BOUND:?} = {:.0} bytes",
        overshoot / object,
        rate / 1024.0,
        bound
    );
    assert!(
        as_f64(overshoot) <= bound,
        "overshoot {overshoot} > rate x bound {bound:.0}"
    );
    // What got through is what S3 holds and what the ledger ends at: the overshoot is counted.
    let truth = stored(&v.bucket, &v.prefix).await;
    assert_eq!(
        truth,
        (
            i64::try_from(written).unwrap(),
            i64::try_from(written / object).unwrap()
        )
    );
    wait_until(PIPELINE_BOUND, "the ledger counts the overshoot", async || {
        app.ledger(&v.bucket, &v.prefix).await
            == stsvend::store::Totals {
                bytes: truth.0,
                objects: truth.1,
            }
    })
    .await;
}

#[tokio::test]
async fn the_overshoot_past_a_users_limit_is_at_most_rate_times_the_bound_in_bucket_mode() {
    Box::pin(the_overshoot_past_a_limit_is_at_most_rate_times_the_bound(Mode::Bucket)).await;
}

#[tokio::test]
async fn the_overshoot_past_a_users_limit_is_at_most_rate_times_the_bound_in_prefix_mode() {
    Box::pin(the_overshoot_past_a_limit_is_at_most_rate_times_the_bound(Mode::Prefix)).await;
}
