//! Second factors: `/api/v1/me/second-factor*` (add, confirm, see, remove a TOTP app),
//! `/api/v1/auth/second-factor` (answer a login's challenge) and
//! `/api/v1/admin/accounts/{id}/second-factor/reset`.

use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::{SecondFactorCode, SecondFactorSignIn};

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, second_factor};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/me/second-factor").route(web::get().to(status)))
        .service(
            web::resource("/me/second-factor/totp")
                .route(web::post().to(start))
                .route(web::delete().to(remove)),
        )
        .service(web::resource("/me/second-factor/totp/confirm").route(web::post().to(confirm)))
        .service(web::resource("/auth/second-factor").route(web::post().to(sign_in)))
        .service(
            web::resource("/admin/accounts/{id}/second-factor/reset").route(web::post().to(reset)),
        );
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    response
}

async fn status(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    let status = second_factor::status(&services, &caller).await?;
    Ok(no_store(HttpResponse::Ok().json(status)))
}

async fn start(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    let enrolment = second_factor::start_totp(&services, &caller).await?;
    Ok(no_store(HttpResponse::Created().json(enrolment)))
}

async fn confirm(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<SecondFactorCode>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    second_factor::confirm_totp(&services, &caller, &body.code, address).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<SecondFactorCode>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    second_factor::remove_totp(&services, &caller, &body.code, address).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn sign_in(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<SecondFactorSignIn>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = second_factor::sign_in(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

async fn reset(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    second_factor::reset(&services, &caller, super::admin::account_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
