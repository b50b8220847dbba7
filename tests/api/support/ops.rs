//! Running the real binary's operator commands (`bootstrap`, `doctor`, `users`) to completion,
//! and IAM and STS clients as `MiniStack`'s root or as given keys.

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};

use super::process::{BIN, CONFIG, POLICIES};
use super::required_env;
pub use super::s3::s3_with;

pub const ACCOUNT: &str = "000000000000";
pub const SERVICE_USER_ARN: &str = "arn:aws:iam::000000000000:user/stsvend-service";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn has_line(&self, line: &str) -> bool {
        self.stdout.lines().any(|l| l == line)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the binary with the suite's environment, `env` on top; `AWS_SESSION_TOKEN` is dropped
/// unless `env` sets it. Async, so a test issuer on this runtime keeps answering meanwhile.
pub async fn stsvend(args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .arg("--config")
        .arg(CONFIG)
        .env_remove("AWS_SESSION_TOKEN")
        .env("STSVEND_POLICIES__DIR", POLICIES)
        // Test issuers serve plain http on loopback.
        .env("STSVEND_AUTH__ALLOW_INSECURE_HTTP", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn endpoint() -> String {
    required_env("STSVEND_AWS__ENDPOINT_URL")
}

pub fn iam_as(key: &str, secret: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// IAM as `MiniStack`'s root (test/test).
pub fn root_iam() -> aws_sdk_iam::Client {
    iam_as("test", "test")
}

pub fn sts_with(creds: Credentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(creds)
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// A new IAM user (named `<prefix>-<random>`) with `policy` inline; returns its ARN and keys.
pub async fn user_with_policy(prefix: &str, policy: &serde_json::Value) -> (String, Credentials) {
    let iam = root_iam();
    let name = format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let user = iam.create_user().user_name(&name).send().await.unwrap().user.unwrap();
    iam.put_user_policy()
        .user_name(&name)
        .policy_name("inline")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(&name)
        .send()
        .await
        .unwrap()
        .access_key
        .unwrap();
    let creds = Credentials::new(key.access_key_id, key.secret_access_key, None, None, "test-user");
    (user.arn, creds)
}

/// A role name no other test uses, and its ARN.
pub fn fresh_role() -> (String, String) {
    let name = format!("stsvend-test-{}", uuid::Uuid::new_v4().simple());
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    (name, arn)
}

pub async fn assume(
    creds: Credentials,
    role_arn: &str,
    tag_key: &str,
) -> Result<aws_sdk_sts::types::Credentials, String> {
    let tag = aws_sdk_sts::types::Tag::builder()
        .key(tag_key)
        .value("u-ops")
        .build()
        .unwrap();
    sts_with(creds)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("ops-test")
        .source_identity("stsvend-ops-test")
        .duration_seconds(900)
        .tags(tag)
        .send()
        .await
        .map(|out| out.credentials.unwrap())
        .map_err(|e| {
            aws_sdk_sts::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("?")
                .to_owned()
        })
}

/// The service user's keys, as seeded.
pub fn service_credentials() -> Credentials {
    Credentials::new(
        required_env("AWS_ACCESS_KEY_ID"),
        required_env("AWS_SECRET_ACCESS_KEY"),
        None,
        None,
        "service",
    )
}

/// A new role the service user may assume whose permission policy grants the user buckets
/// without pinning the account (`s3:ResourceAccount`), as roles made before that check were.
/// Returns its name and ARN.
pub async fn role_without_account_pin() -> (String, String) {
    use stsvend::ops::documents;
    let (name, arn) = fresh_role();
    let iam = root_iam();
    iam.create_role()
        .role_name(&name)
        .assume_role_policy_document(documents::trust_policy(SERVICE_USER_ARN, "stsvend-user").to_string())
        .send()
        .await
        .unwrap();
    let account = stsvend::identity::AccountId::parse(ACCOUNT).unwrap();
    let mut unpinned = documents::permission_policy("aws", "stsvend", &account);
    unpinned["Statement"][0].as_object_mut().unwrap().remove("Condition");
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(documents::PERMISSION_POLICY_NAME)
        .policy_document(unpinned.to_string())
        .send()
        .await
        .unwrap();
    (name, arn)
}
