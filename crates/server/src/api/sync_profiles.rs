//! `/api/v1/sync/profiles…` and `/api/v1/sync/export…`: the edges of
//! [`crate::directory::export`]: sync profiles, running an export of a pair, What If for export,
//! and the recorded export runs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use model::ids::DirectoryId;
use serde::Deserialize;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::directory::export::profile::{self, SyncProfile, SyncProfileId};
use crate::directory::export::{self, ExportPreview, ExportRun};
use crate::{App, Result};

/// A source and target directory.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PairBody {
    /// Source directory.
    #[schema(value_type = String)]
    pub source: DirectoryId,
    /// Target directory.
    #[schema(value_type = String)]
    pub target: DirectoryId,
}

/// `GET /sync/profiles`.
#[utoipa::path(
    get,
    path = "/sync/profiles",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    responses(
        (status = 200, description = "Every sync profile, by name.", body = [SyncProfile])
    )
)]
pub async fn list_sync_profiles(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<Vec<SyncProfile>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(export::profiles(&app).await?))
}

/// `POST /sync/profiles`.
#[utoipa::path(
    post,
    path = "/sync/profiles",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    request_body = profile::ProfileBody,
    responses(
        (status = 201, description = "The new profile.", body = SyncProfile),
        (status = 409, description = "A profile has this name, or covers this kind of this pair already.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_sync_profile(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<axum::response::Response> {
    caller.require(Area::Sync, Access::Edit)?;
    let body = profile::parse_body(&body)?;
    let created = export::put_profile(&app, None, body).await?;
    let path = format!("/api/v1/sync/profiles/{}", created.id);
    let answer = (StatusCode::CREATED, Json(created));
    Ok(crate::audit::created(answer.into_response(), path))
}

/// `GET /sync/profiles/{id}`.
#[utoipa::path(
    get,
    path = "/sync/profiles/{id}",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("id" = String, Path, description = "The profile's id.")),
    responses(
        (status = 200, description = "The profile.", body = SyncProfile),
        (status = 404, description = "No such profile.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_sync_profile(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<SyncProfile>> {
    caller.require(Area::Sync, Access::Read)?;
    let id: SyncProfileId = parse_id("id", &id)?;
    Ok(Json(export::profile(&app, id).await?))
}

/// `PUT /sync/profiles/{id}`.
#[utoipa::path(
    put,
    path = "/sync/profiles/{id}",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    params(("id" = String, Path, description = "The profile's id.")),
    request_body = profile::ProfileBody,
    responses(
        (status = 200, description = "The stored profile.", body = SyncProfile),
        (status = 404, description = "No such profile.", body = crate::error::ErrorBody),
        (status = 409, description = "Another profile has this name, or covers this kind of this pair.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn update_sync_profile(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SyncProfile>> {
    caller.require(Area::Sync, Access::Edit)?;
    let id: SyncProfileId = parse_id("id", &id)?;
    let body = profile::parse_body(&body)?;
    Ok(Json(export::put_profile(&app, Some(id), body).await?))
}

/// `DELETE /sync/profiles/{id}`: the objects it wrote stay.
#[utoipa::path(
    delete,
    path = "/sync/profiles/{id}",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    params(("id" = String, Path, description = "The profile's id.")),
    responses(
        (status = 204, description = "Deleted; nothing in the target changes."),
        (status = 404, description = "No such profile.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_sync_profile(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Sync, Access::Edit)?;
    let id: SyncProfileId = parse_id("id", &id)?;
    export::delete_profile(&app, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sync/export`: exports a pair now.
#[utoipa::path(
    post,
    path = "/sync/export",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_OPERATE,
    request_body = PairBody,
    responses(
        (status = 200, description = "The run, as recorded.", body = ExportRun),
        (status = 409, description = "No DirSync licence covers the target domain (`no licence for domain …`).", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "The target directory failed or refused; the run is recorded with the error and the next run resumes.", body = crate::error::ErrorBody)
    )
)]
pub async fn run_export(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<ExportRun>> {
    caller.require(Area::Sync, Access::Operate)?;
    let pair: PairBody = json_body(&body)?;
    Ok(Json(export::run(&app, pair.source, pair.target).await?))
}

/// `POST /sync/export/what-if`: what an export of the pair would write; writes nothing.
#[utoipa::path(
    post,
    path = "/sync/export/what-if",
    tag = "sync",
    description = "Access: Sync read (SyncViewer, SyncOperator, SyncAdmin, TenantAdmin); it only reads the target.",
    request_body = PairBody,
    responses(
        (status = 200, description = "Every add, modify (attribute, old, new), move, membership change and disable a run would make.", body = ExportPreview),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "The target directory failed or refused.", body = crate::error::ErrorBody)
    )
)]
pub async fn export_what_if(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<ExportPreview>> {
    caller.require(Area::Sync, Access::Read)?;
    let pair: PairBody = json_body(&body)?;
    Ok(Json(export::what_if(&app, pair.source, pair.target).await?))
}

/// The query of `GET /sync/export/runs`.
#[derive(Debug, Deserialize)]
pub struct PairQuery {
    /// Source directory.
    pub source: DirectoryId,
    /// Target directory.
    pub target: DirectoryId,
}

/// `GET /sync/export/runs?source&target`.
#[utoipa::path(
    get,
    path = "/sync/export/runs",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("source" = String, Query, description = "Source directory id."), ("target" = String, Query, description = "Target directory id.")),
    responses(
        (status = 200, description = "The latest 50 export runs of the pair, newest first, with their counts.", body = [ExportRun])
    )
)]
pub async fn export_runs(
    caller: Caller,
    State(app): State<App>,
    Query(pair): Query<PairQuery>,
) -> Result<Json<Vec<ExportRun>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(export::runs(&app, pair.source, pair.target).await?))
}
