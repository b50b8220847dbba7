//! S3 event notifications, as the queue delivers them, parsed into the ledger's
//! [`ObjectEvent`]s (issue 25, quotas). No SDK type is involved, but the JSON is AWS's wire
//! format, so it is read here, at the AWS boundary, beside the calls that will configure the
//! notifications and consume the queue; what leaves this module is `identity`'s plain values,
//! which the store's ledger takes without knowing S3's format. The serde types are in `wire`.
//!
//! Rules, from AWS's "Event message structure":
//! - `ObjectCreated:*` (`Put`, `Post`, `Copy`, `CompleteMultipartUpload`) sets the key's size; a
//!   multipart upload sends one event, at completion, so it counts once.
//! - `ObjectRemoved:Delete` removes the key. So does `ObjectRemoved:DeleteMarkerCreated`:
//!   stsvend's buckets are unversioned (S3 then sends only `Delete`), and when an operator
//!   turns versioning on, a delete marker hides the key from listings, which is what the ledger
//!   and its reconciliation count; the noncurrent versions S3 keeps are not counted (expire
//!   them with a lifecycle rule). `LifecycleExpiration:*` removes the key the same way.
//! - Other kinds (tagging, ACL, restore, replication...) change no size: counted, not applied.
//! - The key is URL-encoded with `+` for a space (form encoding): decoded exactly, and a key
//!   that does not decode to UTF-8 makes its record unparsable.
//! - A record that does not parse (missing field, bad time, a sequencer longer than
//!   [`SEQUENCER_WIDTH`](crate::identity::SEQUENCER_WIDTH)) is counted and skipped, never a
//!   panic; the rest of its message still counts.

mod wire;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::identity::{Notification, ObjectChange, ObjectEvent, Sequencer};

/// Parses one queue message's body.
pub fn parse(body: &str) -> Notification {
    let mut out = Notification::default();
    let Ok(message) = serde_json::from_str::<wire::Message>(body) else {
        out.unparsable = 1;
        return out;
    };
    match (message.records, message.event.as_deref()) {
        (Some(records), _) => {
            for raw in records {
                match serde_json::from_value::<wire::Record>(raw).ok().map(record) {
                    Some(Parsed::Event(e)) => out.events.push(e),
                    Some(Parsed::OtherKind) => out.other_kinds += 1,
                    Some(Parsed::Bad) | None => out.unparsable += 1,
                }
            }
        }
        (None, Some("s3:TestEvent")) => out.test_events = 1,
        (None, _) => out.unparsable = 1,
    }
    out
}

enum Parsed {
    Event(ObjectEvent),
    OtherKind,
    Bad,
}

fn record(r: wire::Record) -> Parsed {
    let name = r.event_name.strip_prefix("s3:").unwrap_or(&r.event_name);
    let (family, _) = name.split_once(':').unwrap_or((name, ""));
    let change = match (family, r.s3.object.size) {
        // The store counts in i64; S3's largest object is 50 TB.
        ("ObjectCreated", Some(size)) if i64::try_from(size).is_ok() => ObjectChange::Created { size },
        ("ObjectCreated", _) => return Parsed::Bad,
        ("ObjectRemoved" | "LifecycleExpiration", _) => ObjectChange::Removed,
        _ => return Parsed::OtherKind,
    };
    let (Some(key), Some(sequencer), Ok(time)) = (
        decode_key(&r.s3.object.key),
        r.s3.object.sequencer.as_deref().and_then(|s| Sequencer::parse(s).ok()),
        OffsetDateTime::parse(&r.event_time, &Rfc3339),
    ) else {
        return Parsed::Bad;
    };
    Parsed::Event(ObjectEvent {
        bucket: r.s3.bucket.name,
        key,
        change,
        sequencer,
        time,
    })
}

/// A key as S3 writes it in an event: form encoding, so `+` is a space and `%XX` a byte (a
/// real `+` arrives as `%2B`). `None` for a bad escape or bytes that are not UTF-8.
pub fn decode_key(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let (hex, tail) = rest.split_at_checked(2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = tail;
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests;
