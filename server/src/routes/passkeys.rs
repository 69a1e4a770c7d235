//! Passkeys: `/api/v1/me/passkeys*` (the caller's own) and `/api/v1/auth/passkey/*` (sign-in).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::ErrorCode;
use cairn_shared::api::{PasskeySignInFinish, PasskeySignInStart, RegisterPasskeyRequest};

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, passkeys};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/me/passkeys/registration").route(web::post().to(start_registration)),
    )
    .service(web::resource("/me/passkeys/confirmation").route(web::post().to(start_confirmation)))
    .service(
        web::resource("/me/passkeys")
            .route(web::get().to(list))
            .route(web::post().to(finish_registration)),
    )
    .service(web::resource("/me/passkeys/{id}").route(web::delete().to(remove)))
    .service(web::resource("/auth/passkey/start").route(web::post().to(start_sign_in)))
    .service(web::resource("/auth/passkey/finish").route(web::post().to(finish_sign_in)));
}

async fn start_registration(
    services: web::Data<Services>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let challenge = passkeys::start_registration(&services, &caller).await?;
    Ok(HttpResponse::Ok().json(challenge))
}

async fn start_confirmation(
    services: web::Data<Services>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    let challenge = passkeys::start_confirmation(&services, &caller).await?;
    Ok(HttpResponse::Ok().json(challenge))
}

async fn finish_registration(
    services: web::Data<Services>,
    caller: Caller,
    body: web::Json<RegisterPasskeyRequest>,
) -> Result<HttpResponse, AppError> {
    let passkey = passkeys::finish_registration(&services, &caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(passkey))
}

async fn list(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(passkeys::list(&services, &caller).await?))
}

async fn remove(
    services: web::Data<Services>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PasskeyNotFound,
            "no such passkey",
        )
    })?;
    passkeys::remove(&services, &caller, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn start_sign_in(
    services: web::Data<Services>,
    body: web::Json<PasskeySignInStart>,
) -> Result<HttpResponse, AppError> {
    let challenge = passkeys::start_sign_in(&services, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(challenge))
}

async fn finish_sign_in(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<PasskeySignInFinish>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = passkeys::finish_sign_in(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(tokens))
}
