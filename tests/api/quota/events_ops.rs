//! The operator commands for quotas, through the real binary: `bootstrap` makes the usage queue
//! with its policy (and the shared bucket's notifications), idempotently, and prints its URL;
//! `doctor` passes on what bootstrap made and fails a queue that strangers may send to, or a
//! shared bucket that sends nothing.

use serde_json::json;
use stsvend::aws::sqs::configured_queue_arn;
use stsvend::identity::AccountId;
use stsvend::ops::documents::{parse_returned, queue_policy};

use crate::support::ops::*;
use crate::support::quota::{UsageQueue, root_sqs, usage_queue};
use crate::support::{
    Options, TestApp, TestIssuer, fresh_shared_bucket, private_prefix, service_s3, test_config, unique_sub,
};

const URL_LINE: &str = "usage queue URL (set quota.queue_url to it): ";

/// `bootstrap --quota` with root keys for a role of its own, `env` on top.
async fn bootstrap_quota(role_arn: &str, env: &[(&str, String)]) -> Run {
    let mut all = vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("STSVEND_AWS__ROLE_ARN", role_arn.to_owned()),
    ];
    all.extend(env.iter().cloned());
    stsvend(&["bootstrap", "--principal-arn", SERVICE_USER_ARN, "--quota"], &all).await
}

async fn queue_policy_of(url: &str) -> serde_json::Value {
    let out = root_sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let text = out.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::Policy].clone();
    parse_returned(&text).unwrap()
}

#[tokio::test]
async fn bootstrap_makes_the_usage_queue_once_and_repairs_only_its_policy() {
    let (_, role) = fresh_role();
    let prefix = private_prefix();
    let env = [("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone())];
    let first = bootstrap_quota(&role, &env).await;
    assert_eq!(first.code, 0, "{first}");
    assert!(
        first.has_line(&format!("created usage queue {prefix}-usage with its policy")),
        "{first}"
    );
    let url = first
        .lines()
        .iter()
        .find_map(|l| l.strip_prefix(URL_LINE))
        .unwrap_or_else(|| panic!("no URL line: {first}"))
        .to_owned();
    let config = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let arn = configured_queue_arn(&config.aws, &url).unwrap();
    let account = AccountId::parse(ACCOUNT).unwrap();
    let want = queue_policy("aws", &arn, &prefix, &account);
    assert_eq!(queue_policy_of(&url).await, want);

    let second = bootstrap_quota(&role, &env).await;
    assert!(
        second.has_line(&format!("unchanged: usage queue {prefix}-usage and its policy")),
        "{second}"
    );
    assert!(second.has_line(&format!("{URL_LINE}{url}")), "{second}");

    // Someone widened the policy: the next run puts it back.
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn}]});
    root_sqs()
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, wide.to_string())
        .send()
        .await
        .unwrap();
    let third = bootstrap_quota(&role, &env).await;
    assert!(
        third.has_line(&format!("updated the policy of usage queue {prefix}-usage")),
        "{third}"
    );
    assert_eq!(queue_policy_of(&url).await, want);
}

#[tokio::test]
async fn bootstrap_points_the_shared_buckets_events_at_the_usage_queue() {
    let (_, role) = fresh_role();
    let prefix = private_prefix();
    let shared = format!("{prefix}-shared");
    let env = [
        ("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone()),
        ("STSVEND_STORAGE__MODE", "prefix".to_owned()),
        ("STSVEND_STORAGE__SHARED_BUCKET", shared.clone()),
    ];
    let run = bootstrap_quota(&role, &env).await;
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("object events sent to the usage queue"), "{run}");
    let config = test_config("http://127.0.0.1:1/", std::path::Path::new("/nonexistent"), &[]);
    let url = run
        .lines()
        .iter()
        .find_map(|l| l.strip_prefix(URL_LINE))
        .unwrap()
        .to_owned();
    let arn = configured_queue_arn(&config.aws, &url).unwrap();
    let notifications = service_s3()
        .get_bucket_notification_configuration()
        .bucket(&shared)
        .send()
        .await
        .unwrap();
    let queues = notifications.queue_configurations();
    assert_eq!(queues.len(), 1, "{notifications:?}");
    assert_eq!(queues[0].queue_arn(), arn);
    let events: Vec<&str> = queues[0]
        .events()
        .iter()
        .map(aws_sdk_s3::types::Event::as_str)
        .collect();
    assert_eq!(events, stsvend::aws::s3::NOTIFIED_EVENTS);
}

#[tokio::test]
async fn bootstrap_dry_run_prints_the_queue_policy_and_makes_nothing() {
    let (_, role) = fresh_role();
    let prefix = private_prefix();
    let env = [("STSVEND_STORAGE__BUCKET_PREFIX", prefix.clone())];
    let mut all = vec![
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("STSVEND_AWS__ROLE_ARN", role.clone()),
    ];
    all.extend(env.iter().cloned());
    let run = stsvend(
        &["bootstrap", "--principal-arn", SERVICE_USER_ARN, "--quota", "--dry-run"],
        &all,
    )
    .await;
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.has_line(&format!("would create usage queue {prefix}-usage with its policy")),
        "{run}"
    );
    assert!(
        run.stdout.contains("usage queue policy:") && run.stdout.contains("\"aws:SourceAccount\""),
        "{run}"
    );
    assert!(
        run.stdout.contains("sqs:ReceiveMessage"),
        "the service principal's quota permissions: {run}"
    );
    let gone = root_sqs()
        .get_queue_url()
        .queue_name(format!("{prefix}-usage"))
        .send()
        .await;
    assert!(gone.is_err(), "a dry run made the queue");
}

/// `stsvend doctor` with a fresh database, quotas on `queue`, `env` on top.
async fn doctor(queue: &UsageQueue, env: &[(&str, String)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    doctor_on(queue, &dir.path().join("s.db"), env).await
}

/// The same, on the database at `db`.
async fn doctor_on(queue: &UsageQueue, db: &std::path::Path, env: &[(&str, String)]) -> Run {
    let issuer = TestIssuer::start();
    let mut all = vec![
        ("STSVEND_AUTH__ISSUER", issuer.issuer.clone()),
        ("STSVEND_DATABASE__PATH", db.display().to_string()),
        ("STSVEND_QUOTA__QUEUE_URL", queue.url.clone()),
    ];
    all.extend(env.iter().cloned());
    stsvend(&["doctor"], &all).await
}

#[tokio::test]
async fn doctor_passes_the_bootstrap_queue_and_fails_one_strangers_may_send_to() {
    let queue = usage_queue().await;
    let run = doctor(&queue, &[]).await;
    assert!(run.lines().iter().any(|l| l.starts_with("ok   quota: ")), "{run}");
    // The policy without its account condition: any account's `stsvend-*` bucket may send.
    let mut loose = queue_policy("aws", &queue.arn, "stsvend", &AccountId::parse(ACCOUNT).unwrap());
    loose["Statement"][0]["Condition"]
        .as_object_mut()
        .unwrap()
        .remove("StringEquals");
    root_sqs()
        .set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, loose.to_string())
        .send()
        .await
        .unwrap();
    let run = doctor(&queue, &[]).await;
    assert_eq!(run.code, 1, "{run}");
    let line = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("FAIL quota: "))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains("any account"), "{line}");
}

#[tokio::test]
async fn doctor_fails_a_shared_bucket_that_sends_no_events() {
    let queue = usage_queue().await;
    // Made without `[quota]`: no notifications.
    let shared = fresh_shared_bucket(&test_config(
        "http://127.0.0.1:1/",
        std::path::Path::new("/nonexistent"),
        &[],
    ))
    .await;
    let prefix_mode = [
        ("STSVEND_STORAGE__MODE", "prefix".to_owned()),
        ("STSVEND_STORAGE__SHARED_BUCKET", shared.clone()),
    ];
    let run = doctor(&queue, &prefix_mode).await;
    let line = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("FAIL quota: "))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains(&shared), "{line}");
    // With the notifications set, as bootstrap sets them, it passes.
    let with_quota = [("STSVEND_QUOTA__QUEUE_URL".to_owned(), queue.url.clone())];
    let fixed = fresh_shared_bucket(&test_config(
        "http://127.0.0.1:1/",
        std::path::Path::new("/nonexistent"),
        &with_quota,
    ))
    .await;
    let run = doctor(
        &queue,
        &[prefix_mode[0].clone(), ("STSVEND_STORAGE__SHARED_BUCKET", fixed)],
    )
    .await;
    assert!(run.lines().iter().any(|l| l.starts_with("ok   quota: ")), "{run}");
}

#[tokio::test]
async fn doctor_samples_users_buckets_and_warns_of_those_made_before_quotas() {
    let queue = usage_queue().await;
    let app = TestApp::spawn_with(Options::default().with_quota(&queue)).await;
    app.vend(&unique_sub("quota-doctor-a"), None).await;
    let db = app.db_dir.path().join("stsvend.db");
    let run = doctor_on(&queue, &db, &[]).await;
    let ok = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("ok   quota: "))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(
        ok.contains("the 1 users' buckets sampled send their object events"),
        "{ok}"
    );
    // A user whose bucket was made while quotas were off.
    let before = TestApp::spawn_with(Options {
        db_dir: Some(app.db_dir.clone()),
        issuer: Some(app.issuer.clone()),
        ..Options::default()
    })
    .await;
    let silent = before.vend(&unique_sub("quota-doctor-b"), None).await;
    let run = doctor_on(&queue, &db, &[]).await;
    let warn = run
        .lines()
        .into_iter()
        .find(|l| l.starts_with("warn quota: "))
        .unwrap_or_else(|| panic!("{run}"));
    assert!(warn.contains(&silent.bucket) && warn.contains("1 of 2"), "{warn}");
}
