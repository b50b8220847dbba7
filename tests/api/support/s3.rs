//! S3 clients against `MiniStack`: with vended keys (as a user's SDK), with the service's own
//! keys (to inspect what stsvend configured), as another account's root; bucket helpers.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use stsvend::config::Config;

use super::{Vended, required_env};

pub fn s3_with(creds: Credentials) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(required_env("STSVEND_AWS__ENDPOINT_URL"))
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 client using vended keys, as a user's SDK would.
pub fn user_s3(v: &Vended) -> aws_sdk_s3::Client {
    s3_with(Credentials::new(
        &v.access_key_id,
        &v.secret_access_key,
        Some(v.session_token.clone()),
        None,
        "vended",
    ))
}

/// An S3 client with the service's own keys, to inspect what stsvend configured.
pub fn service_s3() -> aws_sdk_s3::Client {
    s3_with(Credentials::new(
        required_env("AWS_ACCESS_KEY_ID"),
        required_env("AWS_SECRET_ACCESS_KEY"),
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "service",
    ))
}

/// Root of another AWS account: `MiniStack` treats a 12-digit access key with the secret `test`
/// as the root of that account, which is how a name "taken by someone else" is staged.
pub fn other_account_s3() -> aws_sdk_s3::Client {
    s3_with(Credentials::new("111111111111", "test", None, None, "other-account"))
}

/// The S3 error code of a failed call ("`AccessDenied`", ...), or "ok".
pub fn s3_code<T, E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug>(
    r: &Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> String {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match r {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().map_or_else(|| format!("{e:?}"), str::to_owned),
    }
}

/// A bucket prefix (`storage.bucket_name_prefix`) no other test uses, within the seeded
/// `stsvend-*` permissions: bucket names are random, so a test that must count the buckets its
/// service made gives the service a prefix of its own.
pub fn private_prefix() -> String {
    format!("stsvend-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Buckets with the given name prefix, as the service account sees them.
pub async fn buckets_named(prefix: &str) -> Vec<String> {
    let out = service_s3().list_buckets().send().await.unwrap();
    out.buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// A shared bucket of its own for a prefix-mode test, created and locked down as `bootstrap`
/// does it (`Buckets::configure_shared`), its events sent to `[quota]`'s queue if configured.
pub async fn fresh_shared_bucket(config: &Config) -> String {
    let name = format!("stsvend-shared-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let bucket = stsvend::identity::BucketName::parse(&name).unwrap();
    let buckets = stsvend::aws::s3::Buckets::new(
        &stsvend::aws::Sdk::load(&config.aws).await,
        &config.storage,
        &config.aws,
        stsvend::aws::gate::AwsGate::for_command(&config.aws, &config.limits),
    )
    // With `[quota]`, its object events go to the usage queue, as `bootstrap` sets it.
    .with_notifications(
        config
            .quota
            .as_ref()
            .and_then(|q| stsvend::aws::sqs::configured_queue_arn(&config.aws, &q.queue_url)),
    );
    assert!(matches!(
        buckets.create(&bucket).await.unwrap(),
        stsvend::aws::s3::Created::Yes
    ));
    buckets.configure_shared(&bucket).await.unwrap();
    name
}

/// A bucket created with nothing set on it, as a crash right after `CreateBucket` leaves one.
pub async fn create_bare_bucket(name: &str) {
    service_s3().create_bucket().bucket(name).send().await.unwrap();
}

/// The value of `bucket`'s `stsvend-owner` tag (the user or organisation id it was made for).
pub async fn owner_tag(bucket: &str) -> Option<String> {
    let tags = service_s3().get_bucket_tagging().bucket(bucket).send().await.ok()?;
    tags.tag_set()
        .iter()
        .find(|t| t.key() == "stsvend-owner")
        .map(|t| t.value().to_owned())
}
