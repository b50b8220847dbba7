//! Waiting for a condition with a bound, instead of sleeping and then asserting: the one
//! readiness poll (a URL answering 200) and the general form every test uses.

use std::time::Duration;

use tokio::time::Instant;

/// How long a service (stsvend, the web server, `HAProxy`) may take to answer its readiness
/// probe while the rest of the suite runs.
pub const READY_WITHIN: Duration = Duration::from_secs(30);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// The first `Some` that `probe` yields within `bound`, or `None` once `bound` has passed
/// (`probe` runs at least once, and once more at the deadline).
pub async fn within<T>(bound: Duration, probe: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    within_every(bound, POLL, probe).await
}

/// [`within`], checking every `every`: for probes that count against a rate limit.
pub async fn within_every<T>(bound: Duration, every: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every.min(deadline - Instant::now())).await;
    }
}

/// Whether `condition` holds within `bound`.
pub async fn holds_within(bound: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    within(bound, async || condition().await.then_some(())).await.is_some()
}

/// Waits until `condition` holds, failing the test with `what` after `bound`.
pub async fn wait_until(bound: Duration, what: &str, condition: impl AsyncFnMut() -> bool) {
    assert!(holds_within(bound, condition).await, "{what}: not within {bound:?}");
}

/// Whether `url` answers 200 within `bound`: the readiness poll.
pub async fn answers_200(url: &str, bound: Duration) -> bool {
    let http = reqwest::Client::new();
    holds_within(bound, async || {
        http.get(url).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await
}
