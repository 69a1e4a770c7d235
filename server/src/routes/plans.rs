//! `/api/v1/plans/*` and `/api/v1/invitations/*`: plans, members and invitations.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use cairn_shared::api::CreatePlanRequest;
use cairn_shared::{ErrorCode, PlanId, UserId};

use crate::error::AppError;
use crate::services::{Caller, Services, plans};

pub fn configure(cfg: &mut web::ServiceConfig) {
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
    .service(web::resource("/invitations/{code}/accept").route(web::post().to(accept)));
}

/// A plan id from the path; anything unreadable is "not found", like a plan one cannot see.
fn plan_id(raw: &str) -> Result<PlanId, AppError> {
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
    services: web::Data<Services>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let plan = plans::accept_invitation(&services, &caller, &code).await?;
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
