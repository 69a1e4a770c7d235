//! Request extractors: the authenticated caller, and the client's address.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use cairn_shared::ErrorCode;

use crate::error::AppError;
use crate::services::accounts::authenticate;
use crate::services::{Caller, Services};

/// The bearer token of a request, if it sent one.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let services = req.app_data::<web::Data<Services>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let services = services.ok_or_else(|| {
                AppError::internal(&std::io::Error::other("services missing from app data"))
            })?;
            let token = token.ok_or_else(|| {
                AppError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    "send an access token as 'Authorization: Bearer <token>'",
                )
            })?;
            let caller = authenticate(&services, &token).await?;
            tracing::Span::current().record("user.id", tracing::field::display(caller.user.id));
            Ok(caller)
        })
    }
}

/// The client's address: the socket peer, or the proxy-reported one when configured to trust it.
pub fn client_address(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let info = req.connection_info();
        if let Some(ip) = info.realip_remote_addr().and_then(|addr| {
            addr.parse::<std::net::SocketAddr>()
                .map(|s| s.ip())
                .ok()
                .or_else(|| addr.parse().ok())
        }) {
            return Some(ip);
        }
    }
    req.peer_addr().map(|addr| addr.ip())
}
