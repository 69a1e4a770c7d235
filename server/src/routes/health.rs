//! Liveness and readiness probes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cairn_shared::ErrorCode;
use cairn_shared::api::Health;

use crate::error::AppError;
use crate::services::Services;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// `GET /metrics`: Prometheus text format; counts only, never content.
pub async fn metrics(services: web::Data<Services>) -> Result<HttpResponse, AppError> {
    let not_fitting = services
        .store
        .count_plans_not_fitting()
        .await
        .map_err(|err| AppError::internal(&err))?;
    let open_conflicts = services
        .store
        .count_plans_with_open_conflicts()
        .await
        .map_err(|err| AppError::internal(&err))?;
    let body = services.metrics.render(
        not_fitting,
        open_conflicts,
        services.hub.open_connections(),
        services.hub.loaded_documents(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// `GET /readyz`: the database answers and every migration is applied.
pub async fn readyz(services: web::Data<Services>) -> Result<HttpResponse, AppError> {
    if services.store.is_ready().await {
        Ok(HttpResponse::Ok().json(Health {
            status: "ready".into(),
        }))
    } else {
        Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            "the database is unreachable or migrations are pending",
        ))
    }
}
