//! `/api/v1/auth/*`: register, login, refresh, logout.

use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::{LoginRequest, RefreshRequest, RegisterRequest};

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, accounts};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").route(web::post().to(register)))
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)));
}

async fn register(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = accounts::register(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Created().json(tokens))
}

async fn login(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let tokens = accounts::login(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

async fn refresh(
    services: web::Data<Services>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let tokens = accounts::refresh(&services, &body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

async fn logout(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    accounts::logout(&services, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}
