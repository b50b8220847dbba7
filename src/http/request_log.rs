//! One log line per request: request id, method, path, status, outcome code, user id
//! (never the token) and latency. The request id is taken from a well-formed `X-Request-Id`
//! or generated, and returned in the response.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use super::error::ErrorCode;
use crate::identity::UserId;
use crate::runtime::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| v.to_owned())
}

pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await?;

    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let status = res.status().as_u16();
    let user_id = res.request().extensions().get::<UserId>().map(ToString::to_string);
    let outcome = res.response().extensions().get::<ErrorCode>().map_or("ok", |c| c.0);
    let elapsed = started.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    if let Some(metrics) = res.request().app_data::<web::Data<Metrics>>() {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        metrics
            .request_seconds
            .with_label_values(&[route.as_str()])
            .observe(elapsed);
        // Vends answered with keys are counted by the use case, by access level.
        if matches!(route.as_str(), "/v1/credentials" | "/v1/credentials/container") && outcome != "ok" {
            metrics.vends.with_label_values(&[outcome, "-"]).inc();
        }
    }
    span.in_scope(|| {
        tracing::info!(
            %method,
            %path,
            status,
            %outcome,
            user_id = %user_id.as_deref().unwrap_or("-"),
            latency_ms,
            "request"
        );
    });
    Ok(res)
}
