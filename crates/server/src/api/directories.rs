//! `/api/v1/directories`: directories and their imports.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use model::directory::{Directory, DirectoryKind};
use model::ids::DirectoryId;
use serde::Deserialize;

use axum::body::Bytes;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::directory::file::{DirectoryDocument, FileSource};
use crate::directory::ImportSummary;
use crate::store::directories::ImportRun;
use crate::{App, Error, Result};

/// The body of `POST /directories`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewDirectory {
    /// Name.
    pub name: String,
    /// AD or Entra.
    #[schema(value_type = String, example = "ActiveDirectory")]
    pub kind: DirectoryKind,
    /// DNS domain.
    pub domain: String,
}

/// `GET /directories`.
#[utoipa::path(
    get,
    path = "/directories",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    responses(
        (status = 200, description = "Every directory.", body = [crate::api::openapi::schemas::Directory])
    )
)]
pub async fn list(caller: Caller, State(app): State<App>) -> Result<Json<Vec<Directory>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(app.store.directories().await?))
}

/// `POST /directories`.
#[utoipa::path(
    post,
    path = "/directories",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    request_body = NewDirectory,
    responses(
        (status = 201, description = "The new directory.", body = crate::api::openapi::schemas::Directory),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A directory with this name already exists.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<Directory>)> {
    caller.require(Area::Sync, Access::Edit)?;
    let body: NewDirectory = json_body(&body)?;
    let directory = Directory {
        id: DirectoryId::new(),
        name: body.name,
        kind: body.kind,
        domain: body.domain,
        domain_id: None,
    };
    Ok((
        StatusCode::CREATED,
        Json(crate::directory::create(&app, directory).await?),
    ))
}

async fn directory(app: &App, id: &str) -> Result<Directory> {
    app.store
        .directory(parse_id("id", id)?)
        .await?
        .ok_or(Error::NotFound("directory"))
}

/// `GET /directories/{id}`.
#[utoipa::path(
    get,
    path = "/directories/{id}",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("id" = String, Path, description = "The directory's id.")),
    responses(
        (status = 200, description = "The directory.", body = crate::api::openapi::schemas::Directory),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_one(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Directory>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(directory(&app, &id).await?))
}

/// `POST /directories/{id}/import` with the directory document as the body: a full import.
#[utoipa::path(
    post,
    path = "/directories/{id}/import",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_OPERATE,
    params(("id" = String, Path, description = "The directory's id.")),
    request_body = crate::api::openapi::schemas::DirectoryDocument,
    responses(
        (status = 200, description = "What the import changed.", body = crate::api::openapi::schemas::ImportSummary),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "Another import of this directory is running.", body = crate::error::ErrorBody),
        (status = 413, description = "The document is larger than 512 MiB; read only after the role is checked.", body = crate::error::ErrorBody)
    )
)]
pub async fn import_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<ImportSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let document = super::body_after_check(request, super::IMPORT_BODY_LIMIT).await?;
    let document: DirectoryDocument = json_body(&document)?;
    let dir = directory(&app, &id).await?;
    Ok(Json(
        crate::directory::import(&app, dir.id, &FileSource::from_document(document)).await?,
    ))
}

/// `GET /directories/{id}/imports`: the import runs, newest first.
#[utoipa::path(
    get,
    path = "/directories/{id}/imports",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("id" = String, Path, description = "The directory's id.")),
    responses(
        (status = 200, description = "Past imports, newest first.", body = [crate::api::openapi::schemas::ImportRun]),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn imports(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ImportRun>>> {
    caller.require(Area::Sync, Access::Read)?;
    let dir = directory(&app, &id).await?;
    Ok(Json(app.store.import_runs(dir.id).await?))
}
