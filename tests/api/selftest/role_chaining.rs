//! Issue 26 part 3: a service running on role credentials (an ECS task role, EKS, IAM Identity
//! Center) gets sessions of at most an hour from STS; start-up refuses a longer
//! `aws.session_duration_seconds` with doctor's message instead of failing every vend.
//! `MiniStack` does not model role chaining: the fault proxy answers the start-up trial
//! `AssumeRole` as AWS does.

use crate::support::fault_proxy::FaultProxy;
use crate::support::test_config;

/// AWS's answer to `AssumeRole` with a `DurationSeconds` over an hour from a role session.
const CHAINED: &str =
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";

#[tokio::test]
async fn start_up_refuses_a_duration_over_an_hour_on_role_credentials() {
    let proxy = FaultProxy::start().await;
    proxy.answer_sts_with_message(1, 400, "ValidationError", CHAINED);
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(
        "http://127.0.0.1:1/",
        &dir.path().join("s.db"),
        &[
            ("STSVEND_AWS__ENDPOINT_URL".to_owned(), proxy.url.clone()),
            ("STSVEND_AWS__SESSION_DURATION_SECONDS".to_owned(), "7200".to_owned()),
        ],
    );
    let Err(err) = stsvend::app::Application::build(config).await else {
        panic!("start-up went on with a session duration STS refuses to role credentials");
    };
    let msg = err.to_string();
    assert!(
        msg.contains("runs on role credentials")
            && msg.contains("at 3600 s")
            && msg.contains("aws.session_duration_seconds = 7200"),
        "{msg}"
    );
}
