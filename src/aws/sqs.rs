//! SQS, for the usage ledger's queue (issue 25, quotas): S3 sends every bucket's object events
//! to one queue, each replica's consumer receives them in batches (long polling) and deletes
//! them once the ledger has committed; `bootstrap` creates the queue with its policy and
//! `doctor` reads that policy back.
//!
//! These calls do not take a slot of the AWS gate: a long poll holds its connection for up to
//! 20 s, and one consumer per replica must not starve the vends the gate is there for. They are
//! counted in the call metrics like every other AWS call (`service="sqs"`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use aws_smithy_runtime_api::http::Response;
use time::OffsetDateTime;

use super::calls::{ANSWERS, CallMetrics};
use super::{Error, Sdk, Service};
use crate::config::AwsConfig;
use crate::runtime::metrics::Metrics;

/// SQS's limits on one `ReceiveMessage`: at most 10 messages, a wait of at most 20 s.
pub const MAX_MESSAGES: i32 = 10;
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// A failed SQS call, classified.
fn failed<E: ProvideErrorMetadata + std::error::Error + 'static>(e: SdkError<E, Response>) -> Error {
    Error::from_sdk(Service::Sqs, e)
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    /// What deletes it (valid until its visibility timeout ends).
    pub receipt: String,
    pub body: String,
    /// When SQS accepted it (`SentTimestamp`); `None` if SQS did not say.
    pub sent: Option<OffsetDateTime>,
}

/// A message `DeleteMessageBatch` did not delete: it comes back after its visibility timeout
/// (harmless for the ledger, which ignores an event it has applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDeleted {
    /// Index into the receipts given.
    pub index: usize,
    pub code: String,
}

/// A queue as `GetQueueAttributes` shows it.
#[derive(Debug, Clone, Default)]
pub struct QueueAttributes {
    pub arn: Option<String>,
    /// The queue's access policy (JSON), if it has one.
    pub policy: Option<String>,
}

/// The SQS client, built from the same SDK set-up (region, endpoint, timeouts) as S3's and STS's.
pub struct Sqs {
    client: aws_sdk_sqs::Client,
}

impl Sqs {
    /// A client whose calls are counted in `metrics`. The SDK's own timeout is stretched for a
    /// long poll: `ReceiveMessage` answers only after its wait.
    pub fn new(sdk: &Sdk, metrics: Arc<Metrics>) -> Self {
        let conf = aws_sdk_sqs::config::Builder::from(&sdk.config)
            .timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(MAX_WAIT + sdk.call_timeout)
                    .operation_timeout((MAX_WAIT + sdk.call_timeout) * 2)
                    .build(),
            )
            .interceptor(CallMetrics::new(metrics, ANSWERS))
            .build();
        Self {
            client: aws_sdk_sqs::Client::from_conf(conf),
        }
    }

    /// The operator commands' client (their calls are not the service's metrics).
    pub fn for_command(sdk: &Sdk) -> Self {
        Self::new(sdk, Arc::new(Metrics::new()))
    }

    /// Up to `max` (1 to 10) messages of `queue_url`, waiting up to `wait` (at most 20 s) for
    /// the first: an empty answer means none arrived meanwhile.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn receive(&self, queue_url: &str, wait: Duration, max: i32) -> Result<Vec<Message>, Error> {
        let wait = i32::try_from(wait.min(MAX_WAIT).as_secs()).unwrap_or(0);
        let out = self
            .client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max.clamp(1, MAX_MESSAGES))
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(failed)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let sent = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|ms| ms.parse::<i128>().ok())
                    .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok());
                Some(Message {
                    id: m.message_id.unwrap_or_default(),
                    // Without a receipt handle a message cannot be deleted: leave it to come back.
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    sent,
                })
            })
            .collect())
    }

    /// Deletes the messages whose receipts are given (at most 10, as received together); the
    /// answer lists those SQS did not delete.
    #[tracing::instrument(skip(self, receipts), fields(n = receipts.len()), level = "debug")]
    pub async fn delete(&self, queue_url: &str, receipts: &[String]) -> Result<Vec<NotDeleted>, Error> {
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let mut req = self.client.delete_message_batch().queue_url(queue_url);
        for (i, receipt) in receipts.iter().enumerate() {
            req = req.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .map_err(|e| Error::build(Service::Sqs, e))?,
            );
        }
        let out = req.send().await.map_err(failed)?;
        Ok(out
            .failed
            .iter()
            .map(|f| NotDeleted {
                index: f.id.parse().unwrap_or(usize::MAX),
                code: f.code.clone(),
            })
            .collect())
    }

    /// The URL of the queue named `name`, or `None` when there is none.
    pub async fn queue_url(&self, name: &str) -> Result<Option<String>, Error> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(out) => Ok(out.queue_url),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_queue_does_not_exist() || s.code() == Some("AWS.SimpleQueueService.NonExistentQueue")
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Creates the queue `name` (no policy yet: the policy names the queue's ARN, known once it
    /// exists) and answers its URL; an existing queue of that name is answered as it is.
    pub async fn create_queue(&self, name: &str) -> Result<String, Error> {
        let out = self
            .client
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(failed)?;
        out.queue_url.ok_or_else(|| Error::Internal {
            service: Service::Sqs,
            detail: "CreateQueue answered without a queue URL".to_owned(),
        })
    }

    /// Sets the queue's access policy.
    pub async fn set_policy(&self, queue_url: &str, policy: &str) -> Result<(), Error> {
        self.client
            .set_queue_attributes()
            .queue_url(queue_url)
            .attributes(QueueAttributeName::Policy, policy)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The queue's ARN and policy.
    pub async fn attributes(&self, queue_url: &str) -> Result<QueueAttributes, Error> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .attribute_names(QueueAttributeName::Policy)
            .send()
            .await
            .map_err(failed)?;
        let mut attrs = out.attributes.unwrap_or_default();
        Ok(QueueAttributes {
            arn: attrs.remove(&QueueAttributeName::QueueArn),
            policy: attrs.remove(&QueueAttributeName::Policy).filter(|p| !p.is_empty()),
        })
    }
}

/// The ARN of the queue at `queue_url` (`https://sqs.<region>.amazonaws.com/<account>/<name>`,
/// or a custom endpoint's `http://host:port/<account>/<name>`): SQS's URLs end in the account
/// and the name, so the ARN is known without a call. `None` for a URL of another shape.
pub fn queue_arn(partition: &str, region: &str, queue_url: &str) -> Option<String> {
    let path = queue_url.split_once("://")?.1.split_once('/')?.1.trim_end_matches('/');
    let (account, name) = path.split_once('/')?;
    let ok = account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

/// The ARN of `[quota]`'s queue for this deployment (the role's partition, `aws.region`);
/// `None` when `queue_url` is not an SQS queue URL.
pub fn configured_queue_arn(aws: &AwsConfig, queue_url: &str) -> Option<String> {
    let partition = aws.role_arn.split(':').nth(1).unwrap_or("aws");
    queue_arn(partition, &aws.region, queue_url)
}

#[cfg(test)]
mod tests {
    use super::queue_arn;

    #[test]
    fn a_queue_url_gives_its_arn() {
        assert_eq!(
            queue_arn(
                "aws",
                "eu-west-1",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/stsvend-usage"
            )
            .as_deref(),
            Some("arn:aws:sqs:eu-west-1:123456789012:stsvend-usage")
        );
        assert_eq!(
            queue_arn("aws", "us-east-1", "http://127.0.0.1:4566/000000000000/q_1/").as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:q_1")
        );
        assert_eq!(
            queue_arn("aws", "us-east-1", "https://sqs.amazonaws.com/stsvend-usage"),
            None
        );
        assert_eq!(queue_arn("aws", "us-east-1", "https://sqs.x/12/q"), None);
        assert_eq!(queue_arn("aws", "us-east-1", "https://sqs.x/123456789012/a/b"), None);
    }
}
