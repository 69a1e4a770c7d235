//! `/api/v1/me`: the caller's account and device sessions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cairn_shared::api::RenameSessionRequest;
use cairn_shared::{ErrorCode, SessionId};

use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, accounts, activity as account_activity};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/me")
            .route(web::get().to(me))
            .route(web::delete().to(super::leaving::delete_account)),
    )
    .service(web::resource("/me/activity").route(web::get().to(activity)))
    .service(web::resource("/me/sessions").route(web::get().to(sessions)))
    .service(
        web::resource("/me/sessions/{id}")
            .route(web::delete().to(end_session))
            .route(web::patch().to(rename_session)),
    );
}

async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.user.to_account())
}

async fn sessions(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(accounts::sessions(&services, &caller).await?))
}

fn session_id(id: &str) -> Result<SessionId, AppError> {
    id.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::SessionNotFound,
            "no such device session",
        )
    })
}

async fn end_session(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    accounts::end_session(&services, &caller, session_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn rename_session(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<RenameSessionRequest>,
) -> Result<HttpResponse, AppError> {
    let id = session_id(&id)?;
    let renamed = accounts::rename_session(&services, &caller, id, &body.device_name).await?;
    Ok(HttpResponse::Ok().json(renamed))
}

#[derive(Debug, serde::Deserialize)]
struct LimitQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/me/activity?limit=`: what happened to my account, newest first.
async fn activity(
    services: web::Data<Services>,
    caller: Caller,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(account_activity::DEFAULT_LIMIT);
    if !(1..=account_activity::MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_request(format!(
            "limit must be between 1 and {}",
            account_activity::MAX_LIMIT
        )));
    }
    let entries = account_activity::my_activity(&services, &caller, limit)
        .await
        .map_err(|err| AppError::internal(&err))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(entries))
}
