//! The bucket policy stsvend writes: one Deny statement revoking a user's sessions, merged into
//! whatever else the policy holds (read, merge, write).

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::shared::SharedPolicy;
use super::{Buckets, failed};
use crate::aws::sts::Credentials;
use crate::aws::{Error, Service};
use crate::identity::{BucketName, UserId};
use crate::runtime::clock::format_time;

/// `Sid` of the one statement stsvend owns in a bucket policy; others are left as they are.
pub const REVOKE_SID: &str = "StsvendRevokeSessions";

/// The Deny statement: every session tagged with this user and issued before `before`.
/// The user id is inserted as a JSON value, never spliced into policy text.
pub fn revocation_statement(bucket: &BucketName, tag_key: &str, user_id: &UserId, before: OffsetDateTime) -> Value {
    deny_sessions(REVOKE_SID, bucket, tag_key, &json!(user_id.as_str()), before)
}

/// A Deny, named `sid`, of everything on `bucket` to sessions whose tag `tag_key` is `users`
/// (one id, or a list of them) and which were issued before `before`.
pub(super) fn deny_sessions(
    sid: &str,
    bucket: &BucketName,
    tag_key: &str,
    users: &Value,
    before: OffsetDateTime,
) -> Value {
    let arn = format!("arn:aws:s3:::{bucket}");
    json!({
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {
            "StringEquals": { format!("aws:PrincipalTag/{tag_key}"): users.clone() },
            "DateLessThan": { "aws:TokenIssueTime": format_time(before) },
        },
    })
}

/// `existing` with stsvend's revocation statement replaced by `statement` (or added).
pub fn merge_policy(existing: Option<&str>, statement: Value) -> Result<String, Error> {
    let (mut doc, mut statements) = split_policy(existing)?;
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(REVOKE_SID));
    statements.push(statement);
    doc["Statement"] = Value::Array(statements);
    Ok(doc.to_string())
}

/// A bucket's policy document without its statements, and the statements (a single one given
/// as an object included); a document with a `Version`, and none, when there is no policy. A
/// policy that is not a JSON policy document is an error: it is never overwritten.
pub(super) fn split_policy(existing: Option<&str>) -> Result<(Value, Vec<Value>), Error> {
    let mut doc = match existing.filter(|t| !t.trim().is_empty()) {
        None => json!({"Version": "2012-10-17"}),
        Some(text) => serde_json::from_str::<Value>(text).map_err(|e| Error::ExistingPolicy(e.to_string()))?,
    };
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| Error::ExistingPolicy("not a JSON object".to_owned()))?;
    let statements = match obj.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(list)) => list,
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(Error::ExistingPolicy(
                "Statement is neither a list nor an object".to_owned(),
            ));
        }
    };
    obj.entry("Version").or_insert_with(|| json!("2012-10-17"));
    Ok((doc, statements))
}

impl Buckets {
    /// Denies on `bucket` every session of `user_id` issued before `before`, keeping any
    /// other statement already in the bucket policy.
    #[tracing::instrument(skip(self, user_id), fields(bucket = %bucket))]
    pub async fn revoke_sessions(
        &self,
        bucket: &BucketName,
        tag_key: &str,
        user_id: &UserId,
        before: OffsetDateTime,
    ) -> Result<(), Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let existing = self.read_policy(bucket).await?;
        let policy = merge_policy(
            existing.as_deref(),
            revocation_statement(bucket, tag_key, user_id, before),
        )?;
        self.put_policy(bucket, policy).await?;
        Ok(())
    }
}

impl Buckets {
    /// Writes a shared bucket's rendered policy (see `shared`); one without statements
    /// removes the bucket's policy (S3 refuses an empty one).
    pub async fn set_policy(&self, bucket: &BucketName, policy: SharedPolicy) -> Result<(), Error> {
        let _slot = self.gate.call(Service::S3).await?;
        if policy.statements > 0 {
            return self.put_policy(bucket, policy.text).await;
        }
        self.s3
            .delete_bucket_policy()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// The bucket's policy; `None` when it has none.
    pub async fn current_policy(&self, bucket: &BucketName) -> Result<Option<String>, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        self.read_policy(bucket).await
    }

    async fn read_policy(&self, bucket: &BucketName) -> Result<Option<String>, Error> {
        match self
            .s3
            .get_bucket_policy()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(out.policy),
            Err(e) if e.code() == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    async fn put_policy(&self, bucket: &BucketName, policy: String) -> Result<(), Error> {
        self.s3
            .put_bucket_policy()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .policy(policy)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// How long `wait_for_aws_time` keeps asking AWS for its time before giving up.
const AWS_TIME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Buckets {
    /// AWS's clock, from the `Date` of an S3 answer about `bucket` (whole seconds: AWS's time
    /// is in `[returned, returned + 1 s)`). Revocation cut-offs are compared by AWS with
    /// `aws:TokenIssueTime`, which STS stamps by that clock, so they are taken from it.
    pub async fn aws_time(&self, bucket: &BucketName) -> Result<OffsetDateTime, Error> {
        let _slot = self.gate.call(Service::S3).await?;
        self.read_aws_time(bucket).await
    }

    async fn read_aws_time(&self, bucket: &BucketName) -> Result<OffsetDateTime, Error> {
        let date = DateReader::default();
        self.s3
            .head_bucket()
            .bucket(bucket.as_str())
            .expected_bucket_owner(self.owner.as_str())
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map_err(failed)?;
        date.get().ok_or_else(|| Error::Internal {
            service: Service::S3,
            detail: "HeadBucket: S3 answered without a usable Date header".to_owned(),
        })
    }

    /// Returns once AWS's clock has reached `t` (asking it a few times a second), or after a
    /// few seconds, so sessions issued from then on carry an issue time at or after a cut-off.
    pub async fn wait_for_aws_time(&self, bucket: &BucketName, t: OffsetDateTime) -> Result<(), Error> {
        let _slot = self.gate.call(Service::S3).await?;
        let started = std::time::Instant::now();
        while self.read_aws_time(bucket).await? < t {
            if started.elapsed() > AWS_TIME_WAIT {
                tracing::warn!(bucket = %bucket, "AWS's clock did not reach the revocation cut-off in time");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Waits, at most `bound`, until `probe` (a session issued before a revocation's cut-off)
    /// is refused on `bucket`: AWS applies a new bucket policy after a delay. True once it is;
    /// false after `bound`, or when no AWS call slot came free.
    pub async fn wait_until_refused(
        &self,
        bucket: &BucketName,
        prefix: &str,
        probe: &Credentials,
        bound: std::time::Duration,
    ) -> bool {
        let Ok(_slot) = self.gate.call(Service::S3).await else {
            return false;
        };
        let conf = self
            .probe
            .clone()
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                probe.access_key_id(),
                probe.secret_access_key(),
                Some(probe.session_token()),
                None,
                "stsvend-revocation-probe",
            ))
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        let started = std::time::Instant::now();
        loop {
            let listed = client
                .list_objects_v2()
                .bucket(bucket.as_str())
                .max_keys(1)
                // In a shared bucket the session may list only its own prefix.
                .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
                .send()
                .await;
            if let Err(e) = &listed
                && e.code() == Some("AccessDenied")
            {
                return true;
            }
            if started.elapsed() >= bound {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

/// Keeps the `Date` header of the response to the request it is attached to.
#[derive(Debug, Clone, Default)]
struct DateReader(std::sync::Arc<std::sync::Mutex<Option<OffsetDateTime>>>);

impl DateReader {
    fn get(&self) -> Option<OffsetDateTime> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Intercept for DateReader {
    fn name(&self) -> &'static str {
        "stsvend-aws-date"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let at = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .map(OffsetDateTime::from);
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = at;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt() -> Value {
        let id = UserId::derive("https://i/", "auth0|a");
        let bucket = BucketName::parse(&format!("p-{id}")).unwrap();
        revocation_statement(&bucket, "stsvend-user", &id, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn a_bucket_without_policy_gets_one_statement() {
        let doc: Value = serde_json::from_str(&merge_policy(None, stmt()).unwrap()).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 1);
        let s = &doc["Statement"][0];
        assert_eq!(s["Effect"], "Deny");
        assert_eq!(
            s["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "1970-01-01T00:00:00Z"
        );
        assert!(s["Condition"]["StringEquals"]["aws:PrincipalTag/stsvend-user"].is_string());
    }

    #[test]
    fn other_statements_are_kept_and_ours_is_replaced() {
        let existing = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Theirs", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "x"},
                {"Sid": REVOKE_SID, "Effect": "Deny", "old": true}
            ]
        })
        .to_string();
        let doc: Value = serde_json::from_str(&merge_policy(Some(&existing), stmt()).unwrap()).unwrap();
        let list = doc["Statement"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["Sid"], "Theirs");
        assert!(list[1].get("old").is_none());

        // A single statement given as an object is kept too.
        let single = json!({"Statement": {"Sid": "One", "Effect": "Allow"}}).to_string();
        let doc: Value = serde_json::from_str(&merge_policy(Some(&single), stmt()).unwrap()).unwrap();
        assert_eq!(doc["Statement"][0]["Sid"], "One");
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_policy_that_is_not_json_is_not_overwritten() {
        assert!(matches!(
            merge_policy(Some("not json"), stmt()),
            Err(Error::ExistingPolicy(_))
        ));
        assert!(matches!(
            merge_policy(Some(r#"{"Statement": 3}"#), stmt()),
            Err(Error::ExistingPolicy(_))
        ));
    }
}
