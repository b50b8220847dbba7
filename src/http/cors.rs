//! CORS for browser apps: only the configured origins, only what the API needs.

use actix_cors::Cors;
use actix_web::http::{Method, header};

use super::REQUEST_ID;

/// Preflights from a configured origin are answered; any other origin gets no CORS headers,
/// so the browser keeps the response from the page. Requests without `Origin` (CLIs, SDKs)
/// are untouched.
pub fn cors(origins: &[String]) -> Cors {
    let cors = origins.iter().fold(Cors::default(), |c, o| c.allowed_origin(o));
    cors.allowed_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            header::HeaderName::from_static(super::credentials::QUOTA_WARNING),
        ])
        .max_age(600)
        .block_on_origin_mismatch(false)
}
