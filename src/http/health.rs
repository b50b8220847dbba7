//! `GET /healthz` (the process answers) and `GET /readyz` (database open, JWKS loaded).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::Verifier;
use crate::identity::BucketName;
use crate::metrics::Metrics;
use crate::store::Store;

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process answers")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Database open and issuer keys loaded"),
    (status = 503, description = "Not ready (Retry-After)"),
))]
pub async fn readyz(store: web::Data<Store>, verifier: web::Data<Verifier>) -> HttpResponse {
    let database = store.ping().await.is_ok();
    let jwks = verifier.jwks().is_loaded();
    let status = if database && jwks {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut resp = HttpResponse::build(status);
    if status != StatusCode::OK {
        resp.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
    }
    resp.json(json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "checks": {"database": database, "jwks": jwks},
    }))
}

/// The shared bucket of prefix mode, if one is configured (for its policy's size).
pub struct SharedBucket(pub Option<BucketName>);

/// `GET /metrics` on the metrics listener: Prometheus text format.
pub async fn metrics(
    store: web::Data<Store>,
    metrics: web::Data<Metrics>,
    shared: web::Data<SharedBucket>,
) -> HttpResponse {
    if let Ok((ready, pending)) = store.count_users().await {
        metrics.users.set(ready + pending);
    }
    if let Some(bucket) = &shared.0
        && let Ok(Some(bytes)) = store.shared_policy_bytes(bucket).await
    {
        metrics.shared_policy_bytes.set(bytes);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
