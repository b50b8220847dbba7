//! stsvend's `POST /v1/credentials` answer, read into the SDK's `Credentials` and a `Storage`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;

/// Where the vended keys reach: `s3://<bucket>/<prefix>`. Write `prefix + name`, and list with
/// `Prefix = prefix`; that works in both of stsvend's storage modes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Storage {
    pub bucket: String,
    /// `""` when the bucket is the user's alone (bucket mode); `users/<id>/` in a shared bucket
    /// (prefix mode), where every key must start with it and a listing must ask for it.
    pub prefix: String,
    pub region: String,
    /// A custom S3 endpoint (a local stand-in, a proxy), when stsvend is configured with one:
    /// use it with path-style addressing. `None` means AWS itself.
    pub endpoint: Option<String>,
    /// The template the keys were vended under (`read-write`, `read-only`, ...).
    pub access: String,
    /// The organisation's storage, when the template reaches one (stsvend's `OrgBucket`);
    /// absent from servers and templates without organisations.
    pub org_bucket: Option<String>,
    /// The organisation's prefix in `org_bucket` (stsvend's `OrgPrefix`), when sent.
    pub org_prefix: Option<String>,
}

impl Storage {
    /// `s3://<bucket>/<prefix>`, the place to work in.
    pub fn place(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The key for `name` (a path inside the user's storage): `prefix + name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// One vend: the keys as aws-sdk-rust takes them and the storage they reach.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Vend {
    /// Access key, secret key, session token and expiry (`Debug` hides the secret parts).
    pub credentials: Credentials,
    /// `Expiration` as stsvend wrote it (RFC 3339, UTC).
    pub expiration: String,
    pub storage: Storage,
}

impl Vend {
    pub fn expires_at(&self) -> SystemTime {
        // Always set: `parse` puts the expiry in.
        self.credentials.expiry().unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// The body, version 1. Unknown fields are ignored so that a newer stsvend's additions do not
/// break an older client.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Body {
    version: u8,
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    bucket: String,
    /// Absent from an stsvend older than prefix mode: the bucket is then the user's own.
    #[serde(default)]
    prefix: String,
    region: String,
    #[serde(default)]
    access: String,
    endpoint: Option<String>,
    org_bucket: Option<String>,
    org_prefix: Option<String>,
}

pub(crate) fn parse(text: &str) -> Result<Vend, Error> {
    // serde's message names the field, never its value.
    let body: Body = serde_json::from_str(text).map_err(|e| Error::InvalidResponse(format!("credentials: {e}")))?;
    if body.version != 1 {
        return Err(Error::InvalidResponse(format!(
            "credentials: version {} (this client reads version 1)",
            body.version
        )));
    }
    let expiry = OffsetDateTime::parse(&body.expiration, &Rfc3339)
        .map_err(|e| Error::InvalidResponse(format!("credentials: Expiration {:?}: {e}", body.expiration)))?;
    Ok(Vend {
        credentials: Credentials::new(
            body.access_key_id,
            body.secret_access_key,
            Some(body.session_token),
            Some(SystemTime::from(expiry)),
            "stsvend",
        ),
        expiration: body.expiration,
        storage: Storage {
            bucket: body.bucket,
            prefix: body.prefix,
            region: body.region,
            endpoint: body.endpoint,
            access: body.access,
            org_bucket: body.org_bucket,
            org_prefix: body.org_prefix,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET_MODE: &str = r#"{"Version": 1, "AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "secret-part",
        "SessionToken": "token-part", "Expiration": "2026-11-30T07:04:30Z", "Bucket": "stsvend-abc",
        "Prefix": "", "Region": "eu-west-1", "Access": "read-write", "Endpoint": "http://127.0.0.1:4566"}"#;

    #[test]
    fn a_vend_gives_the_keys_with_their_expiry_and_the_storage() {
        let v = parse(BUCKET_MODE).unwrap();
        assert_eq!(v.credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(v.credentials.secret_access_key(), "secret-part");
        assert_eq!(v.credentials.session_token(), Some("token-part"));
        assert_eq!(
            v.expires_at(),
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_022_270)
        );
        assert_eq!(v.storage.place(), "s3://stsvend-abc/");
        assert_eq!(v.storage.key("a/b.txt"), "a/b.txt");
        assert_eq!(v.storage.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!((v.storage.org_bucket, v.storage.org_prefix), (None, None));
        let shown = format!("{:?}", v.credentials);
        assert!(
            !shown.contains("secret-part") && !shown.contains("token-part"),
            "{shown}"
        );
    }

    #[test]
    fn organisation_fields_and_unknown_additions_are_read_or_ignored() {
        let text = BUCKET_MODE.replace(
            r#""Prefix": """#,
            r#""Prefix": "users/u1/", "OrgBucket": "stsvend-shared", "OrgPrefix": "orgs/o1/", "Later": 3"#,
        );
        let v = parse(&text).unwrap();
        assert_eq!(v.storage.key("x"), "users/u1/x");
        assert_eq!(v.storage.org_bucket.as_deref(), Some("stsvend-shared"));
        assert_eq!(v.storage.org_prefix.as_deref(), Some("orgs/o1/"));
    }

    #[test]
    fn another_version_or_a_bad_expiration_is_an_invalid_response() {
        let v2 = BUCKET_MODE.replace(r#""Version": 1"#, r#""Version": 2"#);
        assert!(matches!(parse(&v2), Err(Error::InvalidResponse(m)) if m.contains("version 2")));
        let bad = BUCKET_MODE.replace("2026-11-30T07:04:30Z", "tomorrow");
        assert!(matches!(parse(&bad), Err(Error::InvalidResponse(m)) if m.contains("Expiration")));
        let missing = r#"{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "not-shown"}"#;
        let Err(Error::InvalidResponse(m)) = parse(missing) else {
            panic!("a body without keys must not parse")
        };
        assert!(!m.contains("not-shown"), "{m}");
    }
}
