//! Where an object lives, as a URL stsvend builds itself: the caller names a key, never a
//! bucket or a host. Path style (`<endpoint>/<bucket>/<key>`) when a custom endpoint is
//! configured, as the vend's `Endpoint` tells SDK clients to use; AWS's virtual-hosted style
//! (`https://<bucket>.s3.<region>.amazonaws.com/<key>`) otherwise (stsvend's bucket names have
//! no dots, so its TLS certificate covers them).
//!
//! Every key byte outside `SigV4`'s unreserved set (`A-Z a-z 0-9 - . _ ~`) is percent-encoded,
//! `/` kept, so the path the client sends is the path that was signed: no `?`, `#`, `%`, `\`
//! or space reaches a URL parser raw. Dot segments, which parsers remove even when encoded,
//! never get here (`key.rs`).

use crate::aws::s3::uri_encode;
use crate::identity::BucketName;

/// The S3 the user's storage is reached through.
#[derive(Debug, Clone)]
pub struct S3Location {
    /// `aws.endpoint_url` without a trailing `/`; `None` for AWS itself.
    endpoint: Option<String>,
}

impl S3Location {
    pub fn new(endpoint: Option<&str>) -> Self {
        Self {
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_owned()),
        }
    }

    /// The URL of object `s3_key` (the full key in the bucket) in `bucket`.
    pub fn object_url(&self, bucket: &BucketName, region: &str, s3_key: &str) -> String {
        format!("{}/{}", self.bucket_url(bucket, region), uri_encode(s3_key, true))
    }

    /// The bucket's URL without a trailing `/`: browser form uploads are posted to it (with
    /// `/` appended).
    pub fn bucket_url(&self, bucket: &BucketName, region: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}", bucket.as_str()),
            None => format!("https://{}.s3.{region}.amazonaws.com", bucket.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> BucketName {
        BucketName::parse("stsvend-abc").unwrap()
    }

    #[test]
    fn a_custom_endpoint_gets_path_style_urls() {
        let loc = S3Location::new(Some("http://127.0.0.1:4566/"));
        assert_eq!(
            loc.object_url(&bucket(), "us-east-1", "a/b.txt"),
            "http://127.0.0.1:4566/stsvend-abc/a/b.txt"
        );
        assert_eq!(
            loc.bucket_url(&bucket(), "us-east-1"),
            "http://127.0.0.1:4566/stsvend-abc"
        );
    }

    #[test]
    fn aws_itself_gets_virtual_hosted_urls() {
        let loc = S3Location::new(None);
        assert_eq!(
            loc.object_url(&bucket(), "eu-west-1", "x"),
            "https://stsvend-abc.s3.eu-west-1.amazonaws.com/x"
        );
    }

    #[test]
    fn a_key_naming_another_bucket_or_host_stays_a_path_in_this_bucket() {
        let loc = S3Location::new(Some("http://127.0.0.1:4566"));
        assert_eq!(
            loc.object_url(&bucket(), "us-east-1", "http://evil.example/other-bucket/x"),
            "http://127.0.0.1:4566/stsvend-abc/http%3A//evil.example/other-bucket/x"
        );
    }
}
