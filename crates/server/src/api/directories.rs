//! `/api/v1/directories` and `/translations`: directories, their imports, and the translation
//! table.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use model::directory::{Directory, DirectoryKind, TranslationEntry};
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

/// The query of the translation table routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Only rows whose names, UPNs or SIDs contain this, ignoring case.
    pub search: Option<String>,
}

/// `GET /translations?search=`.
#[utoipa::path(
    get,
    path = "/translations",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(Search),
    responses(
        (status = 200, description = "The translation table.", body = [crate::api::openapi::schemas::TranslationEntry])
    )
)]
pub async fn translations(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<Search>,
) -> Result<Json<Vec<TranslationEntry>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(app.store.translations(q.search.as_deref()).await?))
}

/// The translation table as CSV, one row per entry.
pub fn translations_to_csv(entries: &[TranslationEntry]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::Internal(format!("cannot write CSV: {}", e));
    w.write_record([
        "kind",
        "source_name",
        "source_upn",
        "source_sid",
        "source_guid",
        "target_name",
        "target_upn",
        "target_sid",
        "target_guid",
    ])
    .map_err(csv_err)?;
    for e in entries {
        w.write_record(
            [
                e.kind.as_str().to_string(),
                e.source.name.clone(),
                e.source.upn.clone().unwrap_or_default(),
                e.source.sid.to_string(),
                e.source.guid.to_string(),
                e.target.name.clone(),
                e.target.upn.clone().unwrap_or_default(),
                e.target.sid.to_string(),
                e.target.guid.to_string(),
            ]
            .map(|cell| model::csv_guard::guard(&cell).into_owned()),
        )
        .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {}", e)))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {}", e)))
}

/// `GET /translations.csv?search=`: the same rows as a download.
#[utoipa::path(
    get,
    path = "/translations.csv",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(Search),
    responses(
        (status = 200, description = "The translation table as CSV.", body = String, content_type = "text/csv")
    )
)]
pub async fn translations_csv(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<Search>,
) -> Result<impl IntoResponse> {
    caller.require(Area::Sync, Access::Read)?;
    let body = translations_to_csv(&app.store.translations(q.search.as_deref()).await?)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"translation-table.csv\"",
            ),
        ],
        body,
    ))
}
