//! Quotas' event plumbing against `MiniStack`: a usage queue of a test's own, made with the
//! policy `bootstrap` gives it (only S3, this account's `stsvend-*` buckets), the service
//! configured to consume it, the ledger as the service's store holds it, and a client of the
//! queue as the account's root, for a test that handles the raw messages itself.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use stsvend::aws::sqs::{Sqs, configured_queue_arn};
use stsvend::config::Config;
use stsvend::identity::BucketName;
use stsvend::store::{Store, Totals};

use super::app::{Options, TestApp, test_config};
use super::required_env;

/// A usage queue of the test's own.
pub struct UsageQueue {
    pub url: String,
    pub arn: String,
}

/// The config a test's helpers build AWS clients from (the service's keys, `MiniStack`).
fn probe_config(env: &[(String, String)]) -> Config {
    test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), env)
}

/// A new queue `stsvend-usage-<random>` with `bootstrap`'s policy for `stsvend-*` buckets.
pub async fn usage_queue() -> UsageQueue {
    let config = probe_config(&[]);
    let sqs = Sqs::for_command(&stsvend::aws::Sdk::load(&config.aws).await);
    let name = format!("stsvend-usage-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let url = sqs.create_queue(&name).await.unwrap();
    let arn = configured_queue_arn(&config.aws, &url).expect("MiniStack's queue URLs end in /<account>/<name>");
    let policy = stsvend::ops::documents::queue_policy("aws", &arn, "stsvend", &config.aws.account_id());
    sqs.set_policy(&url, &policy.to_string()).await.unwrap();
    UsageQueue { url, arn }
}

/// A usage queue the service may not read, for tests of the limits and the reconciliation,
/// which fill the ledger themselves: the queue exists in `MiniStack` (made by [`TestApp`]'s
/// start, with `bootstrap`'s policy), so new buckets' notifications validate and S3's events
/// pile up there, while the service's consumer is refused every receive (its IAM policy covers
/// `stsvend-*` queues only: `scripts/seed_aws.py`) and applies none of them.
pub const UNREAD_QUEUE: &str = "http://127.0.0.1:9/000000000000/unread-usage";

/// Makes [`UNREAD_QUEUE`]'s queue in `MiniStack` as the account's root, once per test process.
pub async fn ensure_unread_queue() {
    static MADE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    MADE.get_or_init(|| async {
        let config = probe_config(&[]);
        let sqs = root_sqs();
        let url = sqs
            .create_queue()
            .queue_name("unread-usage")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = configured_queue_arn(&config.aws, &url).expect("MiniStack's queue URLs end in /<account>/<name>");
        let policy = stsvend::ops::documents::queue_policy("aws", &arn, "stsvend", &config.aws.account_id());
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .unwrap();
    })
    .await;
}

impl Options {
    /// Quotas on, consuming `queue` (new buckets, and a prefix-mode test's shared bucket, send
    /// their object events to it).
    pub fn with_quota(self, queue: &UsageQueue) -> Self {
        self.set("STSVEND_QUOTA__QUEUE_URL", &queue.url)
    }
}

impl TestApp {
    /// The ledger's totals for the storage `prefix` of `bucket` (`""`: the whole bucket).
    pub async fn ledger(&self, bucket: &str, prefix: &str) -> Totals {
        ledger_of(&self.state.store, bucket, prefix).await
    }
}

pub async fn ledger_of(store: &Store, bucket: &str, prefix: &str) -> Totals {
    store
        .ledger_usage(&BucketName::parse(bucket).unwrap(), prefix)
        .await
        .unwrap()
        .map_or(Totals::default(), |u| u.totals)
}

/// The account's root on SQS (`MiniStack`'s admin keys): it may send to and read any of the
/// account's queues, whatever their policy says of S3.
pub fn root_sqs() -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(required_env("STSVEND_AWS__ENDPOINT_URL"))
        .credentials_provider(Credentials::new("test", "test", None, None, "root"))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// Every message on `queue` until `want` holds of the bodies received so far (each message is
/// deleted once received), or the bound passes.
pub async fn drain_until(queue: &str, bound: std::time::Duration, want: impl Fn(&[String]) -> bool) -> Vec<String> {
    let sqs = root_sqs();
    let started = std::time::Instant::now();
    let mut bodies = Vec::new();
    while !want(&bodies) {
        assert!(
            started.elapsed() < bound,
            "the queue did not deliver in {bound:?}: {bodies:?}"
        );
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
            bodies.push(m.body.unwrap_or_default());
        }
    }
    bodies
}

/// Messages on `queue`, visible or received and not yet deleted.
pub async fn messages_kept(queue: &str) -> u64 {
    let out = root_sqs()
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap_or_default();
    [
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
        aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| attrs.get(a).map_or(0, |v| v.parse::<u64>().unwrap()))
    .sum()
}
