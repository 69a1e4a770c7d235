//! `GET /sync`: the automerge-repo WebSocket's handshake. Authenticates before the upgrade (a bad
//! token gets 401 and no socket) and holds each account to its number of open connections; the
//! accepted socket then runs in [`crate::transport`], which hands its messages to the sync hub.

use actix_http::ws;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::ErrorCode;
use serde::Deserialize;

use crate::error::AppError;
use crate::services::{Services, accounts};
use crate::transport::UpgradedSocket;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sync").route(web::get().to(upgrade)));
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn upgrade(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let header_token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = header_token.or_else(|| query.into_inner().token) else {
        tracing::info!("sync refused: no token");
        return Err(AppError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "send an access token as ?token= or 'Authorization: Bearer'",
        ));
    };
    let caller = match accounts::authenticate(&services, &token).await {
        Ok(caller) => caller,
        Err(err) => {
            tracing::info!("sync refused: invalid token");
            return Err(err.into());
        }
    };
    let limit = services.settings.max_connections_per_account;
    if services.hub.connections_of(caller.user.id) >= limit {
        tracing::info!(user.id = %caller.user.id, "sync refused: too many open connections");
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("this account already has {limit} open sync connections; close one first"),
        ));
    }
    let mut response = ws::handshake(req.head())
        .map_err(|err| AppError::bad_request(format!("not a WebSocket upgrade: {err}")))?;
    let socket = UpgradedSocket::accept(&services.hub, services.settings.clone(), caller);
    let mut response = HttpResponse::from(response.finish()).map_into_boxed_body();
    // The server hands the upgraded stream to the socket (see `UpgradedSocket`).
    response.extensions_mut().insert(socket);
    Ok(response)
}
