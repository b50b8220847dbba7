//! When to ask stsvend again after a failed attempt, and how long to wait first.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use crate::error::Error;

/// First pause when stsvend names none (doubled per attempt, with jitter).
const BASE_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The longest pause the client takes; a longer `Retry-After` ends the attempts at once
    /// (the error carries it), so a caller is never held for minutes by a quota answer.
    pub max_wait: Duration,
}

impl Default for Retry {
    /// Three attempts and at most 10 s a pause: inside aws-sdk-rust's identity-cache load
    /// timeout, and long enough for stsvend's usual `Retry-After: 5` on a 503.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_wait: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The pause before attempt `attempt + 1`, or `None` to give up with `e`. Only stsvend's
    /// "try again" answers (429, 503, a proxy's 502/504) and transport failures are retried;
    /// 401 and 403 never are.
    pub fn pause_after(&self, attempt: u32, e: &Error) -> Option<Duration> {
        if !e.is_retryable() || attempt >= self.max_attempts {
            return None;
        }
        let pause = e.retry_after().unwrap_or_else(|| backoff(attempt));
        (pause <= self.max_wait).then_some(pause)
    }
}

/// `BASE_BACKOFF * 2^(attempt-1)`, capped, with the upper half jittered so that clients
/// turned away together do not come back together.
fn backoff(attempt: u32) -> Duration {
    let full = BASE_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(8))
        .min(MAX_BACKOFF);
    let half = full / 2;
    let jitter = RandomState::new().hash_one(attempt) % (u64::try_from(half.as_millis()).unwrap_or(1).max(1));
    half + Duration::from_millis(jitter)
}

/// `Retry-After` in seconds, as stsvend sends it. The HTTP-date form is not used by stsvend and
/// falls back to the client's own backoff.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn answer(status: u16, retry_after: Option<u64>) -> Error {
        Error::from_api(ApiError {
            status,
            code: "c".to_owned(),
            message: "m".to_owned(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn a_busy_answer_is_retried_after_its_retry_after_and_a_refusal_never() {
        let retry = Retry::default();
        assert_eq!(
            retry.pause_after(1, &answer(429, Some(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry.pause_after(2, &answer(503, Some(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry.pause_after(3, &answer(503, Some(1))),
            None,
            "three attempts in all"
        );
        assert_eq!(
            retry.pause_after(1, &answer(503, Some(300))),
            None,
            "longer than max_wait"
        );
        for status in [400, 401, 403, 404, 500] {
            assert_eq!(retry.pause_after(1, &answer(status, Some(1))), None, "{status}");
        }
    }

    #[test]
    fn without_retry_after_the_pause_grows_and_stays_bounded() {
        for attempt in 1..20 {
            let full = BASE_BACKOFF.saturating_mul(1 << (attempt - 1).min(8)).min(MAX_BACKOFF);
            let b = backoff(attempt);
            assert!(b >= full / 2 && b <= full, "attempt {attempt}: {b:?}");
        }
        let retry = Retry::default();
        let pause = retry.pause_after(1, &answer(502, None)).unwrap();
        assert!(pause <= Duration::from_millis(250), "{pause:?}");
    }
}
