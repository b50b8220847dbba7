//! The multipart helper: a two-part S3 multipart upload (a 5 MiB part, the smallest S3 takes
//! before the last, then 1 KiB), step by step, so a test sees which call a policy refused.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::s3_code;

/// Uploads `key` to `bucket` in two parts with `s3`: the outcome ("ok" or the S3 error code)
/// of each call made, up to and including the first that failed.
pub async fn upload_in_two_parts(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(&'static str, String)> {
    let created = s3.create_multipart_upload().bucket(bucket).key(key).send().await;
    let mut steps = vec![("CreateMultipartUpload", s3_code(&created))];
    let Ok(created) = created else {
        return steps;
    };
    let upload_id = created.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (n, body) in [(1, vec![b'a'; 5 * 1024 * 1024]), (2, vec![b'b'; 1024])] {
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await;
        steps.push(("UploadPart", s3_code(&part)));
        let Ok(part) = part else {
            return steps;
        };
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap_or_default())
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await;
    steps.push(("CompleteMultipartUpload", s3_code(&done)));
    steps
}

/// [`upload_in_two_parts`] as one outcome: the first failure's code, or "ok".
pub async fn upload_in_two_parts_outcome(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    upload_in_two_parts(s3, bucket, key)
        .await
        .into_iter()
        .map(|(_, outcome)| outcome)
        .find(|outcome| outcome != "ok")
        .unwrap_or_else(|| "ok".to_owned())
}
