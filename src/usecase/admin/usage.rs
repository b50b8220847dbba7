//! The operator's view of the usage ledger (quotas, issue 25): the owners storing the most,
//! in their current storage, a page at a time.

use std::fmt;

use time::OffsetDateTime;

use super::{Admin, AdminError};
use crate::store::{Usage, UsageCursor};
use crate::usecase::error::Failure;

pub use crate::store::{OwnerKind as UsageKind, Totals};

/// One owner's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerUsage {
    /// User id or org id.
    pub id: String,
    pub totals: Totals,
    pub as_of: OffsetDateTime,
}

/// Where a page of the largest owners starts: after an owner's (bytes, id), written
/// `<bytes>.<id>` as the list's `next_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsagePosition(UsageCursor);

impl UsagePosition {
    /// The position after `row`.
    pub fn of(row: &OwnerUsage) -> Self {
        Self(UsageCursor {
            bytes: row.totals.bytes,
            owner_id: row.id.clone(),
        })
    }

    /// A `next_after` this list gave; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let (bytes, id) = s.split_once('.')?;
        let valid_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid_id.then_some(())?;
        Some(Self(UsageCursor {
            bytes: bytes.parse().ok()?,
            owner_id: id.to_owned(),
        }))
    }
}

impl fmt::Display for UsagePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0.bytes, self.0.owner_id)
    }
}

impl Admin {
    /// The `limit` owners of `kind` storing the most bytes, largest first, after `after`.
    pub async fn largest_usage(
        &self,
        kind: UsageKind,
        after: Option<UsagePosition>,
        limit: u32,
    ) -> Result<Vec<OwnerUsage>, Failure> {
        let rows = self
            .store
            .largest_usage(kind, after.map(|p| p.0), limit)
            .await
            .map_err(AdminError::from)?;
        Ok(rows.iter().map(owner_usage).collect())
    }
}

fn owner_usage(u: &Usage) -> OwnerUsage {
    OwnerUsage {
        id: u.owner.id().to_owned(),
        totals: u.totals,
        as_of: u.as_of,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_back_what_it_wrote_and_nothing_else() {
        let row = OwnerUsage {
            id: "abc234".to_owned(),
            totals: Totals { bytes: 42, objects: 1 },
            as_of: OffsetDateTime::UNIX_EPOCH,
        };
        let p = UsagePosition::of(&row);
        assert_eq!(p.to_string(), "42.abc234");
        assert_eq!(UsagePosition::parse("42.abc234"), Some(p));
        for bad in ["", "42", ".abc", "x.abc", "42.", "42.a'b", "42.a.b"] {
            assert_eq!(UsagePosition::parse(bad), None, "{bad}");
        }
    }
}
