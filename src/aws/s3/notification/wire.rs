//! The JSON S3 sends to a queue for bucket events (AWS's "Event message structure"), only the
//! fields the ledger reads. Unknown fields are ignored: S3 adds some with each event version
//! (2.1 to 2.6 so far), all compatible with 2.1.

use serde::Deserialize;

/// A message: `Records` for object events, or the `s3:TestEvent` S3 sends once when
/// notifications are configured (`Event`, no `Records`). Records stay raw JSON here so a record
/// that does not parse costs only itself.
#[derive(Debug, Deserialize)]
pub struct Message {
    #[serde(rename = "Records")]
    pub records: Option<Vec<serde_json::Value>>,
    #[serde(rename = "Event")]
    pub event: Option<String>,
}

/// One record of `Records`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ... (no `s3:` in front, unlike the names a
    /// notification configuration uses).
    pub event_name: String,
    /// ISO 8601 with milliseconds: `1970-01-01T00:00:00.000Z`.
    pub event_time: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub bucket: Bucket,
    pub object: Object,
}

#[derive(Debug, Deserialize)]
pub struct Bucket {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Object {
    /// URL-encoded, with `+` for a space.
    pub key: String,
    /// Bytes; absent on removals.
    pub size: Option<u64>,
    /// Hex; orders the events of this key. AWS documents it for PUTs and DELETEs.
    pub sequencer: Option<String>,
}
