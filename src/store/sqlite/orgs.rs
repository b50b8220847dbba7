//! The `orgs` table: one mapping per organisation (internal id, storage, state).

use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, parse_time};
use crate::identity::{BucketName, OrgId, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::orgs::parse_org_prefix;
use crate::store::{NewOrg, OrgRecord, StoreError};

pub(super) const ORG_COLUMNS: &str =
    "org_id, issuer, claim, bucket, candidate, region, state, created_at, mode, prefix, disabled_at, revoked_before";

impl SqliteStore {
    pub async fn org_by_claim(&self, issuer: &str, claim: &str) -> Result<Option<OrgRecord>, StoreError> {
        let (issuer, claim) = (issuer.to_owned(), claim.to_owned());
        self.run(move |c| select_org(c, &issuer, &claim)).await
    }

    /// Inserts the org's row unless (issuer, claim) has one; returns the row either way.
    pub async fn insert_org(&self, new: &NewOrg<'_>) -> Result<OrgRecord, StoreError> {
        let (mode, prefix, state) = new.storage_columns();
        let id = new.org_id.as_str().to_owned();
        let (issuer, claim) = (new.issuer.to_owned(), new.claim.as_str().to_owned());
        let (bucket, region) = (new.bucket.as_str().to_owned(), new.region.to_owned());
        self.run(move |c| {
            let at = format_time(now());
            c.prepare_cached(
                "INSERT INTO orgs (org_id, issuer, claim, bucket, candidate, region, state, mode, prefix, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?9)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![id, issuer, claim, bucket, region, state, mode, prefix, at])?;
            select_org(c, &issuer, &claim)?
                .ok_or_else(|| StoreError::Corrupt("new org's storage is already another org's".to_owned()))
        })
        .await
    }

    pub async fn set_org_bucket(&self, org_id: &OrgId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        let (id, bucket) = (org_id.as_str().to_owned(), bucket.as_str().to_owned());
        self.run(move |c| {
            c.execute(
                "UPDATE orgs SET bucket = ?2, candidate = ?3, updated_at = ?4 WHERE org_id = ?1 AND state = 'pending'",
                params![id, bucket, candidate, format_time(now())],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn mark_org_ready(&self, org_id: &OrgId) -> Result<(), StoreError> {
        let id = org_id.as_str().to_owned();
        self.run(move |c| {
            c.execute(
                "UPDATE orgs SET state = 'ready', updated_at = ?2 WHERE org_id = ?1",
                params![id, format_time(now())],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn count_orgs(&self) -> Result<i64, StoreError> {
        self.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM orgs", [], |r| r.get(0))?))
            .await
    }

    pub async fn orgs_of_key(&self, access_key_id: &str) -> Result<Vec<Option<String>>, StoreError> {
        self.flush_audit().await?;
        let key = access_key_id.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached("SELECT org_id FROM vend_audit WHERE access_key_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([key], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

fn select_org(c: &Connection, issuer: &str, claim: &str) -> Result<Option<OrgRecord>, StoreError> {
    let raw = c
        .prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM orgs WHERE issuer = ?1 AND claim = ?2"
        ))?
        .query_row([issuer, claim], RawOrg::from_row)
        .optional()?;
    raw.map(|r| r.parse(c)).transpose()
}

/// The organisation with internal id `org_id`, if it has a row.
pub(super) fn select_org_by_id(c: &Connection, org_id: &str) -> Result<Option<OrgRecord>, StoreError> {
    let raw = c
        .prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE org_id = ?1"))?
        .query_row([org_id], RawOrg::from_row)
        .optional()?;
    raw.map(|r| r.parse(c)).transpose()
}

/// An org row as stored (the columns of [`ORG_COLUMNS`], in order), before its values are
/// parsed.
pub(super) struct RawOrg {
    org_id: String,
    issuer: String,
    claim: String,
    bucket: String,
    candidate: u32,
    region: String,
    state: String,
    created_at: String,
    mode: String,
    prefix: String,
    disabled_at: Option<String>,
    revoked_before: Option<String>,
}

impl RawOrg {
    pub(super) fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            org_id: r.get(0)?,
            issuer: r.get(1)?,
            claim: r.get(2)?,
            bucket: r.get(3)?,
            candidate: r.get(4)?,
            region: r.get(5)?,
            state: r.get(6)?,
            created_at: r.get(7)?,
            mode: r.get(8)?,
            prefix: r.get(9)?,
            disabled_at: r.get(10)?,
            revoked_before: r.get(11)?,
        })
    }

    /// The record, with its members' cut-offs read from `c`.
    pub(super) fn parse(self, c: &Connection) -> Result<OrgRecord, StoreError> {
        let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
        let mut stmt = c.prepare_cached("SELECT user_id, cut_off FROM org_member_revocations WHERE org_id = ?1")?;
        let members_revoked = stmt
            .query_map([&self.org_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .map(|r| {
                let (user, cut) = r?;
                Ok((UserId::parse(&user).map_err(corrupt)?, parse_time(&cut)?))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(OrgRecord {
            org_id: OrgId::parse(&self.org_id).map_err(corrupt)?,
            issuer: self.issuer,
            claim: self.claim,
            bucket: BucketName::parse(&self.bucket).map_err(corrupt)?,
            candidate: self.candidate,
            region: self.region,
            state: self.state.parse()?,
            created_at: parse_time(&self.created_at)?,
            prefix: parse_org_prefix(&self.mode, &self.prefix)?,
            disabled_at: self.disabled_at.as_deref().map(parse_time).transpose()?,
            revoked_before: self.revoked_before.as_deref().map(parse_time).transpose()?,
            members_revoked,
        })
    }
}
