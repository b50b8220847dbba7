//! `/admin/v1/orgs`: the operator's API for organisations, beside the users' (`admin.rs`), with
//! the same gate and the same audit: every call is written to the admin audit log (target: the
//! org id) before it runs, and its outcome after.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::admin::{AdminErrors, Ctx, DeleteQuery, ListQuery, Page, audited, audited_with, query};
use super::error::ApiError;
use crate::usecase::admin::{self, OrgView, Revocation};

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
struct OrgIdPath {
    /// Internal organisation id: `o` and 26 characters a-z2-7.
    org_id: String,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgPage {
    pub orgs: Vec<OrgView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

#[utoipa::path(get, path = "/admin/v1/orgs", tag = "admin",
    params(("search" = Option<String>, Query, description = "Org-id prefix, or part of the org claim value"), ("after" = Option<String>, Query, description = "Previous page's next_after"), ("limit" = Option<u32>, Query, description = "1-500, default 50")),
    responses(
        (status = 200, description = "A page of organisations", body = OrgPage),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn list_orgs(
    req: HttpRequest,
    q: Result<web::Query<ListQuery>, actix_web::Error>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let page = Page::of(q)?;
    let orgs = audited(
        &req,
        &state,
        "orgs.list",
        page.search.as_deref(),
        state
            .admin()
            .list_orgs(page.search.clone(), page.after.clone(), page.limit),
    )
    .await?;
    let next_after = page.next_after(&orgs, |o| &o.org_id);
    Ok(HttpResponse::Ok().json(OrgPage { orgs, next_after }))
}

#[utoipa::path(delete, path = "/admin/v1/orgs/{org_id}", tag = "admin",
    params(OrgIdPath, ("force" = Option<bool>, Query, description = "Empty storage holding objects first")),
    responses(
        (status = 200, description = "The org's storage emptied and removed (prefix mode: its prefix's objects), and its mapping; a member's next team vend makes the org anew with new storage", body = crate::usecase::admin::OrgDeleted),
        (status = 409, description = "Storage not empty (use force)", body = super::error::ErrorBody),
        (status = 502, description = "`delete_incomplete`: AWS refused to delete some objects; the org stays disabled and revoked, and deleting again resumes", body = super::error::ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_org(
    req: HttpRequest,
    path: web::Path<String>,
    q: Result<web::Query<DeleteQuery>, actix_web::Error>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let force = query(q)?.force;
    let raw = path.into_inner();
    let action = if force { "orgs.delete_forced" } else { "orgs.delete" };
    let deleted = audited(&req, &state, action, Some(&raw), async {
        Box::pin(state.admin().delete_org(&admin::parse_org_id(&raw)?, force)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(deleted))
}

#[utoipa::path(get, path = "/admin/v1/orgs/{org_id}", tag = "admin",
    params(OrgIdPath),
    responses(
        (status = 200, description = "The organisation, with the members the vend audit saw", body = crate::usecase::admin::OrgView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn show_org(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let org = audited(&req, &state, "orgs.show", Some(&raw), async {
        state.admin().show_org(&admin::parse_org_id(&raw)?).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(org))
}

#[utoipa::path(post, path = "/admin/v1/orgs/{org_id}/disable", tag = "admin",
    params(OrgIdPath),
    responses(
        (status = 200, description = "Disabled: the org's templates answer 403 org_disabled to every member; personal templates still work", body = crate::usecase::admin::OrgView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn disable_org(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    Box::pin(set_disabled(req, path, state, true)).await
}

#[utoipa::path(post, path = "/admin/v1/orgs/{org_id}/enable", tag = "admin",
    params(OrgIdPath),
    responses(
        (status = 200, description = "Enabled again", body = crate::usecase::admin::OrgView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn enable_org(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    Box::pin(set_disabled(req, path, state, false)).await
}

async fn set_disabled(
    req: HttpRequest,
    path: web::Path<String>,
    state: Ctx,
    disabled: bool,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let action = if disabled { "orgs.disable" } else { "orgs.enable" };
    let org = Box::pin(audited(&req, &state, action, Some(&raw), async {
        Box::pin(state.admin().set_org_disabled(&admin::parse_org_id(&raw)?, disabled)).await
    }))
    .await?;
    Ok(HttpResponse::Ok().json(org))
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
struct MemberPath {
    /// Internal organisation id: `o` and 26 characters a-z2-7.
    org_id: String,
    /// 26-character user id of the member.
    user_id: String,
}

/// 200 once AWS refuses a session issued before the cut-off, 202 while it has not yet.
fn revoked(org: OrgView) -> HttpResponse {
    if org.revocation == Some(Revocation::Propagating) {
        return HttpResponse::Accepted().json(org);
    }
    HttpResponse::Ok().json(org)
}

#[utoipa::path(post, path = "/admin/v1/orgs/{org_id}/revoke", tag = "admin",
    params(OrgIdPath),
    responses(
        (status = 200, description = "Every member's sessions issued until now are denied on the org's storage (`revocation`: `in_effect`); their own storage is unaffected", body = crate::usecase::admin::OrgView),
        (status = 202, description = "The Deny is written but AWS has not applied it yet (`revocation`: `propagating`)", body = crate::usecase::admin::OrgView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn revoke_org(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let org = audited(&req, &state, "orgs.revoke", Some(&raw), async {
        Box::pin(state.admin().revoke_org(&admin::parse_org_id(&raw)?)).await
    })
    .await?;
    Ok(revoked(org))
}

#[utoipa::path(post, path = "/admin/v1/orgs/{org_id}/members/{user_id}/revoke", tag = "admin",
    params(MemberPath),
    responses(
        (status = 200, description = "The member's sessions issued until now are denied on the org's storage (`revocation`: `in_effect`); their own storage and the other members are unaffected", body = crate::usecase::admin::OrgView),
        (status = 202, description = "The Deny is written but AWS has not applied it yet (`revocation`: `propagating`)", body = crate::usecase::admin::OrgView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn revoke_member(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let (raw, member) = path.into_inner();
    let detail = format!("member {}", member.chars().take(64).collect::<String>());
    let org = audited_with(&req, &state, "orgs.revoke_member", Some(&raw), Some(detail), async {
        let (id, user) = (admin::parse_org_id(&raw)?, admin::parse_user_id(&member)?);
        Box::pin(state.admin().revoke_member(&id, &user)).await
    })
    .await?;
    Ok(revoked(org))
}
