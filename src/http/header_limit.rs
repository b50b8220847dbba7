//! Refuses requests whose headers are larger than any legitimate client sends, with the JSON
//! envelope, before they reach a handler. (Beyond actix's own parser limit of 128 KiB the
//! connection is refused by the HTTP layer itself.)

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use super::error::ApiError;

/// Total header bytes accepted. Auth0 access tokens are 1-2 KiB; the API uses no cookies.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if size > MAX_HEADER_BYTES {
        let (req, _) = req.into_parts();
        return Ok(ServiceResponse::new(req, ApiError::HeadersTooLarge.error_response()).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
