//! `SigV4` with the user's own session keys: query-string presigning of one request
//! (`aws-sigv4`, the signer the AWS SDK itself uses), and the signature of a POST policy
//! (`SigV4`'s signing key over the base64 policy). Callers hand in the user's `Credentials`
//! and get URLs and form fields back: no SDK type leaves this module.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::aws::sts::Credentials;
use crate::aws::{Error, Service};

/// A signature the signer would not make: a bug (the inputs are stsvend's own), not an outage.
fn unsigned(e: impl std::fmt::Display) -> Error {
    Error::Internal {
        service: Service::S3,
        detail: format!("signing failed: {e}"),
    }
}

/// S3's service name in a credential scope.
const SERVICE: &str = Service::S3.as_str();

/// `url` (path already encoded, no query) signed for `method` to be valid for `expires`
/// from `now`, with the signed `headers` the client must send as they are.
pub fn presign(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    creds: &Credentials,
    region: &str,
    now: SystemTime,
    expires: Duration,
) -> Result<String, Error> {
    let identity = identity(creds);
    let mut settings = SigningSettings::default();
    // The path is encoded once, by `location`; S3 neither double-encodes nor normalizes it.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(unsigned)?
        .into();
    let request =
        SignableRequest::new(method, url, headers.iter().copied(), SignableBody::UnsignedPayload).map_err(unsigned)?;
    let (instructions, _signature) = sign(request, &params).map_err(unsigned)?.into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect();
    Ok(format!("{url}?{}", query.join("&")))
}

/// The form fields a POST policy is signed with, and the signature over `policy_b64`.
pub struct PostSignature {
    pub credential: String,
    pub amz_date: String,
    pub security_token: String,
}

impl PostSignature {
    pub fn new(creds: &Credentials, region: &str, now: OffsetDateTime) -> Self {
        let date = now
            .format(format_description!("[year][month][day]"))
            .unwrap_or_default();
        let amz_date = now
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap_or_default();
        Self {
            credential: format!("{}/{date}/{region}/{SERVICE}/aws4_request", creds.access_key_id()),
            amz_date,
            security_token: creds.session_token(),
        }
    }
}

/// The `SigV4` signature of a base64 POST policy: HMAC-SHA256 under the signing key of the
/// date, region and service.
pub fn sign_policy(policy_b64: &str, creds: &Credentials, region: &str, now: SystemTime) -> String {
    let key = v4::generate_signing_key(creds.secret_access_key(), now, region, SERVICE);
    v4::calculate_signature(key, policy_b64.as_bytes())
}

/// `SigV4`'s URI encoding: every byte but `A-Z a-z 0-9 - . _ ~` (and `/` when `keep_slash`) as
/// `%XX` in upper-case hex.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn identity(creds: &Credentials) -> aws_smithy_runtime_api::client::identity::Identity {
    aws_credential_types::Credentials::new(
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token()),
        Some(SystemTime::from(creds.expiration)),
        "stsvend",
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new(
            "ASIAEXAMPLEEXAMPLE12",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "FwoGZXIvYXdzEJr//////////wEaDLo+token=",
            OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        )
        .unwrap()
    }

    fn at() -> SystemTime {
        SystemTime::from(time::macros::datetime!(2025-12-01 0:00 UTC))
    }

    #[test]
    fn a_presigned_url_carries_every_query_parameter_s3_needs_and_keeps_the_path() {
        let url = presign(
            "GET",
            "http://127.0.0.1:4566/stsvend-abc/a%20b/c.txt",
            &[],
            &creds(),
            "us-east-1",
            at(),
            Duration::from_mins(5),
        )
        .unwrap();
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(path, "http://127.0.0.1:4566/stsvend-abc/a%20b/c.txt");
        for expected in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=ASIAEXAMPLEEXAMPLE12%2F20251201%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Date=20251201T000000Z",
            "X-Amz-Expires=300",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDLo%2Btoken%3D",
        ] {
            assert!(
                query.split('&').any(|p| p == expected),
                "{expected} missing from {query}"
            );
        }
        let sig = query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Signature="))
            .unwrap();
        assert_eq!(sig.len(), 64);
    }

    #[test]
    fn everything_but_unreserved_characters_and_slashes_is_encoded() {
        assert_eq!(
            uri_encode("a b+c%2e?#\\ü/~._-", true),
            "a%20b%2Bc%252e%3F%23%5C%C3%BC/~._-"
        );
        assert_eq!(uri_encode("a/b=c", false), "a%2Fb%3Dc");
    }

    #[test]
    fn a_signature_depends_on_the_method() {
        let sig = |m| {
            presign(
                m,
                "http://h/b/k",
                &[],
                &creds(),
                "us-east-1",
                at(),
                Duration::from_mins(1),
            )
            .unwrap()
            .rsplit_once("X-Amz-Signature=")
            .unwrap()
            .1
            .to_owned()
        };
        assert_ne!(sig("GET"), sig("PUT"));
    }

    #[test]
    fn the_post_credential_scope_names_the_day_region_and_s3() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_547_200).unwrap();
        let s = PostSignature::new(&creds(), "eu-west-1", now);
        assert_eq!(s.credential, "ASIAEXAMPLEEXAMPLE12/20251201/eu-west-1/s3/aws4_request");
        assert_eq!(s.amz_date, "20251201T000000Z");
    }

    #[test]
    fn a_policy_signature_is_aws_s_published_example() {
        // AWS's SigV4 POST example (AmazonS3/latest/API/sigv4-post-example.html): secret,
        // date 20151229, us-east-1, and its base64 policy give this signature.
        let example = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        let day = SystemTime::from(time::macros::datetime!(2015-12-29 0:00 UTC));
        assert_eq!(
            sign_policy(policy, &example, "us-east-1", day),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }
}
