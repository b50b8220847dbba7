//! stsvend's `POST /v1/credentials`, and its error envelope mapped to a message.

use std::time::Duration;

use reqwest::blocking::Client;
use serde::{Deserialize, Serialize};

use crate::error::CliError;
use crate::secret::Secret;
use crate::secure_url::SecureUrl;

/// The vend response. The first five fields, in this order, are the AWS `credential_process`
/// Version 1 format; the rest are stsvend's additions, which AWS tools ignore. The
/// organisation's storage is read (for `configure`) but never printed: `credential-process`
/// prints the same fields for a team template as for any other.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub version: u8,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Every key of the user's starts with it: "" when the bucket is theirs alone, `users/<id>/`
    /// in a shared bucket (stsvend's prefix mode), where listing needs it as `--prefix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The organisation's storage, sent for a team template (`OrgBucket`, `OrgPrefix`).
    #[serde(default, skip_serializing)]
    pub org_bucket: Option<String>,
    #[serde(default, skip_serializing)]
    pub org_prefix: Option<String>,
}

impl Credentials {
    /// Where the user's files go, `s3://<bucket>/<prefix>`, when stsvend named the bucket.
    pub fn place(&self) -> Option<String> {
        let bucket = self.bucket.as_deref()?;
        Some(format!("s3://{bucket}/{}", self.prefix.as_deref().unwrap_or_default()))
    }

    /// Where the organisation's files go, `s3://<OrgBucket>/<OrgPrefix>`, when the template
    /// reaches them.
    pub fn team_place(&self) -> Option<String> {
        let bucket = self.org_bucket.as_deref()?;
        Some(format!(
            "s3://{bucket}/{}",
            self.org_prefix.as_deref().unwrap_or_default()
        ))
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

/// Why a vend failed, before the caller decides whether a new token could help.
pub enum VendError {
    Unauthorized { code: String, message: String },
    Other(CliError),
}

impl From<VendError> for CliError {
    fn from(e: VendError) -> Self {
        match e {
            VendError::Unauthorized { code, message } => CliError::ApiUnauthorized { code, message },
            VendError::Other(e) => e,
        }
    }
}

/// Longest `Retry-After` honoured before giving up on a busy stsvend (429 or 503).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

pub fn vend(http: &Client, api: &SecureUrl, token: &Secret, access: Option<&str>) -> Result<Credentials, VendError> {
    let url = format!("{}/v1/credentials", api.as_str().trim_end_matches('/'));
    let mut retried = false;
    loop {
        let mut req = http.post(&url).bearer_auth(token.expose());
        if let Some(access) = access {
            req = req.json(&serde_json::json!({ "access": access }));
        }
        let unreachable = |e| VendError::Other(CliError::http(format!("stsvend at {url}"))(e));
        let resp = req.send().map_err(unreachable)?;
        let resp = CliError::unless_redirect(format!("stsvend at {url}"), resp).map_err(VendError::Other)?;
        let status = resp.status().as_u16();
        let wait = retry_after(resp.headers());
        let body = resp.text().map_err(unreachable)?;
        if status == 200 {
            return parse_credentials(&body).map_err(VendError::Other);
        }
        if let (false, 429 | 503, Some(wait)) = (retried, status, wait) {
            // Rate limit or a passing AWS outage: one more try, if the wait is short.
            retried = true;
            std::thread::sleep(wait);
            continue;
        }
        let (code, message) = match serde_json::from_str::<Envelope>(&body) {
            Ok(Envelope { error }) => (error.code, error.message),
            Err(_) => ("unknown".to_owned(), format!("no error details (is {url} stsvend?)")),
        };
        return Err(if status == 401 {
            VendError::Unauthorized { code, message }
        } else {
            VendError::Other(CliError::Api { status, code, message })
        });
    }
}

/// `Retry-After` in seconds, when it is short enough to wait for.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs)).filter(|d| *d <= MAX_RETRY_WAIT)
}

fn parse_credentials(body: &str) -> Result<Credentials, CliError> {
    let creds: Credentials = serde_json::from_str(body).map_err(|e| CliError::BadResponse {
        what: "stsvend".into(),
        // The message names a field or position, not its value.
        reason: e.to_string(),
    })?;
    if creds.version != 1 {
        return Err(CliError::BadResponse {
            what: "stsvend".into(),
            reason: format!("credential format Version {} (expected 1)", creds.version),
        });
    }
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"sk","SessionToken":"st",
        "Expiration":"2026-11-30T05:00:00Z","Bucket":"b","Prefix":"users/u1/","Region":"us-east-1",
        "Access":"read-write","Endpoint":"http://127.0.0.1:4566"}"#;

    #[test]
    fn credentials_print_with_the_aws_fields_first() {
        let creds = parse_credentials(BODY).unwrap();
        let out = serde_json::to_string(&creds).unwrap();
        assert!(
            out.starts_with(
                r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"sk","SessionToken":"st","Expiration":"2026-11-30T05:00:00Z","#
            ),
            "{out}"
        );
        assert!(
            out.ends_with(
                r#""Bucket":"b","Prefix":"users/u1/","Region":"us-east-1","Access":"read-write","Endpoint":"http://127.0.0.1:4566"}"#
            ),
            "{out}"
        );
    }

    #[test]
    fn the_place_is_the_bucket_and_the_prefix() {
        let prefixed = parse_credentials(BODY).unwrap();
        assert_eq!(prefixed.place().as_deref(), Some("s3://b/users/u1/"));
        let own = parse_credentials(&BODY.replace("users/u1/", "")).unwrap();
        assert_eq!(own.place().as_deref(), Some("s3://b/"));
        // An stsvend from before prefix mode sends no Prefix: the bucket is the user's own.
        let old = parse_credentials(&BODY.replace(r#""Prefix":"users/u1/","#, "")).unwrap();
        assert_eq!(old.place().as_deref(), Some("s3://b/"));
        assert!(!serde_json::to_string(&old).unwrap().contains("Prefix"));
        let none = parse_credentials(&BODY.replace(r#""Bucket":"b","#, "")).unwrap();
        assert_eq!(none.place(), None);
    }

    #[test]
    fn an_empty_prefix_is_passed_on_as_stsvend_sent_it() {
        let own = parse_credentials(&BODY.replace("users/u1/", "")).unwrap();
        assert!(
            serde_json::to_string(&own)
                .unwrap()
                .contains(r#""Bucket":"b","Prefix":"","#)
        );
    }

    /// A team template's answer: the organisation's place is read, and what `credential-process`
    /// prints keeps exactly the fields it prints for a personal template, the AWS ones first.
    #[test]
    fn a_team_vend_names_the_team_place_and_prints_no_organisation_field() {
        let team_body = BODY.replace(
            r#""Access":"read-write","#,
            r#""Access":"team-read-write","OrgBucket":"ob","OrgPrefix":"orgs/o1/","#,
        );
        let team = parse_credentials(&team_body).unwrap();
        assert_eq!(team.team_place().as_deref(), Some("s3://ob/orgs/o1/"));
        assert_eq!(team.place().as_deref(), Some("s3://b/users/u1/"));
        let personal = parse_credentials(BODY).unwrap();
        assert_eq!(personal.team_place(), None);

        // Serialized in field order: the team's output is the personal one with its Access.
        let printed = serde_json::to_string(&team).unwrap();
        assert_eq!(
            printed,
            serde_json::to_string(&personal)
                .unwrap()
                .replace(r#""Access":"read-write""#, r#""Access":"team-read-write""#)
        );
        assert!(
            printed.starts_with(
                r#"{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"sk","SessionToken":"st","Expiration":"#
            ),
            "{printed}"
        );
        assert!(!printed.contains("Org"), "{printed}");
    }

    #[test]
    fn debug_output_hides_the_keys() {
        let text = format!("{:?}", parse_credentials(BODY).unwrap());
        assert!(!text.contains("\"sk\"") && !text.contains("\"st\""), "{text}");
    }

    #[test]
    fn only_a_short_retry_after_is_waited_for() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(5)));
        h.insert(reqwest::header::RETRY_AFTER, "60".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn another_version_is_refused() {
        let body = BODY.replace("\"Version\":1", "\"Version\":2");
        assert!(parse_credentials(&body).unwrap_err().to_string().contains("Version 2"));
    }
}
