//! Request extractors: the authenticated caller, and the client's address.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use cairn_shared::ErrorCode;

use crate::config::Settings;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::Services;
use crate::services::accounts::authenticate;

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

/// The client's address: the socket peer, or, behind a trusted proxy, the right-most entry of
/// the one header that proxy sets (`client_address_header`). Only the right-most entry is the
/// proxy's own: a client can put anything before it. No other header is read (`Forwarded`
/// included), and a missing or unreadable value falls back to the peer, the proxy itself: every
/// client then shares one allowance, which is safe, not open.
pub fn client_address(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
    if settings.trust_proxy
        && let Some(ip) = proxy_reported_address(req, &settings.client_address_header)
    {
        return Some(ip);
    }
    req.peer_addr().map(|addr| addr.ip())
}

fn proxy_reported_address(req: &HttpRequest, header: &str) -> Option<IpAddr> {
    // Several lines of one header are one comma-separated list, in order (RFC 9110 5.3).
    let last_line = req.headers().get_all(header).last()?.to_str().ok()?;
    let entry = last_line.rsplit(',').next()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn address(trust_proxy: bool, headers: &[(&str, &str)]) -> Option<IpAddr> {
        let settings = Settings {
            trust_proxy,
            ..Settings::default()
        };
        let mut request = TestRequest::default().peer_addr("192.0.2.1:40000".parse().ok()?);
        for header in headers {
            request = request.append_header(*header);
        }
        client_address(&request.to_http_request(), &settings)
    }

    #[test]
    fn behind_a_trusted_proxy_only_its_right_most_entry_counts() {
        let peer = Some(IpAddr::from([192, 0, 2, 1]));
        let proxy_saw = Some(IpAddr::from([203, 0, 113, 9]));
        let forwarded = ("forwarded", "for=198.51.100.1");
        let chosen = ("x-forwarded-for", "198.51.100.2, 203.0.113.9");
        assert_eq!(address(true, &[forwarded, chosen]), proxy_saw);
        // A client's own header line first, the proxy's appended line last.
        assert_eq!(
            address(
                true,
                &[
                    ("x-forwarded-for", "198.51.100.3"),
                    ("x-forwarded-for", "203.0.113.9")
                ]
            ),
            proxy_saw
        );
        assert_eq!(
            address(true, &[("x-forwarded-for", "2001:db8::7")]),
            "2001:db8::7".parse().ok()
        );
        // `Forwarded` alone, or a value that is not an address: the proxy itself.
        assert_eq!(address(true, &[forwarded]), peer);
        assert_eq!(address(true, &[("x-forwarded-for", "unknown")]), peer);
        // Not behind a trusted proxy: the peer, whatever the headers say.
        assert_eq!(address(false, &[forwarded, chosen]), peer);
    }
}
