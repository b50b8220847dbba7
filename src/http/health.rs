//! `GET /healthz` (the process answers) and `GET /readyz` (the process can serve: issuer keys
//! loaded). The database's state is reported by `/readyz` but never fails it: every replica
//! shares the database, and a balancer that took them all out at once would turn away the
//! cached users each of them can still serve (see `store::DatabaseHealth`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::runtime::metrics::Metrics;
use crate::usecase::health::{Gauges, Health, Readiness};

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process answers")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Issuer keys loaded: `status` is `ready`, or `degraded` while the database does not answer (cached users are served; first logins and admin changes answer 503)"),
    (status = 503, description = "Not ready: the issuer's keys were never loaded (Retry-After)"),
))]
pub async fn readyz(health: web::Data<Health>) -> HttpResponse {
    let Readiness { database, jwks } = health.readiness();
    let (status, label) = match (jwks, database) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
        (true, true) => (StatusCode::OK, "ready"),
        (true, false) => (StatusCode::OK, "degraded"),
    };
    let mut resp = HttpResponse::build(status);
    if status != StatusCode::OK {
        resp.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
    }
    resp.json(json!({
        "status": label,
        "checks": {"database": database, "jwks": jwks},
    }))
}

/// `GET /metrics` on the metrics listener: Prometheus text format.
pub async fn metrics(gauges: web::Data<Gauges>, metrics: web::Data<Metrics>) -> HttpResponse {
    gauges.refresh().await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
