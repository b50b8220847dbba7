//! What the presign audit records (`POST /v1/presign`, `POST /v1/presign/post`); each backend
//! writes it in its own `presign.rs`.

use time::OffsetDateTime;

use crate::identity::UserId;

/// One pre-signed URL or form handed out: what it is for and which keys signed it. Never
/// the URL's query or signature.
pub struct PresignRecord {
    pub user_id: UserId,
    pub access_key_id: String,
    pub template: String,
    /// `GET`, `PUT`, `DELETE`, `HEAD`, or `POST` (a form upload).
    pub method: &'static str,
    /// The full key in the bucket (or the key prefix of a form).
    pub object_key: String,
    pub key_is_prefix: bool,
    pub expires_at: OffsetDateTime,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
}

/// A presign audit row, as read back.
#[derive(Debug, Clone)]
pub struct PresignRow {
    pub access_key_id: String,
    pub template: String,
    pub method: String,
    pub object_key: String,
    pub key_is_prefix: bool,
    pub expires_at: String,
    pub signed_at: String,
    pub client_addr: Option<String>,
    pub client_id: Option<String>,
}
