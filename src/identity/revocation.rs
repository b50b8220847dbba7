//! A revocation in prefix mode: the cut-off before which a user's sessions are denied on a
//! shared bucket. The store records them; the AWS boundary renders the bucket policy from them.

use time::OffsetDateTime;

use super::UserId;

/// A user's sessions issued before `cut_off` are denied on a shared bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRevocation {
    pub user_id: UserId,
    pub cut_off: OffsetDateTime,
    /// The user's latest first hand-out of keys or of a pre-signed URL, whenever it was (the
    /// audit's): one after `cut_off` means a session issued since, which only `cut_off`
    /// spares.
    pub last_hand_out: Option<OffsetDateTime>,
}
