//! Pre-signed URLs and browser form uploads, for clients without an S3 SDK. Both are signed
//! with the caller's own session: the one a vend would hand out, through the same checks
//! ([`Vend::session`]: rate, required claims, grant, first login, disabled) and from the same
//! cache, so no extra `AssumeRole` is made and a URL can do no more than the session policy
//! allows, for no longer than the keys live.
//!
//! The caller names a key relative to their own storage; stsvend maps it there
//! ([`object_key`], the one place) and builds the URL itself (`location`), so no key can
//! address another user's storage. Every URL or form handed out is audited (key, method,
//! signing access key) before it leaves, never with its signature.

mod failure;
mod key;
mod location;
mod post_policy;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

pub use key::{KeyError, KeyPrefix, MAX_KEY_BYTES, ObjectKey};
pub use location::S3Location;
pub use post_policy::{ContentType, ContentTypeError};

use crate::auth::Caller;
use crate::config::PresignConfig;
use crate::store::{PresignRecord, Store, StoreError, UserRecord};
use crate::usecase::error::Failure;
use crate::usecase::vend::Vend;
use post_policy::{KeyRule, PostPolicy};

/// The request a URL is signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Put,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
        }
    }

    /// The IAM action S3 checks for this request on an object.
    fn action(self) -> &'static str {
        match self {
            Self::Get | Self::Head => "s3:GetObject",
            Self::Put => "s3:PutObject",
            Self::Delete => "s3:DeleteObject",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// The session of this access level cannot do what was asked.
    #[error("access `{access}` does not allow {what}")]
    NotGranted { access: String, what: &'static str },
    #[error("expires_in must be 1..={max} seconds")]
    ExpiresIn { max: u64 },
    #[error("max_bytes must be 1..={max} (presign.max_upload_bytes)")]
    MaxBytes { max: u64 },
    #[error("content_length must be 0..={max} bytes (presign.max_upload_bytes)")]
    ContentLength { max: u64 },
    /// Only an upload has a size to bind.
    #[error("content_length applies to PUT only, not {method}")]
    LengthNotForMethod { method: &'static str },
    #[error("content_length is required for PUT (presign.require_put_length)")]
    LengthRequired,
    /// Valid alone, too long once under the user's prefix.
    #[error(transparent)]
    Key(KeyError),
    /// The signer refused (`aws::Error::Internal`).
    #[error(transparent)]
    Sign(crate::aws::Error),
    /// The URL is withheld when its audit row could not be written.
    #[error("audit write failed: {0}")]
    Audit(StoreError),
}

/// A URL to sign: one `method` request on `key` in the caller's storage.
pub struct UrlRequest<'a> {
    pub method: Method,
    pub key: &'a ObjectKey,
    pub expires_in: Option<u64>,
    pub access: Option<&'a str>,
    /// PUT only: the upload's exact size in bytes, signed as `Content-Length`.
    pub content_length: Option<u64>,
}

/// A URL handed out.
pub struct SignedUrl {
    pub url: String,
    pub method: Method,
    pub expires_at: OffsetDateTime,
    /// Headers the client must send exactly as given (signed with the URL).
    pub headers: BTreeMap<String, String>,
}

/// A browser form handed out: POST `fields` and then the `file` to `url`.
pub struct SignedForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub expires_at: OffsetDateTime,
}

/// What a form may upload.
pub enum FormKey {
    Exact(ObjectKey),
    Prefix(KeyPrefix),
}

impl FormKey {
    /// The form's key (`key`) or key prefix (`key_prefix`): exactly one of them.
    pub fn parse(key: Option<&str>, key_prefix: Option<&str>) -> Result<Self, KeyError> {
        match (key, key_prefix) {
            (Some(k), None) => ObjectKey::parse(k).map(Self::Exact),
            (None, Some(p)) => KeyPrefix::parse(p).map(Self::Prefix),
            _ => Err(KeyError::KeyOrPrefix),
        }
    }
}

pub struct FormRequest<'a> {
    pub key: FormKey,
    pub max_bytes: Option<u64>,
    pub content_type: Option<ContentType>,
    pub expires_in: Option<u64>,
    pub access: Option<&'a str>,
}

/// Who asked, for the audit.
pub struct Requester<'a> {
    pub caller: &'a Caller,
    pub client_addr: Option<IpAddr>,
}

pub struct Presigner {
    vend: Arc<Vend>,
    store: Store,
    location: S3Location,
    limits: PresignConfig,
}

/// The object's key in the bucket for `relative`, a key (or key prefix) in the user's own
/// storage. The one place a caller's key becomes an S3 key: in bucket mode the key itself, in
/// prefix mode the user's prefix (`users/<id>/`, ending in `/`) and then the key, so no key
/// reaches above it (dot segments are refused by `ObjectKey`).
pub fn object_key(user: &UserRecord, relative: &str) -> Result<String, KeyError> {
    let key = format!("{}{relative}", user.key_prefix());
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLongUnderPrefix {
            total: key.len(),
            prefix: user.key_prefix().to_owned(),
        });
    }
    Ok(key)
}

impl Presigner {
    pub fn new(vend: Arc<Vend>, store: Store, location: S3Location, limits: PresignConfig) -> Self {
        Self {
            vend,
            store,
            location,
            limits,
        }
    }

    /// A URL for one `method` request on `key` in the caller's storage. A PUT with a
    /// `content_length` signs `Content-Length`, so S3 refuses a body of any other size.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %who.caller.user_id, method = req.method.as_str()))]
    pub async fn url(&self, who: &Requester<'_>, req: UrlRequest<'_>) -> Result<SignedUrl, Failure> {
        let UrlRequest {
            method,
            key,
            expires_in,
            access,
            content_length,
        } = req;
        let wanted = self.expires_in(expires_in)?;
        let length = self.content_length(method, content_length)?;
        let session = self.vend.session(who.caller, access).await?;
        if !session.template.allows_action(method.action()) {
            return Err(PresignError::NotGranted {
                access: session.template.name().to_owned(),
                what: match method {
                    Method::Get | Method::Head => "reading objects",
                    Method::Put => "uploading objects",
                    Method::Delete => "deleting objects",
                },
            }
            .into());
        }
        if method == Method::Put {
            self.vend.upload_room(&session.user, session.template).await?;
        }
        let creds = &session.found.issued.credentials;
        let (now, expires_at) = bounded(wanted, creds.expiration);
        let s3_key = object_key(&session.user, key.as_str()).map_err(PresignError::Key)?;
        let url = self
            .location
            .object_url(&session.user.bucket, &session.user.region, &s3_key);
        let headers: BTreeMap<String, String> = length
            .map(|n| ("content-length".to_owned(), n.to_string()))
            .into_iter()
            .collect();
        let signed_headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let signed = crate::aws::s3::presign(
            method.as_str(),
            &url,
            &signed_headers,
            creds,
            &session.user.region,
            now.into(),
            seconds_between(now, expires_at),
        )
        .map_err(PresignError::Sign)?;
        self.audit(who, &session, method.as_str(), s3_key, false, expires_at)
            .await?;
        Ok(SignedUrl {
            url: signed,
            method,
            expires_at,
            headers,
        })
    }

    /// A form that uploads one file into the caller's storage.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %who.caller.user_id))]
    pub async fn form(&self, who: &Requester<'_>, req: FormRequest<'_>) -> Result<SignedForm, Failure> {
        let wanted = self.expires_in(req.expires_in)?;
        let max = self.limits.max_upload_bytes;
        let max_bytes = req.max_bytes.unwrap_or(max);
        if !(1..=max).contains(&max_bytes) {
            return Err(PresignError::MaxBytes { max }.into());
        }
        let session = self.vend.session(who.caller, req.access).await?;
        if !session.template.allows_action("s3:PutObject") {
            return Err(PresignError::NotGranted {
                access: session.template.name().to_owned(),
                what: "uploading objects",
            }
            .into());
        }
        // Never more than the room left under the owner's bytes limit.
        let max_bytes = match self.vend.upload_room(&session.user, session.template).await? {
            Some(room) => max_bytes.min(room),
            None => max_bytes,
        };
        let creds = &session.found.issued.credentials;
        let (now, expires_at) = bounded(wanted, creds.expiration);
        let (rule, is_prefix) = match &req.key {
            FormKey::Exact(k) => (
                KeyRule::Exact(object_key(&session.user, k.as_str()).map_err(PresignError::Key)?),
                false,
            ),
            FormKey::Prefix(p) => (
                KeyRule::Prefix(object_key(&session.user, p.as_str()).map_err(PresignError::Key)?),
                true,
            ),
        };
        let policy = PostPolicy {
            bucket: session.user.bucket.as_str(),
            key: &rule,
            max_bytes,
            content_type: req.content_type.as_ref(),
            expires_at,
        };
        let fields = policy.fields(creds, &session.user.region, now);
        let (KeyRule::Exact(audited) | KeyRule::Prefix(audited)) = rule;
        self.audit(who, &session, "POST", audited, is_prefix, expires_at)
            .await?;
        // The trailing `/`: S3 takes form uploads at the bucket's root.
        let url = format!(
            "{}/",
            self.location.bucket_url(&session.user.bucket, &session.user.region)
        );
        Ok(SignedForm {
            url,
            fields,
            expires_at,
        })
    }

    /// The size a URL binds: PUT only, at most `presign.max_upload_bytes`, and required for PUT
    /// when `presign.require_put_length` is on.
    fn content_length(&self, method: Method, asked: Option<u64>) -> Result<Option<u64>, PresignError> {
        match (method, asked) {
            (Method::Put, Some(n)) if n <= self.limits.max_upload_bytes => Ok(Some(n)),
            (Method::Put, Some(_)) => Err(PresignError::ContentLength {
                max: self.limits.max_upload_bytes,
            }),
            (Method::Put, None) if self.limits.require_put_length => Err(PresignError::LengthRequired),
            (Method::Get | Method::Head | Method::Delete, Some(_)) => Err(PresignError::LengthNotForMethod {
                method: method.as_str(),
            }),
            (_, None) => Ok(None),
        }
    }

    fn expires_in(&self, asked: Option<u64>) -> Result<u64, PresignError> {
        let max = self.limits.max_expires_seconds;
        let wanted = asked.unwrap_or(self.limits.default_expires_seconds);
        if (1..=max).contains(&wanted) {
            Ok(wanted)
        } else {
            Err(PresignError::ExpiresIn { max })
        }
    }

    /// Records what goes out; nothing goes out unless the row is committed.
    async fn audit(
        &self,
        who: &Requester<'_>,
        session: &crate::usecase::vend::Session<'_>,
        method: &'static str,
        object_key: String,
        key_is_prefix: bool,
        expires_at: OffsetDateTime,
    ) -> Result<(), Failure> {
        self.store
            .record_presign(PresignRecord {
                user_id: session.user.user_id.clone(),
                access_key_id: session.found.issued.credentials.access_key_id().to_owned(),
                template: session.template.name().to_owned(),
                method,
                object_key,
                key_is_prefix,
                expires_at,
                client_addr: who.client_addr.map(|a| a.to_string()),
                client_id: who.caller.client_id.clone(),
            })
            .await
            .map_err(PresignError::Audit)?;
        // Nothing leaves for a user revoked meanwhile (see `Vend::still_current`).
        self.vend
            .still_current(&session.user, &session.found.issued.credentials)
            .await
    }
}

/// Now, and the expiry of something valid for `wanted` seconds from now but never past the
/// keys' own expiry (S3 stops honouring a signature then anyway).
fn bounded(wanted: u64, keys_expire: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = crate::runtime::clock::now();
    let wanted = now + time::Duration::seconds(i64::try_from(wanted).unwrap_or(i64::MAX / 2));
    (now, wanted.min(keys_expire))
}

/// Whole seconds from `from` to `to`, at least one.
fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> Duration {
    let secs = (to - from).whole_seconds().max(1);
    Duration::from_secs(u64::try_from(secs).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_cut_to_the_keys_lifetime() {
        let keys_expire = crate::runtime::clock::now() + time::Duration::seconds(100);
        let (now, at) = bounded(3600, keys_expire);
        assert_eq!(at, keys_expire);
        assert!(seconds_between(now, at) <= Duration::from_secs(100));
        let (now, at) = bounded(10, keys_expire);
        assert_eq!(seconds_between(now, at), Duration::from_secs(10));
    }

    #[test]
    fn each_method_needs_the_action_s3_checks() {
        assert_eq!(Method::Head.action(), "s3:GetObject");
        assert_eq!(Method::Put.action(), "s3:PutObject");
        assert_eq!(Method::Delete.action(), "s3:DeleteObject");
    }
}
