//! `/api/v1/plans/{id}/versions*`: named versions of a plan.

use actix_web::{HttpResponse, web};
use cairn_shared::api::{Heads, NameVersionRequest};

use super::plans::plan_id;
use crate::domain::Caller;
use crate::error::AppError;
use crate::services::{Services, versions};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/plans/{plan}/versions")
            .route(web::post().to(name))
            .route(web::get().to(list)),
    )
    .service(web::resource("/plans/{plan}/versions/{version}").route(web::get().to(open)))
    .service(
        web::resource("/plans/{plan}/versions/{version}/acknowledge")
            .route(web::post().to(acknowledge)),
    )
    .service(
        web::resource("/plans/{plan}/versions/{version}/restore").route(web::post().to(restore)),
    );
}

/// The plan and version ids from the path.
fn ids(path: &(String, String)) -> Result<(cairn_shared::PlanId, uuid::Uuid), AppError> {
    Ok((plan_id(&path.0)?, versions::version_id(&path.1)?))
}

async fn name(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NameVersionRequest>,
) -> Result<HttpResponse, AppError> {
    let version = versions::name_version(&services, &caller, plan_id(&path)?, &body.name).await?;
    Ok(HttpResponse::Created().json(version))
}

async fn list(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let list = versions::list_versions(&services, &caller, plan_id(&path)?).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(list))
}

async fn open(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (plan, version) = ids(&path)?;
    let view = versions::open_version(&services, &caller, plan, version).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(view))
}

async fn acknowledge(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (plan, version) = ids(&path)?;
    let acknowledged = versions::acknowledge(&services, &caller, plan, version).await?;
    Ok(HttpResponse::Ok().json(acknowledged))
}

async fn restore(
    services: web::Data<Services>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (plan, version) = ids(&path)?;
    let heads = versions::restore(&services, &caller, plan, version).await?;
    Ok(HttpResponse::Ok().json(Heads { heads }))
}
