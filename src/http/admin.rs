//! `/admin/v1`: the operator's API. Off unless `admin.permission` is configured; callers need
//! a token (user or machine) carrying that permission. Every call is written to the admin
//! audit log before it runs, and its outcome after.

use std::future::Future;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::admin_views::{AdminAction, KeyOwner};
use super::error::{ApiError, ErrorBody, invalid_query};
use super::extract::bearer_token;
use crate::usecase::Failure;
use crate::usecase::admin::{self, Admin, MAX_PAGE, Revocation, UserView};
use crate::usecase::caller::Authenticator;

/// What every admin route needs: the use cases and the token verifier.
pub struct Ctx {
    admin: web::Data<Admin>,
    auth: web::Data<Authenticator>,
    proxies: web::Data<super::TrustedProxies>,
}

impl Ctx {
    pub(super) fn admin(&self) -> &Admin {
        &self.admin
    }
}

impl actix_web::FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let admin = req.app_data::<web::Data<Admin>>().cloned();
        let auth = req.app_data::<web::Data<Authenticator>>().cloned();
        let proxies = req.app_data::<web::Data<super::TrustedProxies>>().cloned();
        std::future::ready(match (admin, auth, proxies) {
            (Some(admin), Some(auth), Some(proxies)) => Ok(Self { admin, auth, proxies }),
            _ => Err(Failure::internal("admin routes", &std::io::Error::other("not wired")).into()),
        })
    }
}

/// The error answers every admin route documents (`OpenAPI`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
pub(super) enum AdminErrors {
    #[response(status = 400, description = "Malformed parameter")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or invalid token")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "Token lacks the admin permission or a required claim")]
    Forbidden(ErrorBody),
    #[response(
        status = 404,
        description = "Admin API not enabled, or no such user, organisation or key"
    )]
    NotFound(ErrorBody),
    #[response(
        status = 503,
        description = "AWS, the audit log or (prefix mode) the shared bucket's policy lease unavailable (Retry-After)"
    )]
    Unavailable(ErrorBody),
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
struct UserIdPath {
    /// 26-character user id.
    user_id: String,
}

/// Runs one admin action for the caller of `req`, between its two audit writes. The admin API
/// must be on (404 before any token is looked at), the token valid, and its holder an admin.
pub(super) async fn audited<T, F>(
    req: &HttpRequest,
    state: &Ctx,
    action: &str,
    target: Option<&str>,
    run: F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, Failure>>,
{
    audited_with(req, state, action, target, None, run).await
}

/// [`audited`], with `detail` on the audit row from the start (a member of an org).
pub(super) async fn audited_with<T, F>(
    req: &HttpRequest,
    state: &Ctx,
    action: &str,
    target: Option<&str>,
    detail: Option<String>,
    run: F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, Failure>>,
{
    state.admin.enabled()?;
    let caller = state.auth.any(bearer_token(req)?).await?;
    let admin = state.admin.authorize(caller, state.proxies.client_of(req)).await?;
    Ok(state.admin.audited_with(&admin, action, target, detail, run).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    pub(super) search: Option<String>,
    pub(super) after: Option<String>,
    pub(super) limit: Option<u32>,
}

/// A list route's page, checked: the search (empty means none; at most 1024 bytes), where it
/// starts, and how many rows (1 to `MAX_PAGE`, default 50).
pub(super) struct Page {
    pub(super) search: Option<String>,
    pub(super) after: Option<String>,
    pub(super) limit: u32,
}

impl Page {
    pub(super) fn of(q: Result<web::Query<ListQuery>, actix_web::Error>) -> Result<Self, ApiError> {
        let q = query(q)?;
        let search = q.search.filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > 1024) {
            return Err(ApiError::InvalidQuery("search is longer than 1024 bytes".to_owned()));
        }
        Ok(Self {
            search,
            after: q.after,
            limit: q.limit.unwrap_or(50).clamp(1, MAX_PAGE),
        })
    }

    /// The `next_after` of a page holding `rows`: the last row's id when the page is full.
    pub(super) fn next_after<T>(&self, rows: &[T], id: impl Fn(&T) -> &str) -> Option<String> {
        (rows.len() == self.limit as usize)
            .then(|| rows.last().map(|r| id(r).to_owned()))
            .flatten()
    }
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// Every hand-out of one access key id.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyLookup {
    pub access_key_id: String,
    pub vends: Vec<KeyOwner>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub actions: Vec<AdminAction>,
}

pub(super) fn query<T>(q: Result<web::Query<T>, actix_web::Error>) -> Result<T, ApiError> {
    q.map(web::Query::into_inner).map_err(|e| invalid_query(&e))
}

#[utoipa::path(get, path = "/admin/v1/users", tag = "admin",
    params(("search" = Option<String>, Query, description = "User-id or bucket prefix, or part of the subject"), ("after" = Option<String>, Query, description = "Previous page's next_after"), ("limit" = Option<u32>, Query, description = "1-500, default 50")),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn list_users(
    req: HttpRequest,
    q: Result<web::Query<ListQuery>, actix_web::Error>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let page = Page::of(q)?;
    let users = audited(
        &req,
        &state,
        "users.list",
        page.search.as_deref(),
        state.admin.list(page.search.clone(), page.after.clone(), page.limit),
    )
    .await?;
    let next_after = page.next_after(&users, |u| &u.user_id);
    Ok(HttpResponse::Ok().json(UserPage { users, next_after }))
}

#[utoipa::path(get, path = "/admin/v1/users/{user_id}", tag = "admin",
    params(UserIdPath),
    responses(
        (status = 200, description = "The user", body = crate::usecase::admin::UserView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn show_user(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let user = audited(&req, &state, "users.show", Some(&raw), async {
        state.admin.show(&admin::parse_user_id(&raw)?).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(post, path = "/admin/v1/users/{user_id}/disable", tag = "admin",
    params(UserIdPath),
    responses(
        (status = 200, description = "Disabled: vends answer 403 user_disabled", body = crate::usecase::admin::UserView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn disable_user(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    set_disabled(req, path, state, true).await
}

#[utoipa::path(post, path = "/admin/v1/users/{user_id}/enable", tag = "admin",
    params(UserIdPath),
    responses(
        (status = 200, description = "Enabled again", body = crate::usecase::admin::UserView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn enable_user(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    set_disabled(req, path, state, false).await
}

async fn set_disabled(
    req: HttpRequest,
    path: web::Path<String>,
    state: Ctx,
    disabled: bool,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let action = if disabled { "users.disable" } else { "users.enable" };
    let user = audited(&req, &state, action, Some(&raw), async {
        state.admin.set_disabled(&admin::parse_user_id(&raw)?, disabled).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[utoipa::path(post, path = "/admin/v1/users/{user_id}/revoke", tag = "admin",
    params(UserIdPath),
    responses(
        (status = 200, description = "Sessions issued until now are denied on the user's bucket (`revocation`: `in_effect`)", body = crate::usecase::admin::UserView),
        (status = 202, description = "The Deny is written but AWS has not applied it yet (`revocation`: `propagating`); it applies within moments", body = crate::usecase::admin::UserView),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn revoke_sessions(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let user = audited(&req, &state, "users.revoke", Some(&raw), async {
        Box::pin(state.admin.revoke(&admin::parse_user_id(&raw)?)).await
    })
    .await?;
    // Accepted, not done: AWS has not applied the Deny everywhere yet.
    if user.revocation == Some(Revocation::Propagating) {
        return Ok(HttpResponse::Accepted().json(user));
    }
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteQuery {
    #[serde(default)]
    pub(super) force: bool,
}

#[utoipa::path(delete, path = "/admin/v1/users/{user_id}", tag = "admin",
    params(UserIdPath, ("force" = Option<bool>, Query, description = "Empty a non-empty bucket first")),
    responses(
        (status = 200, description = "Bucket and mapping deleted", body = crate::usecase::admin::Deleted),
        (status = 409, description = "Bucket not empty (use force)", body = ErrorBody),
        (status = 502, description = "`delete_incomplete`: AWS refused to delete some objects (`details`: `objects_left`, `aws_error`); the user stays disabled and revoked, and deleting again resumes", body = ErrorBody),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_user(
    req: HttpRequest,
    path: web::Path<String>,
    q: Result<web::Query<DeleteQuery>, actix_web::Error>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let force = query(q)?.force;
    let raw = path.into_inner();
    let action = if force { "users.delete_forced" } else { "users.delete" };
    let deleted = audited(&req, &state, action, Some(&raw), async {
        Box::pin(state.admin.delete(&admin::parse_user_id(&raw)?, force)).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(deleted))
}

#[utoipa::path(get, path = "/admin/v1/access-keys/{access_key_id}", tag = "admin",
    params(("access_key_id" = String, Path, description = "An AccessKeyId seen in CloudTrail or S3 logs")),
    responses(
        (status = 200, description = "Every hand-out of the key", body = KeyLookup),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn access_key(req: HttpRequest, path: web::Path<String>, state: Ctx) -> Result<HttpResponse, ApiError> {
    let key = path.into_inner();
    if !(16..=128).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return Err(ApiError::InvalidAccessKeyId);
    }
    let vends = audited(&req, &state, "access_keys.lookup", Some(&key), async {
        state.admin.key_owner(&key).await
    })
    .await?;
    if vends.is_empty() {
        return Err(Failure::not_found(format!("{key} was never vended by this service")).into());
    }
    Ok(HttpResponse::Ok().json(KeyLookup {
        access_key_id: key,
        vends: vends.into_iter().map(KeyOwner::from).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    target: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin",
    params(("target" = Option<String>, Query, description = "Only actions on this user id or key"), ("limit" = Option<u32>, Query, description = "1-500, default 100")),
    responses(
        (status = 200, description = "Admin actions, newest first", body = AuditPage),
        AdminErrors,
    ),
    security(("bearer" = [])))]
pub async fn audit_log(
    req: HttpRequest,
    q: Result<web::Query<AuditQuery>, actix_web::Error>,
    state: Ctx,
) -> Result<HttpResponse, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let actions = audited(&req, &state, "audit.list", None, async {
        state.admin.audit_log(q.target, limit).await
    })
    .await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        actions: actions.into_iter().map(AdminAction::from).collect(),
    }))
}
