//! `[quota]`: storage quotas and usage (issue 25). Absent: no usage is kept, no write is ever
//! refused for size, and nothing else changes.
//!
//! Limits left unset are unlimited. A limit of 0 is a limit (nothing may be stored), so an
//! operator can freeze writes for everyone of a kind; per-owner overrides come through the
//! admin API and win over these defaults.

use serde::Deserialize;

/// Hours between two reconciliations of one owner's storage, when not configured.
pub const DEFAULT_RECONCILE_HOURS: u32 = 24;
/// A year: a longer period is a typo for "never", which is not offered (events get lost).
const MAX_RECONCILE_HOURS: u32 = 8_760;

#[derive(Debug, Clone, Deserialize)]
pub struct QuotaConfig {
    /// Bytes one user may store in their own storage; unset: unlimited.
    #[serde(default)]
    pub user_bytes: Option<u64>,
    /// Objects one user may store in their own storage; unset: unlimited.
    #[serde(default)]
    pub user_objects: Option<u64>,
    /// Bytes one organisation's team storage may hold; unset: unlimited.
    #[serde(default)]
    pub org_bytes: Option<u64>,
    /// Objects one organisation's team storage may hold; unset: unlimited.
    #[serde(default)]
    pub org_objects: Option<u64>,
    /// The SQS queue S3 sends the buckets' event notifications to (`stsvend bootstrap` makes
    /// it and prints its URL).
    pub queue_url: String,
    /// Hours between two reconciliations (a full listing) of each owner's storage.
    #[serde(default = "default_reconcile_hours")]
    pub reconcile_hours: u32,
    /// Tests only (never read from a file or the environment): a reconciliation period shorter
    /// than an hour, in place of `reconcile_hours`.
    #[serde(skip)]
    pub reconcile_period_for_tests: Option<std::time::Duration>,
}

/// `http(s)://<host>/<12-digit account>/<queue name>`: the form SQS gives (the queue's ARN,
/// which every bucket's notification names, is made from the account and the name).
fn is_queue_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return false;
    };
    let mut parts = rest.split('/');
    let (Some(host), Some(account), Some(name), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !host.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn default_reconcile_hours() -> u32 {
    DEFAULT_RECONCILE_HOURS
}

impl QuotaConfig {
    /// Time between two reconciliations of one owner's storage.
    pub fn reconcile_period(&self) -> std::time::Duration {
        self.reconcile_period_for_tests
            .unwrap_or(std::time::Duration::from_hours(u64::from(self.reconcile_hours)))
    }

    /// What is wrong with the section, if anything.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !is_queue_url(&self.queue_url) {
            p.push(format!(
                "quota.queue_url: `{}` is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)",
                self.queue_url.chars().take(200).collect::<String>()
            ));
        }
        if !(1..=MAX_RECONCILE_HOURS).contains(&self.reconcile_hours) {
            p.push(format!(
                "quota.reconcile_hours: {} is outside 1-{MAX_RECONCILE_HOURS}",
                self.reconcile_hours
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::shipped as load;

    const QUEUE: (&str, &str) = (
        "STSVEND_QUOTA__QUEUE_URL",
        "http://127.0.0.1:4566/000000000000/stsvend-usage",
    );

    #[test]
    fn quotas_are_off_unless_the_section_is_set_and_unset_limits_are_unlimited() {
        assert!(load(&[]).unwrap().quota.is_none());
        let q = load(&[QUEUE, ("STSVEND_QUOTA__USER_BYTES", "5000000000")])
            .unwrap()
            .quota
            .unwrap();
        assert_eq!(q.user_bytes, Some(5_000_000_000));
        assert_eq!((q.user_objects, q.org_bytes, q.org_objects), (None, None, None));
        assert_eq!(q.reconcile_hours, super::DEFAULT_RECONCILE_HOURS);
        let zero = load(&[QUEUE, ("STSVEND_QUOTA__ORG_OBJECTS", "0")]).unwrap();
        assert_eq!(zero.quota.unwrap().org_objects, Some(0), "0 is a limit, not unlimited");
    }

    #[test]
    fn a_missing_or_bad_queue_and_a_bad_period_stop_start_up() {
        let missing = load(&[("STSVEND_QUOTA__USER_BYTES", "1")]).unwrap_err();
        assert!(missing.contains("queue_url"), "{missing}");
        let err = load(&[
            ("STSVEND_QUOTA__QUEUE_URL", "stsvend-usage"),
            ("STSVEND_QUOTA__RECONCILE_HOURS", "0"),
        ])
        .unwrap_err();
        assert!(err.contains("quota.queue_url: `stsvend-usage`"), "{err}");
        assert!(err.contains("quota.reconcile_hours: 0"), "{err}");
        for bad in [
            "https://sqs.us-east-1.amazonaws.com/stsvend-usage",
            "https://sqs.us-east-1.amazonaws.com/12345678901/stsvend-usage",
            "https://sqs.us-east-1.amazonaws.com/123456789012/stsvend usage",
            "https://sqs.us-east-1.amazonaws.com/123456789012/stsvend-usage/x",
        ] {
            let err = load(&[("STSVEND_QUOTA__QUEUE_URL", bad)]).unwrap_err();
            assert!(err.contains("quota.queue_url"), "{bad}: {err}");
        }
        assert!(
            load(&[(
                "STSVEND_QUOTA__QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/stsvend-usage"
            )])
            .is_ok()
        );
        let negative = load(&[QUEUE, ("STSVEND_QUOTA__USER_BYTES", "-1")]).unwrap_err();
        assert!(negative.contains("user_bytes"), "{negative}");
    }
}
