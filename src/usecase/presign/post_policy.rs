//! The POST policy of a browser form upload: a JSON document built with serde (no user text is
//! ever spliced into JSON), base64-encoded and signed with the user's session keys. Its
//! conditions are the caller's request bounded by the server: the bucket is the user's own,
//! the key exact or under a prefix (already mapped into the user's storage), the size within
//! `presign.max_upload_bytes`, the Content-Type exact when asked for, and every signing field
//! pinned; S3 refuses a form that adds any other field.

use std::collections::BTreeMap;

use data_encoding::BASE64;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::aws::s3::{PostSignature, sign_policy};
use crate::aws::sts::Credentials;
use crate::runtime::clock::format_time;

/// A `Content-Type` a form must send: a media type of printable ASCII, at most 255 bytes, so
/// it is a valid header value and policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("content_type must be a media type such as `image/png`: 1-255 printable ASCII characters with a `/`")]
pub struct ContentTypeError;

impl ContentType {
    pub fn parse(s: &str) -> Result<Self, ContentTypeError> {
        let printable = s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if s.is_empty() || s.len() > 255 || !printable || !s.contains('/') {
            return Err(ContentTypeError);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a form may put its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRule {
    /// Exactly this key (full S3 key).
    Exact(String),
    /// Any key starting with this (full S3 key prefix); the form's key is the prefix followed
    /// by the browser's file name (`${filename}`).
    Prefix(String),
}

/// What one form may upload.
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    pub key: &'a KeyRule,
    pub max_bytes: u64,
    pub content_type: Option<&'a ContentType>,
    pub expires_at: OffsetDateTime,
}

/// S3 answers a form upload with 204 and no body by default, which leaves a browser on the
/// form's page as if nothing happened; 201 comes with an XML document naming the object.
const SUCCESS_STATUS: &str = "201";

/// The form's fields, in the order a form should send them (`file` goes last).
pub type Fields = BTreeMap<String, String>;

impl PostPolicy<'_> {
    /// The fields of a form that uploads one file under this policy, signed with `creds`.
    pub fn fields(&self, creds: &Credentials, region: &str, now: OffsetDateTime) -> Fields {
        let sig = PostSignature::new(creds, region, now);
        let mut fields = Fields::new();
        let (key_condition, key_field) = match self.key {
            KeyRule::Exact(k) => (json!({ "key": k }), k.clone()),
            KeyRule::Prefix(p) => (json!(["starts-with", "$key", p]), format!("{p}${{filename}}")),
        };
        let mut conditions = vec![
            json!({ "bucket": self.bucket }),
            key_condition,
            json!(["content-length-range", 0, self.max_bytes]),
            json!({ "success_action_status": SUCCESS_STATUS }),
            json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
            json!({ "x-amz-credential": sig.credential }),
            json!({ "x-amz-date": sig.amz_date }),
            json!({ "x-amz-security-token": sig.security_token }),
        ];
        if let Some(ct) = self.content_type {
            conditions.push(json!({ "Content-Type": ct.as_str() }));
            fields.insert("Content-Type".to_owned(), ct.as_str().to_owned());
        }
        let doc = json!({
            "expiration": format_time(self.expires_at),
            "conditions": Value::Array(conditions),
        });
        let policy = BASE64.encode(doc.to_string().as_bytes());
        let signature = sign_policy(&policy, creds, region, now.into());
        fields.insert("key".to_owned(), key_field);
        fields.insert("success_action_status".to_owned(), SUCCESS_STATUS.to_owned());
        fields.insert("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned());
        fields.insert("x-amz-credential".to_owned(), sig.credential);
        fields.insert("x-amz-date".to_owned(), sig.amz_date);
        fields.insert("x-amz-security-token".to_owned(), sig.security_token);
        fields.insert("policy".to_owned(), policy);
        fields.insert("x-amz-signature".to_owned(), signature);
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("ASIAEXAMPLEEXAMPLE12", "secret", "token", OffsetDateTime::UNIX_EPOCH).unwrap()
    }

    fn policy_of(fields: &Fields) -> Value {
        serde_json::from_slice(&BASE64.decode(fields["policy"].as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn the_policy_pins_the_bucket_key_size_and_signing_fields() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_547_200).unwrap();
        let key = KeyRule::Exact("a/b.txt".to_owned());
        let p = PostPolicy {
            bucket: "stsvend-abc",
            key: &key,
            max_bytes: 1000,
            content_type: Some(&ContentType::parse("text/plain").unwrap()),
            expires_at: now + time::Duration::seconds(60),
        };
        let fields = p.fields(&creds(), "us-east-1", now);
        let doc = policy_of(&fields);
        assert_eq!(doc["expiration"], "2025-12-01T00:01:00Z");
        let conditions = doc["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!({"bucket": "stsvend-abc"})));
        assert!(conditions.contains(&json!({"key": "a/b.txt"})));
        assert!(conditions.contains(&json!(["content-length-range", 0, 1000])));
        assert!(conditions.contains(&json!({"Content-Type": "text/plain"})));
        assert!(conditions.contains(&json!({"x-amz-security-token": "token"})));
        assert_eq!(fields["key"], "a/b.txt");
        assert_eq!(fields["Content-Type"], "text/plain");
        assert_eq!(fields["x-amz-signature"].len(), 64);
        // Every field the form sends but the signature and the policy is a condition.
        for name in fields.keys().filter(|n| *n != "policy" && *n != "x-amz-signature") {
            assert!(conditions.iter().any(|c| c.get(name).is_some()), "{name} is not pinned");
        }
    }

    #[test]
    fn a_prefix_lets_the_file_name_follow_it_and_nothing_is_spliced_into_json() {
        let now = OffsetDateTime::from_unix_timestamp(1_764_547_200).unwrap();
        let key = KeyRule::Prefix(r#"up/"},{"bucket":"other"#.to_owned());
        let p = PostPolicy {
            bucket: "stsvend-abc",
            key: &key,
            max_bytes: 5,
            content_type: None,
            expires_at: now,
        };
        let fields = p.fields(&creds(), "us-east-1", now);
        let doc = policy_of(&fields);
        let conditions = doc["conditions"].as_array().unwrap();
        assert!(conditions.contains(&json!(["starts-with", "$key", r#"up/"},{"bucket":"other"#])));
        assert_eq!(conditions.iter().filter(|c| c.get("bucket").is_some()).count(), 1);
        assert_eq!(fields["key"], r#"up/"},{"bucket":"other${filename}"#);
        assert!(!fields.contains_key("Content-Type"));
    }

    #[test]
    fn a_content_type_must_be_a_printable_media_type() {
        assert!(ContentType::parse("image/png").is_ok());
        assert!(ContentType::parse("text/plain; charset=utf-8").is_ok());
        for bad in [
            "",
            "png",
            "text/plain\r\nX-Evil: 1",
            "tëxt/plain",
            &format!("a/{}", "b".repeat(254)),
        ] {
            assert_eq!(ContentType::parse(bad), Err(ContentTypeError), "{bad:?}");
        }
    }
}
