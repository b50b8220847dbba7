//! Per-owner quota overrides (issue 25): an operator sets a user's or an organisation's limits
//! (`null`: unlimited) or removes the override (back to the `[quota]` defaults); the owner is
//! evaluated at once, and every replica follows through the change feed. The user and org
//! views show the override, the limits in force and the usage.

use serde::Serialize;

use super::{Admin, AdminError};
use crate::identity::{OrgId, Owner, OwnerStorage, UserId};
use crate::store::QuotaLimits;
use crate::usecase::error::{Failure, code};
use crate::usecase::quota::limits::{Quotas, Standing};

/// An owner's quota as the admin API shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuotaView {
    /// The owner's override (`null` limits: unlimited); `null`: the `[quota]` defaults apply.
    #[serde(rename = "override")]
    pub override_limits: Option<LimitsView>,
    /// Usage and the limits in force (`limit_*` null when unlimited).
    pub usage: UsageView,
    /// `under`, `warned` (at or over 90% of a limit) or `over` (writes refused).
    pub state: String,
}

/// Limits; `null`: unlimited.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LimitsView {
    pub bytes: Option<u64>,
    pub objects: Option<u64>,
}

/// `{bytes, objects, limit_bytes, limit_objects, as_of}`, as `/v1/me` shows it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UsageView {
    pub bytes: i64,
    pub objects: i64,
    pub limit_bytes: Option<u64>,
    pub limit_objects: Option<u64>,
    /// The newest event or listing counted (RFC 3339).
    pub as_of: String,
}

impl From<QuotaLimits> for LimitsView {
    fn from(l: QuotaLimits) -> Self {
        Self {
            bytes: l.bytes,
            objects: l.objects,
        }
    }
}

impl Admin {
    /// Sets (`Some`) or removes (`None`) a user's override, evaluates them at once, and
    /// answers their quota.
    pub async fn set_user_quota(&self, id: &UserId, limits: Option<QuotaLimits>) -> Result<QuotaView, Failure> {
        let quotas = self.quotas()?;
        let user = self.load(id).await?;
        let storage = OwnerStorage {
            owner: Owner::User(id.clone()),
            bucket: user.bucket.clone(),
            prefix: user.key_prefix().to_owned(),
        };
        Ok(Box::pin(set(quotas, storage, limits)).await?)
    }

    /// As [`Admin::set_user_quota`], for an organisation.
    pub async fn set_org_quota(&self, id: &OrgId, limits: Option<QuotaLimits>) -> Result<QuotaView, Failure> {
        let quotas = self.quotas()?;
        let org = self.load_org(id).await?;
        let storage = OwnerStorage {
            owner: Owner::Org(*id),
            bucket: org.bucket.clone(),
            prefix: org.key_prefix().to_owned(),
        };
        Ok(Box::pin(set(quotas, storage, limits)).await?)
    }

    /// The owner's quota in their storage, when `[quota]` is on (the user and org views).
    pub(super) async fn quota_view(&self, storage: &OwnerStorage) -> Result<Option<QuotaView>, AdminError> {
        match self.vend.quotas() {
            Some(q) => Ok(Some(view(q, storage).await?)),
            None => Ok(None),
        }
    }

    fn quotas(&self) -> Result<&Quotas, Failure> {
        self.vend.quotas().map(AsRef::as_ref).ok_or_else(|| {
            Failure::conflict(
                code::Conflict::QuotasOff,
                &"quotas are off: configure [quota] to set an owner's limits",
            )
        })
    }
}

async fn set(quotas: &Quotas, storage: OwnerStorage, limits: Option<QuotaLimits>) -> Result<QuotaView, AdminError> {
    quotas
        .set_override(&storage.owner, limits, Some(storage.clone()))
        .await?;
    view(quotas, &storage).await
}

async fn view(quotas: &Quotas, storage: &OwnerStorage) -> Result<QuotaView, AdminError> {
    let owner = &storage.owner;
    let report = quotas.report(owner, (&storage.bucket, &storage.prefix)).await?;
    let state = match quotas.standing_in(owner, (&storage.bucket, &storage.prefix)) {
        Standing::Under => "under",
        Standing::Warned(_) => "warned",
        Standing::Over(_) => "over",
    };
    Ok(QuotaView {
        override_limits: quotas.override_of(owner).map(LimitsView::from),
        usage: UsageView {
            bytes: report.usage.bytes,
            objects: report.usage.objects,
            limit_bytes: report.limits.bytes,
            limit_objects: report.limits.objects,
            as_of: crate::runtime::clock::format_time(report.as_of),
        },
        state: state.to_owned(),
    })
}

/// The largest limit stored (`BIGINT`).
const MAX_LIMIT: u64 = i64::MAX as u64;

/// A quota override body: `{"bytes": n|null, "objects": n|null}`, both keys required (`null`:
/// unlimited), whole numbers 0 to 2^63-1, nothing else; 400 `invalid_quota` otherwise.
pub fn parse_limits(body: &[u8]) -> Result<QuotaLimits, Failure> {
    let bad = |why: &str| {
        Failure::invalid(
            code::Invalid::InvalidQuota,
            &format!(
                "{why}: the body is {{\"bytes\": n|null, \"objects\": n|null}} (null: unlimited; n a whole number 0 to {MAX_LIMIT})"
            ),
        )
    };
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let fields = v.as_object().ok_or_else(|| bad("not a JSON object"))?;
    if let Some(other) = fields.keys().find(|k| !matches!(k.as_str(), "bytes" | "objects")) {
        return Err(bad(&format!(
            "unknown field `{}`",
            other.escape_debug().to_string().chars().take(64).collect::<String>()
        )));
    }
    let limit = |name: &str| match fields.get(name) {
        None => Err(bad(&format!("`{name}` is missing"))),
        Some(serde_json::Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .filter(|n| *n <= MAX_LIMIT)
            .map(Some)
            .ok_or_else(|| bad(&format!("`{name}` is not a whole number 0 to {MAX_LIMIT}"))),
    };
    Ok(QuotaLimits {
        bytes: limit("bytes")?,
        objects: limit("objects")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_body_names_both_limits_as_whole_numbers_or_null() {
        let ok = |b: &str| parse_limits(b.as_bytes()).unwrap();
        assert_eq!(
            ok(r#"{"bytes": 10, "objects": null}"#),
            QuotaLimits {
                bytes: Some(10),
                objects: None
            }
        );
        assert_eq!(
            ok(r#"{"objects": 0, "bytes": null}"#),
            QuotaLimits {
                bytes: None,
                objects: Some(0)
            }
        );
        for bad in [
            "",
            "[]",
            r#"{"bytes": 10}"#,
            r#"{"bytes": -1, "objects": null}"#,
            r#"{"bytes": 1.5, "objects": null}"#,
            r#"{"bytes": "10", "objects": null}"#,
            r#"{"bytes": 9223372036854775808, "objects": null}"#,
            r#"{"bytes": 1, "objects": 1, "files": 1}"#,
        ] {
            let e = parse_limits(bad.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "invalid_quota", "{bad}");
        }
    }
}
