//! `/admin/v1/usage` and `…/usage/reconcile`: what the usage ledger holds (quotas, issue 25),
//! behind the admin API's gate and audit. Without `[quota]` these answer 404.
//!
//! A reconciliation answers when it has finished (200, with the totals before and after and
//! their difference): it lists the owner's storage page by page, seconds for 100k objects.
//! One already running for that owner, on any replica, answers 409 `reconcile_running`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::admin::{AdminErrors, Ctx, audited, query};
use super::error::ApiError;
use crate::usecase::Failure;
use crate::usecase::admin::{self, MAX_PAGE, OwnerUsage, UsageKind, UsagePosition};
use crate::usecase::quota::reconcile::{Reconciler, Report};

/// The reconciler, when quotas are on.
type Quotas = Option<web::Data<Reconciler>>;

fn quotas_on(q: &Quotas) -> Result<&Reconciler, Failure> {
    q.as_ref()
        .map(web::Data::get_ref)
        .ok_or_else(|| Failure::not_found("quotas are not enabled (no [quota] section)"))
}

/// Bytes and objects.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageTotals {
    pub bytes: i64,
    pub objects: i64,
}

impl From<crate::usecase::admin::Totals> for UsageTotals {
    fn from(t: crate::usecase::admin::Totals) -> Self {
        Self {
            bytes: t.bytes,
            objects: t.objects,
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// `user` or `org`.
    pub kind: String,
    pub id: String,
    pub bucket: String,
    /// Prefix mode: the owner's prefix of the shared bucket; empty for a bucket of its own.
    pub prefix: String,
    /// The ledger's totals before, and the listing's after.
    pub before: UsageTotals,
    pub after: UsageTotals,
    /// After minus before: positive when events were missed, negative when over-counted.
    pub drift: UsageTotals,
    /// When the listing started (RFC 3339): the totals are as of then.
    pub as_of: String,
}

impl From<Report> for Reconciliation {
    fn from(r: Report) -> Self {
        Self {
            kind: r.storage.owner.kind().to_owned(),
            id: r.storage.owner.id().to_owned(),
            bucket: r.storage.bucket.as_str().to_owned(),
            prefix: r.storage.prefix,
            before: r.before.into(),
            after: r.after.into(),
            drift: r.drift.into(),
            as_of: crate::runtime::clock::format_time(r.started),
        }
    }
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
struct UserIdPath {
    /// 26-character user id.
    user_id: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
struct OrgIdPath {
    /// Internal organisation id: `o` and 26 characters a-z2-7.
    org_id: String,
}

#[utoipa::path(post, path = "/admin/v1/users/{user_id}/usage/reconcile", tag = "admin",
    params(UserIdPath),
    responses(
        (status = 200, description = "The user's storage listed and the ledger replaced from it: totals before and after, and the drift", body = Reconciliation),
        (status = 409, description = "`reconcile_running`: a reconciliation of this user's storage is running (on some replica)", body = super::error::ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn reconcile_user(
    req: HttpRequest,
    path: web::Path<String>,
    state: Ctx,
    quotas: Quotas,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let report = audited(&req, &state, "users.reconcile", Some(&raw), async {
        let reconciler = quotas_on(&quotas)?;
        Box::pin(reconciler.reconcile_user(&admin::parse_user_id(&raw)?)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(Reconciliation::from(report)))
}

#[utoipa::path(post, path = "/admin/v1/orgs/{org_id}/usage/reconcile", tag = "admin",
    params(OrgIdPath),
    responses(
        (status = 200, description = "The org's team storage listed and the ledger replaced from it: totals before and after, and the drift", body = Reconciliation),
        (status = 409, description = "`reconcile_running`: a reconciliation of this org's storage is running (on some replica)", body = super::error::ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn reconcile_org(
    req: HttpRequest,
    path: web::Path<String>,
    state: Ctx,
    quotas: Quotas,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let report = audited(&req, &state, "orgs.reconcile", Some(&raw), async {
        let reconciler = quotas_on(&quotas)?;
        Box::pin(reconciler.reconcile_org(&admin::parse_org_id(&raw)?)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(Reconciliation::from(report)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UsageQuery {
    kind: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

/// One owner's usage in the list.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnerUsageView {
    /// User id or org id.
    pub id: String,
    pub bytes: i64,
    pub objects: i64,
    /// The newest event or listing counted (RFC 3339).
    pub as_of: String,
}

impl From<OwnerUsage> for OwnerUsageView {
    fn from(u: OwnerUsage) -> Self {
        Self {
            id: u.id,
            bytes: u.totals.bytes,
            objects: u.totals.objects,
            as_of: crate::runtime::clock::format_time(u.as_of),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsagePage {
    /// `user` or `org`.
    pub kind: String,
    /// The owners of that kind storing the most bytes, largest first.
    pub largest: Vec<OwnerUsageView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
    // The owners over a limit (`limits`' state) are listed beside `largest` here.
}

#[utoipa::path(get, path = "/admin/v1/usage", tag = "admin",
    params(("kind" = Option<String>, Query, description = "`user` (default) or `org`"), ("after" = Option<String>, Query, description = "Previous page's next_after"), ("limit" = Option<u32>, Query, description = "1-500, default 50")),
    responses(
        (status = 200, description = "The owners storing the most bytes, from the usage ledger", body = UsagePage),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn usage(
    req: HttpRequest,
    q: Result<web::Query<UsageQuery>, actix_web::Error>,
    state: Ctx,
    quotas: Quotas,
) -> Result<HttpResponse, ApiError> {
    let q = query(q)?;
    let kind = match q.kind.as_deref() {
        None | Some("user") => UsageKind::User,
        Some("org") => UsageKind::Org,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(ApiError::InvalidQuery(format!("kind `{shown}` is not user or org")));
        }
    };
    let after = match q.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            UsagePosition::parse(a)
                .ok_or_else(|| ApiError::InvalidQuery("after is not a next_after this list gave".to_owned()))?,
        ),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let rows = audited(&req, &state, "usage.list", Some(kind.as_str()), async {
        quotas_on(&quotas)?;
        state.admin().largest_usage(kind, after, limit).await
    })
    .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| UsagePosition::of(r).to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(UsagePage {
        kind: kind.as_str().to_owned(),
        largest: rows.into_iter().map(OwnerUsageView::from).collect(),
        next_after,
    }))
}
