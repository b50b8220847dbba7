//! `/admin/v1`: the operator's API. Off unless `admin.permission` is configured; callers need
//! a token (user or machine) carrying that permission. Every call is written to the admin
//! audit log before it runs, and its outcome after.

use std::sync::Arc;

use std::future::Future;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorBody, invalid_query};
use super::extract::bearer_token;
use crate::auth::{Caller, Verifier};
use crate::aws::Error as AwsError;
use crate::store::{AdminAction, KeyOwner, UserQuery};
use crate::usecase::admin::{self, Admin, AdminError, MAX_PAGE, UserView};

/// What every admin route needs: the use cases and the token verifier.
pub struct Ctx {
    admin: web::Data<Admin>,
    verifier: web::Data<Verifier>,
    proxies: web::Data<super::TrustedProxies>,
}

impl actix_web::FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let admin = req.app_data::<web::Data<Admin>>().cloned();
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let proxies = req.app_data::<web::Data<super::TrustedProxies>>().cloned();
        std::future::ready(match (admin, verifier, proxies) {
            (Some(admin), Some(verifier), Some(proxies)) => Ok(Self {
                admin,
                verifier,
                proxies,
            }),
            _ => Err(ApiError::internal("admin routes", &std::io::Error::other("not wired"))),
        })
    }
}

/// The error answers every admin route documents (`OpenAPI`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only read by the OpenAPI generator.
enum AdminErrors {
    #[response(status = 400, description = "Malformed parameter")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or invalid token")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "Token lacks the admin permission or a required claim")]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "Admin API not enabled, or no such user/key")]
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

/// An authenticated caller holding the admin permission.
pub struct AdminCaller {
    caller: Arc<Caller>,
    client_addr: Option<String>,
}

async fn authorize(req: &HttpRequest, state: &Ctx) -> Result<AdminCaller, ApiError> {
    let Some(permission) = state.admin.permission() else {
        return Err(ApiError::NotFound(
            "the admin API is not enabled (configure admin.permission)".to_owned(),
        ));
    };
    let caller = state.verifier.verify_any(bearer_token(req)?).await?;
    let admin = AdminCaller {
        caller,
        client_addr: state.proxies.client_of(req).map(|a| a.to_string()),
    };
    // `auth.required_claims` binds admins as it binds users: an admin of another Auth0
    // organisation holding the permission is no admin here.
    if let Some(claim) = &admin.caller.unmet_claim {
        // Refusals of authenticated callers are audited too.
        let id = record(state, &admin, "authorize", None).await?;
        finish(
            state,
            id,
            "refused",
            Some(format!("missing the required claim `{claim}`")),
        )
        .await;
        return Err(ApiError::Forbidden {
            code: "required_claim_missing",
            message: format!(
                "this service requires the token claim `{claim}` (with its configured value); it is missing or different"
            ),
        });
    }
    if !admin.caller.has_permission(permission) {
        let id = record(state, &admin, "authorize", None).await?;
        finish(state, id, "refused", Some("missing the admin permission".to_owned())).await;
        return Err(ApiError::InsufficientScope(format!(
            "the admin API needs `{permission}`"
        )));
    }
    Ok(admin)
}

async fn record(state: &Ctx, admin: &AdminCaller, action: &str, target: Option<&str>) -> Result<i64, ApiError> {
    state
        .admin
        .record(AdminAction {
            at: String::new(),
            actor: admin.caller.subject.clone(),
            actor_client: admin.caller.client_id.clone(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            outcome: "started".to_owned(),
            detail: None,
            client_addr: admin.client_addr.clone(),
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "admin audit write failed; action refused");
            ApiError::Unavailable("the audit log")
        })
}

async fn finish(state: &Ctx, id: i64, outcome: &str, detail: Option<String>) {
    if let Err(e) = state.admin.finish(id, outcome, detail).await {
        tracing::error!(error = %e, audit_id = id, "admin audit outcome not recorded");
    }
}

/// Runs one admin action between its two audit writes: nothing runs unaudited.
async fn audited<T, F>(
    req: &HttpRequest,
    state: &Ctx,
    action: &str,
    target: Option<&str>,
    run: F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<T, AdminError>>,
{
    let admin = authorize(req, state).await?;
    let id = record(state, &admin, action, target).await?;
    tracing::info!(actor = %admin.caller.subject, action, target, "admin action");
    match run.await {
        Ok(v) => {
            finish(state, id, "ok", None).await;
            Ok(v)
        }
        Err(e) => {
            let err = api_error(e);
            let failed = actix_web::ResponseError::status_code(&err).is_server_error();
            let outcome = if failed { "failed" } else { "refused" };
            finish(state, id, outcome, Some(err.code().to_owned())).await;
            Err(err)
        }
    }
}

fn api_error(e: AdminError) -> ApiError {
    match e {
        AdminError::NoSuchUser(id) => ApiError::NotFound(format!("no user {id}")),
        e @ AdminError::BadUserId(_) => ApiError::BadRequest {
            code: "invalid_user_id",
            message: e.to_string(),
        },
        e @ AdminError::BucketNotEmpty { .. } => ApiError::Conflict {
            code: "bucket_not_empty",
            message: e.to_string(),
        },
        AdminError::Aws(
            u @ (AwsError::Unavailable { .. }
            | AwsError::Denied { .. }
            | AwsError::Rejected { .. }
            | AwsError::Internal { .. }),
        ) => super::credentials::upstream_error("admin action", &u),
        e @ AdminError::Aws(AwsError::ExistingPolicy(_)) => ApiError::Conflict {
            code: "bucket_policy_unreadable",
            message: e.to_string(),
        },
        e @ AdminError::Aws(AwsError::PolicyFull { .. }) => ApiError::Conflict {
            code: "revocation_capacity_exhausted",
            message: format!("{e}; older revocations leave it as their sessions expire: disable the user meanwhile"),
        },
        AdminError::Aws(AwsError::NotEmptied { left, first }) => {
            tracing::error!(objects_left = left, aws_error = %first, "delete incomplete: S3 refused to delete objects; the user stays disabled and revoked");
            ApiError::DeleteIncomplete {
                objects_left: left,
                aws_error: first,
            }
        }
        // Logged where it happened (admin/shared.rs).
        AdminError::PolicyBusy => ApiError::Unavailable("the shared bucket's policy"),
        AdminError::Store(e) if e.is_unavailable() => super::credentials::store_unavailable("admin action", &e),
        e @ AdminError::Store(_) => ApiError::internal("admin action failed", &e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    search: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
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

fn query<T>(q: Result<web::Query<T>, actix_web::Error>) -> Result<T, ApiError> {
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
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let search = q.search.filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err(ApiError::BadRequest {
            code: "invalid_query",
            message: "search is longer than 1024 bytes".to_owned(),
        });
    }
    let target = search.clone();
    let users = audited(
        &req,
        &state,
        "users.list",
        target.as_deref(),
        state.admin.list(UserQuery {
            search,
            after: q.after,
            limit,
        }),
    )
    .await?;
    let next_after = (users.len() == limit as usize)
        .then(|| users.last().map(|u| u.user_id.clone()))
        .flatten();
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
    if user.revocation.as_deref() == Some("propagating") {
        return Ok(HttpResponse::Accepted().json(user));
    }
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteQuery {
    #[serde(default)]
    force: bool,
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
        return Err(ApiError::BadRequest {
            code: "invalid_access_key_id",
            message: "an access key id is 16-128 characters A-Z and 0-9".to_owned(),
        });
    }
    let vends = audited(&req, &state, "access_keys.lookup", Some(&key), async {
        state.admin.key_owner(&key).await
    })
    .await?;
    if vends.is_empty() {
        return Err(ApiError::NotFound(format!("{key} was never vended by this service")));
    }
    Ok(HttpResponse::Ok().json(KeyLookup {
        access_key_id: key,
        vends,
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
    Ok(HttpResponse::Ok().json(AuditPage { actions }))
}
