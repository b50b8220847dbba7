//! `bootstrap`'s part for quotas (issue 25): the SQS queue S3 sends the buckets' object events
//! to, named `<storage.bucket_name_prefix>-usage`, with a policy letting only S3 send, for this
//! account's `<bucket_name_prefix>-*` buckets (`documents::queue_policy`). Created when
//! missing, its policy written when it differs; the URL is printed for `quota.queue_url`. In
//! prefix mode the shared bucket's notifications are set by `configure_shared` with the rest of
//! its settings.

use serde_json::Value;

use super::OpsError;
use super::documents::{self, pretty, queue_policy, usage_queue_name};
use crate::aws::sqs::{Sqs, queue_arn};
use crate::config::Config;

/// What bootstrap does to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueStep {
    Create,
    SetPolicy { replace: bool },
    Unchanged,
}

/// The step that brings a queue whose policy is `now` (`None`: the queue has none; the outer
/// `None`: there is no queue) to `desired`.
pub fn queue_step(now: Option<Option<&Value>>, desired: &Value) -> QueueStep {
    match now {
        None => QueueStep::Create,
        Some(Some(p)) if p == desired => QueueStep::Unchanged,
        Some(Some(_)) => QueueStep::SetPolicy { replace: true },
        Some(None) => QueueStep::SetPolicy { replace: false },
    }
}

impl QueueStep {
    /// The line bootstrap prints.
    pub fn line(&self, name: &str, dry_run: bool) -> String {
        let verb = match (self, dry_run) {
            (Self::Unchanged, _) => return format!("unchanged: usage queue {name} and its policy"),
            (Self::Create, true) => "would create",
            (Self::Create, false) => "created",
            (Self::SetPolicy { replace: true }, true) => "would update",
            (Self::SetPolicy { replace: true }, false) => "updated",
            (Self::SetPolicy { replace: false }, true) => "would set",
            (Self::SetPolicy { replace: false }, false) => "set",
        };
        match self {
            Self::Create => format!("{verb} usage queue {name} with its policy"),
            _ => format!("{verb} the policy of usage queue {name}"),
        }
    }
}

/// Creates or repairs the usage queue; answers its URL (`None` on a dry run of a queue that
/// does not exist yet).
pub async fn ensure(config: &Config, sqs: &Sqs, partition: &str, dry_run: bool) -> Result<Option<String>, OpsError> {
    let prefix = &config.storage.bucket_name_prefix;
    let name = usage_queue_name(prefix);
    let account = config.aws.account_id();
    let url = sqs.queue_url(&name).await?;
    let now = match &url {
        Some(u) => Some(sqs.attributes(u).await?.policy),
        None => None,
    };
    let arn_of = |u: &str| {
        queue_arn(partition, &config.aws.region, u).ok_or_else(|| {
            OpsError::Invalid(format!(
                "SQS answered a queue URL that does not end in /<account>/<name>: {u}"
            ))
        })
    };
    let planned_arn = format!("arn:{partition}:sqs:{}:{}:{name}", config.aws.region, account.as_str());
    let desired = queue_policy(
        partition,
        &url.as_deref().map_or(Ok(planned_arn), arn_of)?,
        prefix,
        &account,
    );
    let parsed = now.as_ref().map(|p| p.as_deref().and_then(documents::parse_returned));
    let step = queue_step(parsed.as_ref().map(Option::as_ref), &desired);
    if dry_run {
        println!("usage queue policy:\n{}", pretty(&desired));
    } else {
        let target = match (&step, &url) {
            (QueueStep::Create, _) | (_, None) => sqs.create_queue(&name).await?,
            (_, Some(u)) => u.clone(),
        };
        if step != QueueStep::Unchanged {
            let policy = queue_policy(partition, &arn_of(&target)?, prefix, &account);
            sqs.set_policy(&target, &policy.to_string()).await?;
        }
        println!("{}", step.line(&name, false));
        println!("usage queue URL (set quota.queue_url to it): {target}");
        return Ok(Some(target));
    }
    println!("{}", step.line(&name, true));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_queue_is_created_or_its_policy_written_only_when_it_differs() {
        let want = json!({"Statement": [1]});
        assert_eq!(queue_step(None, &want), QueueStep::Create);
        assert_eq!(queue_step(Some(None), &want), QueueStep::SetPolicy { replace: false });
        assert_eq!(
            queue_step(Some(Some(&json!({"Statement": [2]}))), &want),
            QueueStep::SetPolicy { replace: true }
        );
        assert_eq!(queue_step(Some(Some(&want)), &want), QueueStep::Unchanged);
    }

    #[test]
    fn queue_lines_read_as_the_operator_expects() {
        assert_eq!(
            QueueStep::Create.line("s-usage", true),
            "would create usage queue s-usage with its policy"
        );
        assert_eq!(
            QueueStep::SetPolicy { replace: true }.line("s-usage", false),
            "updated the policy of usage queue s-usage"
        );
        assert_eq!(
            QueueStep::Unchanged.line("s-usage", false),
            "unchanged: usage queue s-usage and its policy"
        );
    }
}
