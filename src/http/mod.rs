//! Routes. One file per resource; `ApiError` is the only error type that leaves a handler.

mod cors;
mod credentials;
mod error;
mod extract;
mod header_limit;
mod health;
mod me;
mod request_log;

use actix_web::web;

pub use cors::cors;
pub use credentials::{ContainerCredentials, CredentialsResponse};
pub use error::ApiError;
pub use extract::Authenticated;
pub use request_log::{REQUEST_ID, RequestId};

async fn method_not_allowed() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".to_owned()))
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
        web::resource("/v1/me")
            .route(web::get().to(me::me))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)));
}

pub fn default_service() -> actix_web::Route {
    web::to(not_found)
}

pub use header_limit::limit_headers;
pub use health::metrics;
pub use request_log::request_log;
