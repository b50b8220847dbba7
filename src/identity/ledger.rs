//! The values the usage ledger (issue 25, quotas) is made of: an S3 event's `sequencer`, one
//! object change S3 reported, and who owns the storage it happened in. They sit here, the
//! bottom layer, because two boundaries share them: `aws::s3::notification` parses S3's event
//! messages into them and the store keeps the ledger built from them.

use std::fmt;

use time::OffsetDateTime;

use super::{BucketName, IdentityError, OrgId, UserId};

/// Width every sequencer is padded to. S3's are 16 hex digits today; 32 leaves room for a
/// longer format while keeping plain string comparison right. A longer one is refused (its
/// event counts as unparsable), since it could not be ordered against stored ones.
pub const SEQUENCER_WIDTH: usize = 32;

/// An S3 event's `sequencer`: hex digits that order the events of one key (never of two keys).
/// AWS's rule is to compare them as hex numbers after left-padding the shorter with zeros; this
/// holds them upper-cased and zero-padded to [`SEQUENCER_WIDTH`], so Rust's `Ord`, `SQLite`'s
/// `BINARY` and `PostgreSQL`'s `"C"` comparison of the stored text all give that order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequencer(String);

impl Sequencer {
    /// 1 to [`SEQUENCER_WIDTH`] hex digits, either case.
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        if s.is_empty() || s.len() > SEQUENCER_WIDTH || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdentityError::Sequencer(s.chars().take(64).collect()));
        }
        Ok(Self(format!(
            "{:0>width$}",
            s.to_ascii_uppercase(),
            width = SEQUENCER_WIDTH
        )))
    }

    /// The padded form, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sequencer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event did to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectChange {
    /// `ObjectCreated:*` (Put, Post, Copy, CompleteMultipartUpload): the key now holds `size`
    /// bytes. A multipart upload has one such event, at completion.
    Created { size: u64 },
    /// `ObjectRemoved:Delete` and `ObjectRemoved:DeleteMarkerCreated` (and lifecycle
    /// expiration): the key no longer shows in a listing. See `aws::s3::notification` for why a
    /// delete marker counts as a removal.
    Removed,
}

/// One object change S3 reported, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// As S3 wrote it; resolving an owner parses it.
    pub bucket: String,
    /// Decoded (S3 sends it URL-encoded).
    pub key: String,
    pub change: ObjectChange,
    pub sequencer: Sequencer,
    /// `eventTime`: when S3 finished the request (millisecond precision).
    pub time: OffsetDateTime,
}

/// What one notification message held: its object events, and what was left out of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    pub events: Vec<ObjectEvent>,
    /// `s3:TestEvent` messages (S3 sends one when notifications are configured).
    pub test_events: u32,
    /// Messages or records that did not parse (or a sequencer longer than
    /// [`SEQUENCER_WIDTH`]): skipped, counted.
    pub unparsable: u32,
    /// Records of event kinds that change no size (tagging, ACL, restore, replication...).
    pub other_kinds: u32,
}

impl Notification {
    /// Adds `other`'s events and counts to these.
    pub fn absorb(&mut self, other: Notification) {
        self.events.extend(other.events);
        self.test_events += other.test_events;
        self.unparsable += other.unparsable;
        self.other_kinds += other.other_kinds;
    }
}

/// Who storage belongs to: a user or an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    User(UserId),
    Org(OrgId),
}

impl Owner {
    /// `user` or `org`, as the ledger stores it.
    pub fn kind(&self) -> &'static str {
        match self {
            Owner::User(_) => "user",
            Owner::Org(_) => "org",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Owner::User(u) => u.as_str(),
            Owner::Org(o) => o.as_str(),
        }
    }

    /// The owner stored as (`kind`, `id`).
    pub fn parse(kind: &str, id: &str) -> Result<Self, IdentityError> {
        match kind {
            "user" => UserId::parse(id).map(Owner::User),
            "org" => OrgId::parse(id).map(Owner::Org),
            _ => Err(IdentityError::OwnerKind(kind.chars().take(16).collect())),
        }
    }
}

/// One owner's storage: a bucket of their own (`prefix` empty) or their prefix
/// (`<root>/<id>/`) of a shared bucket. The ledger keys an owner's totals by their storage, not
/// by their id: a user deleted and created again gets new storage (a new bucket) and so starts
/// from the new storage's figures, while a prefix, derived from the id, keeps its objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerStorage {
    pub owner: Owner,
    pub bucket: BucketName,
    pub prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_compare_as_hex_after_left_padding() {
        let s = |v: &str| Sequencer::parse(v).unwrap();
        // AWS's example: a shorter sequencer is padded before comparing.
        assert!(s("0055AED6DCD90281E5") > s("55AED6DCD90281E4"));
        assert_eq!(s("0A"), s("a"));
        assert!(s("F") < s("10"));
        assert!(s("FFFFFFFFFFFFFFFF") < s("10000000000000000"));
        assert_eq!(s("1").as_str().len(), SEQUENCER_WIDTH);
        assert_eq!(s("1").as_str(), format!("{}1", "0".repeat(SEQUENCER_WIDTH - 1)));
    }

    #[test]
    fn sequencers_that_cannot_be_ordered_are_refused() {
        for bad in ["", "0x1F", "12G4", " 1F", &"1".repeat(SEQUENCER_WIDTH + 1)] {
            assert!(Sequencer::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Sequencer::parse(&"F".repeat(SEQUENCER_WIDTH)).is_ok());
    }

    #[test]
    fn owners_round_trip_through_their_stored_kind_and_id() {
        let user = Owner::User(UserId::derive("https://i/", "auth0|a"));
        let org = Owner::Org(OrgId::fresh().unwrap());
        for owner in [user.clone(), org] {
            assert_eq!(Owner::parse(owner.kind(), owner.id()).unwrap(), owner);
        }
        assert!(Owner::parse("team", user.id()).is_err());
        assert!(Owner::parse("org", user.id()).is_err());
    }
}
