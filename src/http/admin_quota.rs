//! `/admin/v1/{users,orgs}/{id}/quota`: an owner's quota override (issue 25). `PUT` sets both
//! limits (`null`: unlimited), `DELETE` returns the owner to the `[quota]` defaults; either
//! evaluates the owner at once and answers their quota. Audited like every admin action
//! (target: the owner's id), a refused body too.

use actix_web::{HttpRequest, HttpResponse, web};

use super::admin::{AdminErrors, Ctx, audited};
use super::error::{ApiError, ErrorBody};
use crate::usecase::admin::{self, QuotaView};

/// The override body (`PUT`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)] // Only read by the OpenAPI generator: the body is parsed by `admin::parse_limits`.
pub struct QuotaBody {
    /// Bytes the owner may store; `null`: unlimited.
    bytes: Option<u64>,
    /// Objects the owner may store; `null`: unlimited.
    objects: Option<u64>,
}

#[utoipa::path(put, path = "/admin/v1/users/{user_id}/quota", tag = "admin",
    params(("user_id" = String, Path, description = "26-character user id")),
    request_body(content = QuotaBody, description = "Both limits; `null`: unlimited"),
    responses(
        (status = 200, description = "The override is set and the user evaluated at once; their quota", body = QuotaView),
        (status = 409, description = "`quotas_off`: `[quota]` is not configured", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn put_user_quota(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let view = audited(&req, &state, "users.quota_set", Some(&raw), async {
        let id = admin::parse_user_id(&raw)?;
        let limits = admin::parse_limits(&body)?;
        state.admin().set_user_quota(&id, Some(limits)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/admin/v1/users/{user_id}/quota", tag = "admin",
    params(("user_id" = String, Path, description = "26-character user id")),
    responses(
        (status = 200, description = "The override is removed (the `[quota]` defaults apply) and the user evaluated at once; their quota", body = QuotaView),
        (status = 409, description = "`quotas_off`: `[quota]` is not configured", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_user_quota(
    req: HttpRequest,
    path: web::Path<String>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let view = audited(&req, &state, "users.quota_reset", Some(&raw), async {
        state.admin().set_user_quota(&admin::parse_user_id(&raw)?, None).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(put, path = "/admin/v1/orgs/{org_id}/quota", tag = "admin",
    params(("org_id" = String, Path, description = "Internal organisation id: `o` and 26 characters a-z2-7")),
    request_body(content = QuotaBody, description = "Both limits; `null`: unlimited"),
    responses(
        (status = 200, description = "The override is set and the organisation evaluated at once; its quota", body = QuotaView),
        (status = 409, description = "`quotas_off`: `[quota]` is not configured", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn put_org_quota(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let view = audited(&req, &state, "orgs.quota_set", Some(&raw), async {
        let id = admin::parse_org_id(&raw)?;
        let limits = admin::parse_limits(&body)?;
        state.admin().set_org_quota(&id, Some(limits)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(delete, path = "/admin/v1/orgs/{org_id}/quota", tag = "admin",
    params(("org_id" = String, Path, description = "Internal organisation id: `o` and 26 characters a-z2-7")),
    responses(
        (status = 200, description = "The override is removed (the `[quota]` defaults apply) and the organisation evaluated at once; its quota", body = QuotaView),
        (status = 409, description = "`quotas_off`: `[quota]` is not configured", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_org_quota(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let view = audited(&req, &state, "orgs.quota_reset", Some(&raw), async {
        state.admin().set_org_quota(&admin::parse_org_id(&raw)?, None).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
