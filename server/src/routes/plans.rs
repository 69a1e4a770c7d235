//! `/api/v1/plans/*` and `/api/v1/invitations/*`: plans, members and invitations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use cairn_shared::api::CreatePlanRequest;
use cairn_shared::{ErrorCode, PlanId, UserId};

use super::extract::client_address;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, access_log, conflicts, export, history, http_sync, plans};

/// `max_upload`: the largest HTTP sync upload, in bytes (the same limit as a WebSocket message).
pub fn configure(cfg: &mut web::ServiceConfig, max_upload: usize) {
    cfg.service(
        web::resource("/plans")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/plans/{plan}")
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/plans/{plan}/invitations").route(web::post().to(invite)))
    .service(web::resource("/plans/{plan}/members").route(web::get().to(members)))
    .service(web::resource("/plans/{plan}/members/{user}").route(web::delete().to(remove_member)))
    .service(web::resource("/plans/{plan}/history").route(web::get().to(history)))
    .service(web::resource("/plans/{plan}/conflicts").route(web::get().to(conflicts)))
    .service(web::resource("/plans/{plan}/history/sessions").route(web::get().to(sessions)))
    .service(web::resource("/plans/{plan}/export").route(web::get().to(export)))
    .service(web::resource("/plans/{plan}/access-log").route(web::get().to(read_access_log)))
    .service(
        web::resource("/plans/{plan}/changes")
            .app_data(web::PayloadConfig::new(max_upload))
            .route(web::get().to(changes_since))
            .route(web::post().to(upload_changes)),
    )
    .service(web::resource("/invitations/{code}/accept").route(web::post().to(accept)));
}

/// A plan id from the path; anything unreadable is "not found", like a plan one cannot see.
pub(super) fn plan_id(raw: &str) -> Result<PlanId, AppError> {
    raw.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::PlanNotFound,
            "plan not found",
        )
    })
}

async fn create(
    services: web::Data<Services>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let request: CreatePlanRequest = super::optional_json(&body)?;
    let plan = plans::create_plan(&services, &caller, request.title.as_deref()).await?;
    Ok(HttpResponse::Created().json(plan))
}

async fn list(services: web::Data<Services>, caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(plans::list_plans(&services, &caller).await?))
}

async fn get(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let plan = plans::get_plan(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(plan))
}

async fn delete(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    plans::delete_plan(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn invite(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let invitation = plans::invite(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Created().json(invitation))
}

async fn accept(
    req: HttpRequest,
    services: web::Data<Services>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let address = client_address(&req, &services.settings);
    let plan = plans::accept_invitation(&services, &caller, &code, address).await?;
    Ok(HttpResponse::Ok().json(plan))
}

async fn members(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(plans::members(&services, &caller, plan_id(&path)?).await?))
}

async fn remove_member(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (plan, user) = path.into_inner();
    let plan = plan_id(&plan)?;
    let user: UserId = user.parse().map_err(|_| {
        AppError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::MemberNotFound,
            "that person is not a member of this plan",
        )
    })?;
    plans::remove_member(&services, &caller, plan, user).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn history(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entries = history::history(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(entries))
}

async fn sessions(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let sessions = history::sessions(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(sessions))
}

async fn conflicts(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let open = conflicts::conflicts(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(open))
}

#[derive(Debug, serde::Deserialize)]
struct LimitQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/plans/{id}/access-log?limit=`: who accessed the plan, newest first.
async fn read_access_log(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = query.limit.unwrap_or(access_log::DEFAULT_LIMIT);
    if !(1..=access_log::MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_request(format!(
            "limit must be between 1 and {}",
            access_log::MAX_LIMIT
        )));
    }
    let entries = access_log::access_log(&services, &caller, plan_id(&path)?, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(entries))
}

#[derive(Debug, serde::Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

fn hex_heads(heads: &[automerge::ChangeHash]) -> Vec<String> {
    heads.iter().map(ToString::to_string).collect()
}

/// `GET /api/v1/plans/{id}/changes?since=<hex heads>`: the changes the caller lacks, as
/// concatenated Automerge change bytes, with the plan's heads in `X-Automerge-Heads`.
async fn changes_since(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<SinceQuery>,
) -> Result<HttpResponse, AppError> {
    let plan = plan_id(&path)?;
    let since = query.since.as_deref().unwrap_or_default();
    let (changes, heads) = http_sync::changes_since(&services, &caller, plan, since).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("X-Automerge-Heads", hex_heads(&heads).join(",")))
        .insert_header(("Cache-Control", "no-store"))
        .body(changes))
}

/// `POST /api/v1/plans/{id}/changes` with concatenated Automerge changes: stored, sent to
/// everyone syncing the plan, and answered with the plan's new heads.
async fn upload_changes(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let plan = plan_id(&path)?;
    let heads = http_sync::upload(&services, &caller, plan, body.to_vec()).await?;
    Ok(HttpResponse::Ok().json(cairn_shared::api::Heads {
        heads: hex_heads(&heads),
    }))
}

#[derive(Debug, serde::Deserialize)]
struct ExportQuery {
    format: Option<String>,
    /// A named version to export instead of the plan as it is now.
    version: Option<String>,
}

/// `GET /api/v1/plans/{id}/export?format=json|markdown|fhir&version=`: the plan (or a named
/// version of it) as a download.
async fn export(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, AppError> {
    let plan = plan_id(&path)?;
    let format: export::ExportFormat = query
        .format
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|err: export::UnknownFormat| AppError::bad_request(err.to_string()))?;
    let version = match query.version.as_deref() {
        Some(raw) => Some(crate::services::versions::version_id(raw)?),
        None => None,
    };
    let export = export::export_plan(&services, &caller, plan, format, version).await?;
    Ok(HttpResponse::Ok()
        .content_type(export.content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", export.file_name),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(export.body))
}
