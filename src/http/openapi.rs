//! `GET /openapi.json`: the public and admin API, generated from the handlers' annotations and
//! the response types themselves (utoipa). A test checks it against the real routes.

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stsvend",
        description = "Vends short-lived AWS keys scoped to each user's own S3 bucket, for an Auth0 access token."
    ),
    paths(
        super::credentials::vend,
        super::credentials::container,
        super::presign::presign,
        super::presign::presign_post,
        super::me::me,
        super::health::healthz,
        super::health::readyz,
        super::admin::list_users,
        super::admin::show_user,
        super::admin::disable_user,
        super::admin::enable_user,
        super::admin::revoke_sessions,
        super::admin::delete_user,
        super::admin_orgs::list_orgs,
        super::admin_orgs::show_org,
        super::admin_orgs::disable_org,
        super::admin_orgs::enable_org,
        super::admin_orgs::revoke_org,
        super::admin_orgs::revoke_member,
        super::admin_orgs::delete_org,
        super::admin_quota::put_user_quota,
        super::admin_quota::delete_user_quota,
        super::admin_quota::put_org_quota,
        super::admin_quota::delete_org_quota,
        super::admin_usage::reconcile_user,
        super::admin_usage::reconcile_org,
        super::admin_usage::usage,
        super::admin::access_key,
        super::admin::audit_log,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "credentials", description = "For users' apps and SDKs"),
        (name = "admin", description = "For operators; needs the configured admin permission"),
        (name = "health", description = "For load balancers and orchestrators"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT (Auth0 access token)".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
