//! The admin console's routes beyond the first admin ones: `GET /api/v1/admin/accounts?q=`
//! (search, a page at a time), `GET /api/v1/admin/enrollment-codes`,
//! `DELETE /api/v1/admin/enrollment-codes/{id}` and `GET /api/v1/admin/health`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cairn_shared::ErrorCode;

use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, console};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/enrollment-codes/{id}")
            .route(web::delete().to(revoke_enrollment_code)),
    )
    .service(web::resource("/admin/health").route(web::get().to(health)));
}

/// `GET /api/v1/admin/accounts?q=&limit=&offset=`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct AccountQuery {
    q: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

impl AccountQuery {
    /// Whether any of the search's parameters was given (without them, every account, as
    /// before).
    pub(super) fn is_search(&self) -> bool {
        self.q.is_some() || self.limit.is_some() || self.offset.is_some()
    }
}

/// A page of the accounts whose username or name contains `q`, by username.
pub(super) async fn search_accounts(
    services: web::Data<Services>,
    caller: Caller,
    query: web::Query<AccountQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=console::MAX_ACCOUNTS_PAGE).contains(&limit) {
        return Err(AppError::bad_request(format!(
            "limit must be between 1 and {}",
            console::MAX_ACCOUNTS_PAGE
        )));
    }
    let offset = query.offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(AppError::bad_request("offset is too large"));
    }
    let accounts =
        console::search_accounts(&services, &caller, query.q.as_deref(), limit, offset).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(accounts))
}

/// `GET /api/v1/admin/enrollment-codes`: every code's label, uses, expiry and state.
pub(super) async fn enrollment_codes(
    services: web::Data<Services>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(console::enrollment_codes(&services, &caller).await?))
}

async fn revoke_enrollment_code(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::EnrollmentCodeNotFound,
            "no such enrollment code",
        )
    })?;
    console::revoke_enrollment_code(&services, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn health(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(console::health(&services, &caller).await?))
}
