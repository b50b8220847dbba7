//! Quotas at vend (issue 25): a template that can write to a storage whose owner is over a
//! limit is refused (`quota_exceeded`, with that owner's usage); at 90% of a limit the vend
//! succeeds with a warning. Both answered from memory (`quota::limits::Quotas`): no database
//! or AWS call on the vend path.

use super::{Vend, VendError};
use crate::identity::Owner;
use crate::policy::Template;
use crate::store::{OrgRecord, UserRecord};
use crate::usecase::quota::limits::{Report, Standing};

impl Vend {
    /// Refuses `template` when it can write to the storage of an owner over a limit (the
    /// user's own, or their organisation's for a team template); otherwise the reports of the
    /// owners it writes to that are at 90% of a limit (the warning).
    pub fn check_quota(
        &self,
        user: &UserRecord,
        org: Option<&OrgRecord>,
        template: &Template,
    ) -> Result<Vec<Report>, VendError> {
        let Some(quotas) = &self.quotas else {
            return Ok(Vec::new());
        };
        let writes = template.writes();
        let mut owners = Vec::with_capacity(2);
        if writes.own {
            owners.push((Owner::User(user.user_id.clone()), (&user.bucket, user.key_prefix())));
        }
        if writes.org
            && let Some(org) = org
        {
            owners.push((Owner::Org(org.org_id), (&org.bucket, org.key_prefix())));
        }
        let mut warned = Vec::new();
        for (owner, storage) in owners {
            match quotas.standing_in(&owner, storage) {
                Standing::Under => {}
                Standing::Warned(r) => warned.push(r),
                Standing::Over(r) => {
                    return Err(VendError::QuotaExceeded {
                        access: template.access().to_owned(),
                        report: Box::new(r),
                    });
                }
            }
        }
        Ok(warned)
    }

    /// Room left for an upload into `user`'s own storage under `template` (pre-signed PUTs and
    /// forms): refused when they are over a limit (from memory); else the bytes left under
    /// their bytes limit, read from the ledger (`None`: no bytes limit, or `[quota]` off).
    pub async fn upload_room(
        &self,
        user: &UserRecord,
        template: &Template,
    ) -> Result<Option<u64>, crate::usecase::Failure> {
        let Some(quotas) = &self.quotas else {
            return Ok(None);
        };
        let owner = Owner::User(user.user_id.clone());
        let refuse = |report| VendError::QuotaExceeded {
            access: template.access().to_owned(),
            report: Box::new(report),
        };
        if let Standing::Over(r) = quotas.standing_in(&owner, (&user.bucket, user.key_prefix())) {
            return Err(refuse(r).into());
        }
        let Some(limit) = quotas.limits(&owner).bytes else {
            return Ok(None);
        };
        let report = quotas
            .report(&owner, (&user.bucket, user.key_prefix()))
            .await
            .map_err(|e| crate::usecase::Failure::store("usage lookup", &e))?;
        let stored = u64::try_from(report.usage.bytes.max(0)).unwrap_or(0);
        match limit.checked_sub(stored) {
            Some(room) if room > 0 => Ok(Some(room)),
            _ => Err(refuse(report).into()),
        }
    }

    /// Reads an owner's quota again: the change feed named them.
    pub async fn quota_changed(&self, owner: &Owner) {
        if let Some(quotas) = &self.quotas
            && let Err(e) = quotas.refresh(owner).await
        {
            tracing::warn!(error = %e, owner_kind = owner.kind(), owner_id = owner.id(), "reading an owner's quota failed; the next change or reload reads it");
        }
    }

    /// Reads every owner's quota again: after a gap in the change feed.
    pub async fn reload_quotas(&self) {
        if let Some(quotas) = &self.quotas
            && let Err(e) = quotas.load().await
        {
            tracing::warn!(error = %e, "reloading quotas failed");
        }
    }

    /// The user's usage of their storage, and their organisation's of its storage, read from
    /// the ledger (`/v1/me`); `None` when `[quota]` is off.
    pub async fn usage_of(
        &self,
        user: &UserRecord,
        org: Option<&OrgRecord>,
    ) -> Result<Option<(Report, Option<Report>)>, crate::usecase::Failure> {
        let Some(quotas) = &self.quotas else {
            return Ok(None);
        };
        let failed = |e| crate::usecase::Failure::store("usage lookup", &e);
        let own = quotas
            .report(&Owner::User(user.user_id.clone()), (&user.bucket, user.key_prefix()))
            .await
            .map_err(failed)?;
        let org = match org {
            Some(o) => Some(
                quotas
                    .report(&Owner::Org(o.org_id), (&o.bucket, o.key_prefix()))
                    .await
                    .map_err(failed)?,
            ),
            None => None,
        };
        Ok(Some((own, org)))
    }

    /// The quotas, when `[quota]` is on.
    pub fn quotas(&self) -> Option<&std::sync::Arc<crate::usecase::quota::limits::Quotas>> {
        self.quotas.as_ref()
    }
}

/// `X-Stsvend-Quota-Warning`'s value: each owner at 90% of a limit and the share used, e.g.
/// `user bytes=93%` or `user bytes=93%, org objects=90%`.
pub fn warning_header(reports: &[Report]) -> Option<String> {
    let parts: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.percents()
                .into_iter()
                .map(move |(what, p)| format!("{} {what}={p}%", r.owner.kind()))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}
