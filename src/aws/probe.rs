//! S3 as a user holding vended keys sees it: the requests `stsvend selftest` makes with its
//! probe users' keys (put, get, list, delete, a multipart upload, a copy, a pre-signed URL),
//! each answered as allowed, denied or failed. AWS decides; nothing here predicts an answer.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_runtime_api::http::Response;

use crate::aws::sts::Credentials;
use crate::config::AwsConfig;
use crate::identity::BucketName;

/// What S3 answered to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// Refused as forbidden (HTTP 403): AWS's error code, or `403` when it sent none.
    Denied(String),
    /// Neither: another error (code and message), or an answer that was not what was sent.
    Failed(String),
}

impl Outcome {
    fn of<T, E>(result: Result<T, SdkError<E, Response>>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match result {
            Ok(_) => Self::Allowed,
            Err(e) => Self::of_error(&e),
        }
    }

    fn of_error<E>(e: &SdkError<E, Response>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().map(ToOwned::to_owned);
        if status == Some(403) || code.as_deref() == Some("AccessDenied") {
            Self::Denied(code.unwrap_or_else(|| "403".to_owned()))
        } else {
            Self::Failed(match (code, e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code,
                _ => aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })
        }
    }
}

/// S3 with one set of vended keys, where the service's own S3 calls go (its region and endpoint).
pub struct ProbeS3 {
    s3: Client,
}

impl ProbeS3 {
    pub fn new(aws: &AwsConfig, keys: &Credentials) -> Self {
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(aws.region.clone()))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                keys.access_key_id(),
                keys.secret_access_key(),
                Some(keys.session_token()),
                None,
                "stsvend-selftest",
            ))
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(aws.call_timeout_seconds.saturating_mul(2)))
                    .build(),
            );
        if let Some(url) = &aws.endpoint_url {
            // As the service's own client: custom endpoints are addressed path-style.
            conf = conf.endpoint_url(url).force_path_style(true);
        }
        Self {
            s3: Client::from_conf(conf.build()),
        }
    }

    pub async fn put(&self, bucket: &BucketName, key: &str, body: &[u8]) -> Outcome {
        Outcome::of(
            Box::pin(
                self.s3
                    .put_object()
                    .bucket(bucket.as_str())
                    .key(key)
                    .body(ByteStream::from(body.to_vec()))
                    .send(),
            )
            .await,
        )
    }

    /// Allowed only when the body read back is `expected`.
    pub async fn get(&self, bucket: &BucketName, key: &str, expected: &[u8]) -> Outcome {
        match Box::pin(self.s3.get_object().bucket(bucket.as_str()).key(key).send()).await {
            Ok(out) => match out
                .body
                .collect()
                .await
                .map(aws_sdk_s3::primitives::AggregatedBytes::into_bytes)
            {
                Ok(bytes) if bytes.as_ref() == expected => Outcome::Allowed,
                Ok(_) => Outcome::Failed("the object read back differs from the one written".to_owned()),
                Err(e) => Outcome::Failed(format!("reading the body: {e}")),
            },
            Err(e) => Outcome::of_error(&e),
        }
    }

    /// Lists one key under `prefix` (empty: the bucket's root).
    pub async fn list(&self, bucket: &BucketName, prefix: &str) -> Outcome {
        Outcome::of(
            Box::pin(
                self.s3
                    .list_objects_v2()
                    .bucket(bucket.as_str())
                    .max_keys(1)
                    .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                    .send(),
            )
            .await,
        )
    }

    pub async fn delete(&self, bucket: &BucketName, key: &str) -> Outcome {
        Outcome::of(Box::pin(self.s3.delete_object().bucket(bucket.as_str()).key(key).send()).await)
    }

    /// A one-part multipart upload, completed (or aborted when a later step fails).
    pub async fn multipart(&self, bucket: &BucketName, key: &str, body: &[u8]) -> Outcome {
        let created = Box::pin(
            self.s3
                .create_multipart_upload()
                .bucket(bucket.as_str())
                .key(key)
                .send(),
        )
        .await;
        let upload_id = match created {
            Ok(out) => match out.upload_id {
                Some(id) => id,
                None => return Outcome::Failed("CreateMultipartUpload answered without an upload id".to_owned()),
            },
            Err(e) => return Outcome::of_error(&e),
        };
        let finished = async {
            let part = Box::pin(
                self.s3
                    .upload_part()
                    .bucket(bucket.as_str())
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(1)
                    .body(ByteStream::from(body.to_vec()))
                    .send(),
            )
            .await
            .map_err(|e| Outcome::of_error(&e))?;
            let done = CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).set_e_tag(part.e_tag).build())
                .build();
            Box::pin(
                self.s3
                    .complete_multipart_upload()
                    .bucket(bucket.as_str())
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(done)
                    .send(),
            )
            .await
            .map_err(|e| Outcome::of_error(&e))?;
            Ok::<(), Outcome>(())
        }
        .await;
        match finished {
            Ok(()) => Outcome::Allowed,
            Err(outcome) => {
                // Best effort: an upload left open is removed with its storage anyway.
                let _ = Box::pin(
                    self.s3
                        .abort_multipart_upload()
                        .bucket(bucket.as_str())
                        .key(key)
                        .upload_id(&upload_id)
                        .send(),
                )
                .await;
                outcome
            }
        }
    }

    /// Copies `from_key` of `from` to `to_key` of `to`.
    pub async fn copy(&self, from: &BucketName, from_key: &str, to: &BucketName, to_key: &str) -> Outcome {
        Outcome::of(
            Box::pin(
                self.s3
                    .copy_object()
                    .copy_source(format!("{from}/{from_key}"))
                    .bucket(to.as_str())
                    .key(to_key)
                    .send(),
            )
            .await,
        )
    }

    /// A GET URL for `key`, signed with these keys (whatever the key: S3 decides on use).
    pub async fn presign_get(&self, bucket: &BucketName, key: &str, expires: Duration) -> Result<String, String> {
        let config = PresigningConfig::expires_in(expires).map_err(|e| e.to_string())?;
        Box::pin(self.s3.get_object().bucket(bucket.as_str()).key(key).presigned(config))
            .await
            .map(|r| r.uri().to_owned())
            .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())
    }
}

/// GETs a pre-signed `url`: allowed when S3 answers 200 with `expected`, denied on a 403.
pub async fn fetch(url: &str, expected: &[u8]) -> Outcome {
    let answer = match reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
    {
        Ok(a) => a,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let status = answer.status().as_u16();
    let body = answer.bytes().await.unwrap_or_default();
    match status {
        200 if body.as_ref() == expected => Outcome::Allowed,
        200 => Outcome::Failed("the URL answered 200 with another object".to_owned()),
        403 => Outcome::Denied(error_code(&body).unwrap_or_else(|| "403".to_owned())),
        other => Outcome::Failed(format!("HTTP {other} {}", error_code(&body).unwrap_or_default())),
    }
}

/// The `<Code>` of an S3 XML error body.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_of_an_s3_error_body_is_read() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(error_code(b"not xml"), None);
    }
}
