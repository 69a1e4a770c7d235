//! `/api/v1/auth/oidc*`: staff sign-in with the agency's identity provider. The browser goes to
//! `start` (a redirect to the provider), comes back to `callback` (a redirect to the PWA with a
//! handoff code in the fragment, or the error's code), and the PWA trades the code at `exchange`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::OidcExchangeRequest;

use super::extract::client_address;
use crate::error::AppError;
use crate::services::Services;
use crate::services::oidc::{self, BROWSER_COOKIE, Callback};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/oidc").route(web::get().to(sign_in_option)))
        .service(web::resource("/auth/oidc/start").route(web::get().to(start)))
        .service(web::resource("/auth/oidc/callback").route(web::get().to(callback)))
        .service(web::resource("/auth/oidc/exchange").route(web::post().to(exchange)));
}

async fn sign_in_option(services: web::Data<Services>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(oidc::sign_in_option(&services)?))
}

/// The browser-binding cookie: only for the callback's path, never readable by scripts, sent
/// on the provider's top-level redirect back (`SameSite=Lax`).
fn cookie(services: &Services, value: &str, max_age: u32) -> String {
    let secure = services
        .oidc
        .as_ref()
        .is_some_and(|p| p.origin().starts_with("https://"));
    format!(
        "{BROWSER_COOKIE}={value}; Path=/api/v1/auth/oidc; Max-Age={max_age}; HttpOnly; \
         SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn start(req: HttpRequest, services: web::Data<Services>) -> Result<HttpResponse, AppError> {
    let started = oidc::start(&services, client_address(&req, &services.settings)).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, started.authorize_url))
        .insert_header((
            header::SET_COOKIE,
            cookie(&services, &started.browser_cookie, 600),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

fn browser_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.to_owned())
}

async fn callback(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<Callback>,
) -> Result<HttpResponse, AppError> {
    let Some(provider) = services.oidc.as_ref() else {
        return Err(oidc::OidcError::NotConfigured.into());
    };
    let origin = provider.origin().to_owned();
    let cookie_value = browser_cookie(&req);
    // The PWA reads the fragment (never sent to a server, nor in a Referer) and trades the
    // code at `exchange`; a refusal's stable code tells it what to say.
    let location = match oidc::finish(&services, query.into_inner(), cookie_value.as_deref()).await
    {
        Ok(handoff) => format!("{origin}/#oidc={handoff}"),
        Err(err) => {
            let err = AppError::from(err);
            let code = serde_json::to_value(err.code())
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "internal".into());
            format!("{origin}/#oidc-error={code}")
        }
    };
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::SET_COOKIE, cookie(&services, "", 0)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

async fn exchange(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<OidcExchangeRequest>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let answer = oidc::exchange(&services, body.into_inner(), address).await?;
    Ok(HttpResponse::Ok().json(answer))
}
