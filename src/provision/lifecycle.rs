//! After provisioning: revoking a user's sessions with a bucket-policy Deny, and emptying and
//! deleting a user's bucket.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::bucket::BucketSettings;
use crate::aws::{UpstreamError, observe};
use crate::identity::{BucketName, UserId};
use crate::store::format_time;

/// `Sid` of the one statement stsvend owns in a bucket policy; others are left as they are.
pub const REVOKE_SID: &str = "StsvendRevokeSessions";

/// Objects deleted per `DeleteObjects` call (S3's maximum).
const DELETE_BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("the bucket's existing policy is not a JSON policy document: {0}")]
    ExistingPolicy(String),
    #[error("request could not be built: {0}")]
    Request(String),
    #[error("{failed} objects could not be deleted (first: {first})")]
    NotEmptied { failed: usize, first: String },
}

/// The Deny statement: every session tagged with this user and issued before `before`.
/// The user id is inserted as a JSON value, never spliced into policy text.
pub fn revocation_statement(bucket: &BucketName, tag_key: &str, user_id: &UserId, before: OffsetDateTime) -> Value {
    let arn = format!("arn:aws:s3:::{bucket}");
    json!({
        "Sid": REVOKE_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {
            "StringEquals": { format!("aws:PrincipalTag/{tag_key}"): user_id.as_str() },
            "DateLessThan": { "aws:TokenIssueTime": format_time(before) },
        },
    })
}

/// The first whole second after `t`: a revocation cut-off, since STS issue times are whole
/// seconds.
pub fn next_second(t: OffsetDateTime) -> OffsetDateTime {
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    whole + time::Duration::seconds(1)
}

/// Returns once the clock has reached `t` (at once if it has), so that sessions issued from
/// then on carry an issue time at or after a cut-off.
pub async fn sleep_until(t: OffsetDateTime) {
    if let Ok(wait) = std::time::Duration::try_from(t - OffsetDateTime::now_utc()) {
        tokio::time::sleep(wait).await;
    }
}

/// `existing` with stsvend's revocation statement replaced by `statement` (or added).
pub fn merge_policy(existing: Option<&str>, statement: Value) -> Result<String, LifecycleError> {
    let mut doc = match existing.filter(|t| !t.trim().is_empty()) {
        None => json!({"Version": "2012-10-17", "Statement": []}),
        Some(text) => serde_json::from_str::<Value>(text).map_err(|e| LifecycleError::ExistingPolicy(e.to_string()))?,
    };
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| LifecycleError::ExistingPolicy("not a JSON object".to_owned()))?;
    let mut statements = match obj.remove("Statement") {
        None => Vec::new(),
        Some(Value::Array(list)) => list,
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => {
            return Err(LifecycleError::ExistingPolicy(
                "Statement is neither a list nor an object".to_owned(),
            ));
        }
    };
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(REVOKE_SID));
    statements.push(statement);
    obj.insert("Statement".to_owned(), Value::Array(statements));
    obj.entry("Version").or_insert_with(|| json!("2012-10-17"));
    Ok(doc.to_string())
}

impl BucketSettings {
    /// Denies on `bucket` every session of `user_id` issued before `before`, keeping any
    /// other statement already in the bucket policy.
    #[tracing::instrument(skip(self, user_id), fields(bucket = %bucket))]
    pub async fn revoke_sessions(
        &self,
        bucket: &BucketName,
        tag_key: &str,
        user_id: &UserId,
        before: OffsetDateTime,
    ) -> Result<(), LifecycleError> {
        let b = bucket.as_str();
        let existing = match self.s3.get_bucket_policy().bucket(b).send().await {
            Err(e) if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("NoSuchBucketPolicy") => {
                self.metrics
                    .aws_calls
                    .with_label_values(&["s3", "GetBucketPolicy"])
                    .inc();
                None
            }
            other => observe(&self.metrics, "s3", "GetBucketPolicy", other)?.policy,
        };
        let policy = merge_policy(
            existing.as_deref(),
            revocation_statement(bucket, tag_key, user_id, before),
        )?;
        observe(
            &self.metrics,
            "s3",
            "PutBucketPolicy",
            self.s3.put_bucket_policy().bucket(b).policy(policy).send().await,
        )?;
        Ok(())
    }

    /// True when the bucket holds no object (or no longer exists).
    pub async fn is_empty(&self, bucket: &BucketName) -> Result<bool, LifecycleError> {
        let out = match self
            .s3
            .list_objects_v2()
            .bucket(bucket.as_str())
            .max_keys(1)
            .send()
            .await
        {
            Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => return Ok(true),
            other => observe(&self.metrics, "s3", "ListObjectsV2", other)?,
        };
        Ok(out.contents().is_empty())
    }

    /// Deletes every object and unfinished upload, then the bucket; returns the objects
    /// deleted. A bucket that is already gone counts as deleted.
    #[tracing::instrument(skip(self), fields(bucket = %bucket))]
    pub async fn empty_and_delete(&self, bucket: &BucketName) -> Result<u64, LifecycleError> {
        let b = bucket.as_str();
        let mut deleted = 0u64;
        loop {
            let listed = match self.s3.list_objects_v2().bucket(b).max_keys(1000).send().await {
                Err(e) if e.as_service_error().is_some_and(ListObjectsV2Error::is_no_such_bucket) => {
                    return Ok(deleted);
                }
                other => observe(&self.metrics, "s3", "ListObjectsV2", other)?,
            };
            let keys: Vec<ObjectIdentifier> = listed
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if keys.is_empty() {
                break;
            }
            for batch in keys.chunks(DELETE_BATCH) {
                let delete = Delete::builder()
                    .set_objects(Some(batch.to_vec()))
                    .quiet(true)
                    .build()
                    .map_err(|e| LifecycleError::Request(e.to_string()))?;
                let out = observe(
                    &self.metrics,
                    "s3",
                    "DeleteObjects",
                    self.s3.delete_objects().bucket(b).delete(delete).send().await,
                )?;
                if let Some(first) = out.errors().first() {
                    return Err(LifecycleError::NotEmptied {
                        failed: out.errors().len(),
                        first: first.code().unwrap_or("unknown").to_owned(),
                    });
                }
                deleted += batch.len() as u64;
            }
        }
        let uploads = observe(
            &self.metrics,
            "s3",
            "ListMultipartUploads",
            self.s3.list_multipart_uploads().bucket(b).send().await,
        )?;
        for u in uploads.uploads() {
            if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
                observe(
                    &self.metrics,
                    "s3",
                    "AbortMultipartUpload",
                    self.s3
                        .abort_multipart_upload()
                        .bucket(b)
                        .key(key)
                        .upload_id(id)
                        .send()
                        .await,
                )?;
            }
        }
        observe(
            &self.metrics,
            "s3",
            "DeleteBucket",
            self.s3.delete_bucket().bucket(b).send().await,
        )?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt() -> Value {
        let id = UserId::derive("https://i/", "auth0|a");
        let bucket = id.bucket_candidate("p", 0).unwrap();
        revocation_statement(&bucket, "stsvend-user", &id, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn revocation_time_is_the_next_whole_second() {
        let t = time::macros::datetime!(2026-11-30 09:00:00.250 UTC);
        assert_eq!(next_second(t), time::macros::datetime!(2026-11-30 09:00:01 UTC));
        let exact = time::macros::datetime!(2026-11-30 09:00:00 UTC);
        assert_eq!(next_second(exact), time::macros::datetime!(2026-11-30 09:00:01 UTC));
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
            Err(LifecycleError::ExistingPolicy(_))
        ));
        assert!(matches!(
            merge_policy(Some(r#"{"Statement": 3}"#), stmt()),
            Err(LifecycleError::ExistingPolicy(_))
        ));
    }
}
