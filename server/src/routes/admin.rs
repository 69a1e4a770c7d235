//! `/api/v1/admin/*`: account management for admin accounts. No route here returns plan content.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cairn_shared::api::{CreateAccountRequest, CreateEnrollmentCodeRequest};
use cairn_shared::{ErrorCode, UserId};

use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, activity, admin};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/accounts")
            .route(web::get().to(list_accounts))
            .route(web::post().to(create_account)),
    )
    .service(web::resource("/admin/accounts/{id}/disable").route(web::post().to(disable)))
    .service(web::resource("/admin/accounts/{id}/enable").route(web::post().to(enable)))
    .service(
        web::resource("/admin/enrollment-codes")
            .route(web::post().to(create_enrollment_code))
            .route(web::get().to(super::console::enrollment_codes)),
    )
    .service(web::resource("/admin/counts").route(web::get().to(counts)))
    .service(web::resource("/admin/audit").route(web::get().to(audit)));
}

pub(super) fn account_id(raw: &str) -> Result<UserId, AppError> {
    raw.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::AccountNotFound,
            "no such account",
        )
    })
}

async fn list_accounts(
    services: web::Data<Services>,
    caller: Caller,
    query: web::Query<super::console::AccountQuery>,
) -> Result<HttpResponse, AppError> {
    if query.is_search() {
        return super::console::search_accounts(services, caller, query).await;
    }
    Ok(HttpResponse::Ok().json(admin::list_accounts(&services, &caller).await?))
}

async fn create_account(
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<CreateAccountRequest>,
) -> Result<HttpResponse, AppError> {
    let account = admin::create(&services, &caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(account))
}

async fn disable(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(admin::set_disabled(&services, &caller, account_id(&id)?, true).await?))
}

async fn enable(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .json(admin::set_disabled(&services, &caller, account_id(&id)?, false).await?))
}

async fn create_enrollment_code(
    services: web::Data<Services>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let request: CreateEnrollmentCodeRequest = super::optional_json(&body)?;
    let code = admin::create_enrollment_code(
        &services,
        &caller,
        request.max_uses,
        request.expires_in_hours,
        request.label,
    )
    .await?;
    Ok(HttpResponse::Created().json(code))
}

async fn counts(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(admin::counts(&services, &caller).await?))
}

#[derive(Debug, serde::Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

/// `GET /api/v1/admin/audit?before=&limit=`: every admin act, newest first, a page at a time.
async fn audit(
    services: web::Data<Services>,
    caller: Caller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(activity::DEFAULT_LIMIT);
    if !(1..=activity::MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_request(format!(
            "limit must be between 1 and {}",
            activity::MAX_LIMIT
        )));
    }
    let page = admin::audit(&services, &caller, query.before, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(page))
}
