//! Password change, recovery codes and admin-issued reset codes: `/api/v1/me/password`,
//! `/api/v1/me/recovery-codes`, `/api/v1/auth/recover`, `/api/v1/auth/reset` and
//! `/api/v1/admin/accounts/{id}/reset-code`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::{
    ChangePasswordRequest, NewRecoveryCodesRequest, RecoveryCodes, RedeemCodeRequest,
};
use cairn_shared::{ErrorCode, UserId};

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, credentials};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/password").route(web::post().to(change_password)))
        .service(
            web::resource("/me/recovery-codes")
                .route(web::get().to(recovery_code_status))
                .route(web::post().to(renew_recovery_codes)),
        )
        .service(web::resource("/auth/recover").route(web::post().to(recover)))
        .service(web::resource("/auth/reset").route(web::post().to(reset)))
        .service(
            web::resource("/admin/accounts/{id}/reset-code").route(web::post().to(reset_code)),
        );
}

async fn change_password(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    credentials::change_password(&services, &caller, body.into_inner(), address).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn recovery_code_status(
    services: web::Data<Services>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(credentials::recovery_code_status(&services, &caller).await?))
}

async fn renew_recovery_codes(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<NewRecoveryCodesRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let codes =
        credentials::renew_recovery_codes(&services, &caller, body.into_inner(), address).await?;
    Ok(HttpResponse::Created().json(RecoveryCodes { codes }))
}

async fn recover(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<RedeemCodeRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = credentials::recover(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

async fn reset(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<RedeemCodeRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = credentials::reset(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

async fn reset_code(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let account: UserId = id.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::AccountNotFound,
            "no such account",
        )
    })?;
    let code = credentials::issue_reset_code(&services, &caller, account).await?;
    Ok(HttpResponse::Created().json(code))
}
