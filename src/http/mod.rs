//! Routes. One file per resource: each parses the request, calls a use case and formats its
//! answer; `ApiError` (a use case's `Failure`, or a request that could not be read) is the only
//! error type that leaves a handler.

mod admin;
mod admin_orgs;
mod admin_quota;
mod admin_usage;
mod admin_views;
mod client_addr;
mod cors;
mod credentials;
mod error;
mod extract;
mod header_limit;
mod health;
mod me;
mod openapi;
mod presign;
mod request_log;

use actix_web::web;

pub use admin::UserPage;
pub use admin_orgs::OrgPage;
pub use admin_usage::{Reconciliation, UsagePage};
pub use client_addr::TrustedProxies;
pub use cors::cors;
pub use credentials::{ContainerCredentials, CredentialsResponse};
pub use error::ApiError;
pub use extract::{Authenticated, bearer_token};
pub use openapi::ApiDoc;
pub use presign::{PresignPostResponse, PresignResponse};
pub use request_log::{REQUEST_ID, RequestId};

/// The largest request body a route reads (`server.max_body_bytes`).
pub struct MaxBody(pub usize);

/// The S3 endpoint clients are told to use, when one is configured (`aws.endpoint_url`).
pub struct Endpoint(pub Option<String>);

async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NoRoute)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/credentials")
            .route(web::post().to(credentials::vend))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/credentials/container")
            .route(web::get().to(credentials::container))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/presign")
            .route(web::post().to(presign::presign))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/presign/post")
            .route(web::post().to(presign::presign_post))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/me")
            .route(web::get().to(me::me))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::scope("/admin/v1")
            .service(
                web::resource("/users")
                    .route(web::get().to(admin::list_users))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}")
                    .route(web::get().to(admin::show_user))
                    .route(web::delete().to(admin::delete_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}/disable")
                    .route(web::post().to(admin::disable_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}/enable")
                    .route(web::post().to(admin::enable_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}/revoke")
                    .route(web::post().to(admin::revoke_sessions))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}/quota")
                    .route(web::put().to(admin_quota::put_user_quota))
                    .route(web::delete().to(admin_quota::delete_user_quota))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/quota")
                    .route(web::put().to(admin_quota::put_org_quota))
                    .route(web::delete().to(admin_quota::delete_org_quota))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs")
                    .route(web::get().to(admin_orgs::list_orgs))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}")
                    .route(web::get().to(admin_orgs::show_org))
                    .route(web::delete().to(admin_orgs::delete_org))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/disable")
                    .route(web::post().to(admin_orgs::disable_org))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/enable")
                    .route(web::post().to(admin_orgs::enable_org))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/revoke")
                    .route(web::post().to(admin_orgs::revoke_org))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/members/{user_id}/revoke")
                    .route(web::post().to(admin_orgs::revoke_member))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/users/{user_id}/usage/reconcile")
                    .route(web::post().to(admin_usage::reconcile_user))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/orgs/{org_id}/usage/reconcile")
                    .route(web::post().to(admin_usage::reconcile_org))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/usage")
                    .route(web::get().to(admin_usage::usage))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/access-keys/{access_key_id}")
                    .route(web::get().to(admin::access_key))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/audit")
                    .route(web::get().to(admin::audit_log))
                    .default_service(web::to(method_not_allowed)),
            ),
    )
    .service(web::resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)));
}

pub fn default_service() -> actix_web::Route {
    web::to(not_found)
}

pub use header_limit::limit_headers;
pub use health::metrics;
pub use request_log::request_log;
