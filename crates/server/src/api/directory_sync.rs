//! `/api/v1/directories/{id}/sync`, `/api/v1/sync/schedule` and `/api/v1/sync/run`: importing a
//! directory through its connection now, and the import and match cycle.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;

use super::connections::directory_id;
use super::json_body;
use crate::auth::{Access, Area, Caller};
use crate::directory::connection;
use crate::directory::schedule::{self, CycleOutcome};
use crate::directory::{ImportMode, ImportSummary};
use crate::store::schedule::SyncSchedule;
use crate::{App, Result};

/// The body of `POST /directories/{id}/sync`.
#[derive(Debug, Deserialize)]
pub struct SyncBody {
    /// `full` or `incremental`.
    pub mode: ImportMode,
}

/// `POST /directories/{id}/sync`: imports the directory through its connection now.
#[utoipa::path(
    post,
    path = "/directories/{id}/sync",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_OPERATE,
    params(("id" = String, Path, description = "The directory's id.")),
    request_body = crate::api::openapi::schemas::SyncRequest,
    responses(
        (status = 200, description = "What the import changed.", body = crate::api::openapi::schemas::ImportSummary),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "The directory (LDAP or Microsoft Graph) failed or refused; the message names it and `fields` the setting to check.", body = crate::error::ErrorBody)
    )
)]
pub async fn sync_directory(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ImportSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let id = directory_id(&app, &id).await?;
    let body: SyncBody = json_body(&body)?;
    let source = connection::source_for(&app, id).await?;
    Ok(Json(
        crate::directory::import_with(&app, id, source.as_ref(), body.mode).await?,
    ))
}

/// The body of `PUT /sync/schedule`.
#[derive(Debug, Deserialize)]
pub struct ScheduleBody {
    /// On or off.
    pub enabled: bool,
    /// Minutes between cycles, 5 to 10,080.
    pub interval_minutes: i64,
}

/// `GET /sync/schedule`.
#[utoipa::path(
    get,
    path = "/sync/schedule",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    responses(
        (status = 200, description = "The import and match schedule.", body = crate::api::openapi::schemas::SyncSchedule)
    )
)]
pub async fn get_schedule(caller: Caller, State(app): State<App>) -> Result<Json<SyncSchedule>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(app.store.sync_schedule().await?))
}

/// `PUT /sync/schedule`.
#[utoipa::path(
    put,
    path = "/sync/schedule",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    request_body = crate::api::openapi::schemas::SyncSchedule,
    responses(
        (status = 200, description = "The stored schedule.", body = crate::api::openapi::schemas::SyncSchedule),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn put_schedule(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<SyncSchedule>> {
    caller.require(Area::Sync, Access::Edit)?;
    let body: ScheduleBody = json_body(&body)?;
    Ok(Json(
        schedule::set(&app, body.enabled, body.interval_minutes).await?,
    ))
}

/// `POST /sync/run`: one cycle now.
#[utoipa::path(
    post,
    path = "/sync/run",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_OPERATE,
    responses(
        (status = 200, description = "What the cycle did, or `busy` when another replica is running one.", body = crate::api::openapi::schemas::SyncOutcome)
    )
)]
pub async fn run_cycle(caller: Caller, State(app): State<App>) -> Result<Json<CycleOutcome>> {
    caller.require(Area::Sync, Access::Operate)?;
    Ok(Json(schedule::run_now(&app).await?))
}
