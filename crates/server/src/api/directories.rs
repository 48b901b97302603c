//! `/api/v1/directories`, `/match` and `/translations`: the Sync area.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use model::directory::{Directory, DirectoryKind, MatchAttribute, TranslationEntry};
use model::ids::DirectoryId;
use serde::Deserialize;

use axum::body::Bytes;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::directory::file::{DirectoryDocument, FileSource};
use crate::directory::{ImportSummary, MatchSummary};
use crate::store::directories::ImportRun;
use crate::{App, Error, Result};

/// The body of `POST /directories`.
#[derive(Debug, Deserialize)]
pub struct NewDirectory {
    /// Name.
    pub name: String,
    /// AD or Entra.
    pub kind: DirectoryKind,
    /// DNS domain.
    pub domain: String,
}

/// `GET /directories`.
pub async fn list(caller: Caller, State(app): State<App>) -> Result<Json<Vec<Directory>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(app.store.directories().await?))
}

/// `POST /directories`.
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
pub async fn get_one(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Directory>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(directory(&app, &id).await?))
}

/// `POST /directories/{id}/import` with the directory document as the body: a full import.
pub async fn import_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    document: Bytes,
) -> Result<Json<ImportSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let document: DirectoryDocument = json_body(&document)?;
    let dir = directory(&app, &id).await?;
    Ok(Json(
        crate::directory::import(&app, dir.id, &FileSource::from_document(document)).await?,
    ))
}

/// `GET /directories/{id}/imports`: the import runs, newest first.
pub async fn imports(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ImportRun>>> {
    caller.require(Area::Sync, Access::Read)?;
    let dir = directory(&app, &id).await?;
    Ok(Json(app.store.import_runs(dir.id).await?))
}

/// The body of `POST /match`.
#[derive(Debug, Deserialize)]
pub struct MatchRequest {
    /// Source directory.
    pub source: DirectoryId,
    /// Target directory.
    pub target: DirectoryId,
    /// The attribute compared, e.g. `sAMAccountName` or `mail`.
    pub attribute: String,
}

/// `POST /match`: matches users and groups one to one by one attribute.
pub async fn match_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<MatchSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let body: MatchRequest = json_body(&body)?;
    let attribute = MatchAttribute::parse(&body.attribute).ok_or_else(|| {
        Error::field(
            "attribute",
            "one of sAMAccountName, userPrincipalName, mail, employeeID, name",
        )
    })?;
    Ok(Json(
        crate::directory::match_users(&app, body.source, body.target, attribute).await?,
    ))
}

/// The query of the translation table routes.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    /// Only rows whose names, UPNs or SIDs contain this, ignoring case.
    pub search: Option<String>,
}

/// `GET /translations?search=`.
pub async fn translations(
    caller: Caller,
    State(app): State<App>,
    Query(q): Query<Search>,
) -> Result<Json<Vec<TranslationEntry>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(app.store.translations(q.search.as_deref()).await?))
}

/// A cell a spreadsheet will not run as a formula: directory names are typed by others.
fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{}", cell)
    } else {
        cell.to_string()
    }
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
            .map(|cell| spreadsheet_safe(&cell)),
        )
        .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {}", e)))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {}", e)))
}

/// `GET /translations.csv?search=`: the same rows as a download.
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
