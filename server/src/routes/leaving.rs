//! `/api/v1/me/leaving` and `DELETE /api/v1/me`: a person deletes their own account.

use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::DeleteAccountRequest;

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, leaving};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/leaving").route(web::get().to(preview)));
}

async fn preview(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(leaving::preview(&services, &caller).await?))
}

/// `DELETE /api/v1/me` (routed with `GET /me` in `me`: one resource per path).
pub(super) async fn delete_account(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<DeleteAccountRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    leaving::delete_account(&services, &caller, body.into_inner(), address).await?;
    Ok(HttpResponse::NoContent().finish())
}
