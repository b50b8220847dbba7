//! The `orgs` table: one mapping per organisation (internal id, storage, state).

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;

use super::users::parse_time;
use super::{PgStore, to_u32};
use crate::identity::{BucketName, OrgId, UserId};
use crate::runtime::clock::{format_time, now};
use crate::store::orgs::parse_org_prefix;
use crate::store::{NewOrg, OrgRecord, StoreError};

pub(super) const ORG_COLUMNS: &str =
    "org_id, issuer, claim, bucket, candidate, region, state, created_at, mode, prefix, disabled_at, revoked_before";

impl PgStore {
    pub async fn org_by_claim(&self, issuer: &str, claim: &str) -> Result<Option<OrgRecord>, StoreError> {
        select_org(&*self.client().await?, issuer, claim).await
    }

    /// Inserts the org's row unless (issuer, claim) has one; returns the row either way.
    pub async fn insert_org(&self, new: &NewOrg<'_>) -> Result<OrgRecord, StoreError> {
        let (mode, prefix, state) = new.storage_columns();
        let c = self.client().await?;
        // No conflict target: a replica inserting the same org at the same moment meets this
        // row on (issuer, claim); the select says whose row won.
        c.execute(
            "INSERT INTO orgs (org_id, issuer, claim, bucket, candidate, region, state, mode, prefix, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $9, $9)
             ON CONFLICT DO NOTHING",
            &[
                &new.org_id.as_str(),
                &new.issuer,
                &new.claim.as_str(),
                &new.bucket.as_str(),
                &new.region,
                &state,
                &mode,
                &prefix,
                &format_time(now()),
            ],
        )
        .await?;
        select_org(&c, new.issuer, new.claim.as_str())
            .await?
            .ok_or_else(|| StoreError::Corrupt("new org's storage is already another org's".to_owned()))
    }

    pub async fn set_org_bucket(&self, org_id: &OrgId, bucket: &BucketName, candidate: u32) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE orgs SET bucket = $2, candidate = $3, updated_at = $4 WHERE org_id = $1 AND state = 'pending'",
                &[
                    &org_id.as_str(),
                    &bucket.as_str(),
                    &i64::from(candidate),
                    &format_time(now()),
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn mark_org_ready(&self, org_id: &OrgId) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE orgs SET state = 'ready', updated_at = $2 WHERE org_id = $1",
                &[&org_id.as_str(), &format_time(now())],
            )
            .await?;
        Ok(())
    }

    pub async fn count_orgs(&self) -> Result<i64, StoreError> {
        let row = self.client().await?.query_one("SELECT COUNT(*) FROM orgs", &[]).await?;
        Ok(row.try_get(0)?)
    }

    pub async fn orgs_of_key(&self, access_key_id: &str) -> Result<Vec<Option<String>>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT org_id FROM vend_audit WHERE access_key_id = $1 ORDER BY id",
                &[&access_key_id],
            )
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

/// An org row (the columns of [`ORG_COLUMNS`], in order), with its members' cut-offs read
/// from `c`.
pub(super) async fn parse_org(c: &ClientWrapper, r: &Row) -> Result<OrgRecord, StoreError> {
    let corrupt = |e: crate::identity::IdentityError| StoreError::Corrupt(e.to_string());
    let org_id = OrgId::parse(r.try_get(0)?).map_err(corrupt)?;
    let stmt = c
        .prepare_cached("SELECT user_id, cut_off FROM org_member_revocations WHERE org_id = $1")
        .await?;
    let members_revoked = c
        .query(&stmt, &[&org_id.as_str()])
        .await?
        .iter()
        .map(|m| {
            Ok((
                UserId::parse(m.try_get(0)?).map_err(corrupt)?,
                parse_time(m.try_get(1)?)?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let time = |i: usize| -> Result<Option<time::OffsetDateTime>, StoreError> {
        r.try_get::<_, Option<&str>>(i)?.map(parse_time).transpose()
    };
    Ok(OrgRecord {
        org_id,
        issuer: r.try_get(1)?,
        claim: r.try_get(2)?,
        bucket: BucketName::parse(r.try_get(3)?).map_err(corrupt)?,
        candidate: to_u32(r.try_get(4)?, "candidate")?,
        region: r.try_get(5)?,
        state: r.try_get::<_, &str>(6)?.parse()?,
        created_at: parse_time(r.try_get(7)?)?,
        prefix: parse_org_prefix(r.try_get(8)?, r.try_get(9)?)?,
        disabled_at: time(10)?,
        revoked_before: time(11)?,
        members_revoked,
    })
}

async fn select_org(c: &ClientWrapper, issuer: &str, claim: &str) -> Result<Option<OrgRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {ORG_COLUMNS} FROM orgs WHERE issuer = $1 AND claim = $2"
        ))
        .await?;
    match c.query_opt(&stmt, &[&issuer, &claim]).await? {
        Some(r) => Ok(Some(parse_org(c, &r).await?)),
        None => Ok(None),
    }
}

/// The organisation with internal id `org_id`, if it has a row.
pub(super) async fn select_org_by_id(c: &ClientWrapper, org_id: &str) -> Result<Option<OrgRecord>, StoreError> {
    let stmt = c
        .prepare_cached(&format!("SELECT {ORG_COLUMNS} FROM orgs WHERE org_id = $1"))
        .await?;
    match c.query_opt(&stmt, &[&org_id]).await? {
        Some(r) => Ok(Some(parse_org(c, &r).await?)),
        None => Ok(None),
    }
}
