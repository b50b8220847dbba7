//! The event notifications that feed the usage ledger (issue 25, quotas): every bucket stsvend
//! makes sends its object creations and removals to the `[quota]` queue, and `doctor` reads
//! them back. S3 sends an `s3:TestEvent` to the queue each time the configuration is written
//! (the consumer counts and drops it), and refuses the configuration when the queue's policy
//! does not let this bucket send.

use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};

use super::{Buckets, failed};
use crate::aws::{Error, Service};
use crate::identity::BucketName;

/// `Id` of stsvend's queue configuration; other configurations a bucket has are kept.
pub const NOTIFICATION_ID: &str = "stsvend-usage";

/// The events sent: every way an object comes or goes (`LifecycleExpiration:*` too, for an
/// operator's expiry rule).
pub const NOTIFIED_EVENTS: [&str; 3] = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"];

/// What a bucket's notification configuration says about the usage queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notifying {
    /// Every event of [`NOTIFIED_EVENTS`] goes to the queue.
    Yes,
    /// The queue gets some of them only (the missing ones are named).
    Partly(Vec<String>),
    /// Nothing goes to the queue.
    No,
}

impl Buckets {
    /// Every bucket this client sets up also sends its object events to `queue_arn` (the
    /// `[quota]` queue); `None`: no notifications (quotas off).
    #[must_use]
    pub fn with_notifications(mut self, queue_arn: Option<String>) -> Self {
        self.queue_arn = queue_arn;
        self
    }

    /// Points the bucket's object events at the queue, when one is configured. `keep_others`:
    /// read the bucket's configuration first and keep what is not stsvend's (a shared bucket
    /// an operator may have given their own notifications); a new bucket has none.
    pub(super) async fn notify(&self, bucket: &BucketName, keep_others: bool) -> Result<(), Error> {
        let Some(queue) = &self.queue_arn else {
            return Ok(());
        };
        let mut ours = QueueConfiguration::builder().id(NOTIFICATION_ID).queue_arn(queue);
        for e in NOTIFIED_EVENTS {
            ours = ours.events(Event::from(e));
        }
        let ours = ours.build()?;
        let config = if keep_others {
            let now = self.notification(bucket).await?;
            let mut queues: Vec<QueueConfiguration> = now
                .queue_configurations()
                .iter()
                .filter(|q| q.id() != Some(NOTIFICATION_ID))
                .cloned()
                .collect();
            queues.push(ours);
            NotificationConfiguration::builder()
                .set_queue_configurations(Some(queues))
                .set_topic_configurations(now.topic_configurations)
                .set_lambda_function_configurations(now.lambda_function_configurations)
                .set_event_bridge_configuration(now.event_bridge_configuration)
                .build()
        } else {
            NotificationConfiguration::builder().queue_configurations(ours).build()
        };
        self.s3
            .put_bucket_notification_configuration()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .notification_configuration(config)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Whether `bucket` sends its object events to `queue_arn` (`doctor`).
    pub async fn notifies(&self, bucket: &BucketName, queue_arn: &str) -> Result<Notifying, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let config = self.notification(bucket).await?;
        let mut sent: Vec<&str> = Vec::new();
        for q in config
            .queue_configurations()
            .iter()
            .filter(|q| q.queue_arn() == queue_arn)
        {
            sent.extend(q.events().iter().map(Event::as_str));
        }
        let missing: Vec<String> = NOTIFIED_EVENTS
            .iter()
            .filter(|e| !sent.contains(e))
            .map(|e| (*e).to_owned())
            .collect();
        Ok(if missing.is_empty() {
            Notifying::Yes
        } else if missing.len() == NOTIFIED_EVENTS.len() {
            Notifying::No
        } else {
            Notifying::Partly(missing)
        })
    }

    async fn notification(&self, bucket: &BucketName) -> Result<NotificationConfiguration, Error> {
        let out = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
            .map_err(failed)?;
        Ok(NotificationConfiguration::builder()
            .set_queue_configurations(out.queue_configurations)
            .set_topic_configurations(out.topic_configurations)
            .set_lambda_function_configurations(out.lambda_function_configurations)
            .set_event_bridge_configuration(out.event_bridge_configuration)
            .build())
    }
}
