//! The HTTP shell: routes turn requests into service calls and service errors into JSON error
//! answers. Nothing here decides who may do what; the services do.

mod admin;
mod auth;
mod console;
mod credentials;
mod extract;
mod health;
mod leaving;
mod me;
mod oidc;
mod passkeys;
mod plans;
mod second_factor;
mod sync;
mod versions;
pub mod web_app;

use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, web};
use cairn_shared::ErrorCode;

use crate::error::AppError;

pub use extract::client_address;

/// Register every route, and the JSON error answers for unreadable input.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    max_json_body_bytes: usize,
    max_upload_bytes: usize,
    web_dir: &std::path::Path,
) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_json_body_bytes)
            .error_handler(|err, _req| {
                use actix_web::error::JsonPayloadError as J;
                let app_error = match &err {
                    J::OverflowKnownLength { .. } | J::Overflow { .. } => AppError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::PayloadTooLarge,
                        "the request body is too large",
                    ),
                    J::ContentType => AppError::bad_request(
                        "the request body must be JSON (Content-Type: application/json)",
                    ),
                    J::Deserialize(inner) => {
                        AppError::bad_request(format!("the JSON body is not valid: {inner}"))
                    }
                    _ => AppError::bad_request("the request body could not be read"),
                };
                app_error.into()
            }),
    )
    // Raw bodies (the JSON bodies that may be left out) have the same limit as JSON ones; the
    // HTTP sync upload sets its own.
    .app_data(web::PayloadConfig::new(max_json_body_bytes))
    .app_data(web::PathConfig::default().error_handler(|_, _| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such resource",
        )
        .into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        AppError::bad_request(format!("the query string is not valid: {err}")).into()
    }))
    .configure(sync::configure)
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .service(web::resource("/metrics").route(web::get().to(health::metrics)))
    .service(
        web::scope("/api/v1")
            .configure(auth::configure)
            .configure(me::configure)
            .configure(leaving::configure)
            .configure(|cfg| plans::configure(cfg, max_upload_bytes))
            .configure(admin::configure)
            .configure(credentials::configure)
            .configure(passkeys::configure)
            .configure(second_factor::configure)
            .configure(console::configure)
            .configure(oidc::configure)
            .configure(versions::configure),
    )
    .configure(|cfg| web_app::configure(cfg, web_dir));
}

/// A JSON body that may be left out entirely (then the defaults apply), but if sent must be valid.
fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|err| AppError::bad_request(format!("the JSON body is not valid: {err}")))
}

/// The answer for a path no route matches.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such route",
    ))
}

/// Turns actix's empty 405 answers into Cairn's JSON error shape.
pub fn json_error_pages<B: 'static>() -> ErrorHandlers<B> {
    fn replace<B>(
        res: ServiceResponse<B>,
        error: AppError,
    ) -> actix_web::Result<ErrorHandlerResponse<B>> {
        let (req, _) = res.into_parts();
        let answer: HttpResponse = actix_web::ResponseError::error_response(&error);
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, answer).map_into_right_body(),
        ))
    }
    ErrorHandlers::new()
        .handler(StatusCode::METHOD_NOT_ALLOWED, |res: ServiceResponse<B>| {
            replace(
                res,
                AppError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    ErrorCode::MethodNotAllowed,
                    "this route does not accept that method",
                ),
            )
        })
        .handler(StatusCode::PAYLOAD_TOO_LARGE, |res: ServiceResponse<B>| {
            // Raw bodies (HTTP sync uploads) hit actix's payload limit, which answers in plain text.
            if res
                .response()
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
            {
                return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
            }
            replace(
                res,
                AppError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "the request body is too large",
                ),
            )
        })
}
