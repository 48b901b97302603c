//! `/api/v1/batches` and `/api/v1/computers`: the edges of [`crate::migration::batches`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use model::batch::Batch;
use model::ids::{BatchId, DirectoryId};
use model::runbook::Runbook;

use super::{json_body, parse_id, with_id};
use crate::auth::{Access, Area, Caller};
use crate::migration::batches::{self, BatchView, DEFAULT_COMPUTER_LIMIT, MAX_COMPUTER_LIMIT};
use crate::store::computers::ComputerEntry;
use crate::{App, Error, Result};

/// `GET /batches`, in batch order, each with the computers another batch takes too.
#[utoipa::path(
    get,
    path = "/batches",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every batch.", body = [crate::api::openapi::schemas::BatchView])
    )
)]
pub async fn list_batches(caller: Caller, State(app): State<App>) -> Result<Json<Vec<BatchView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(batches::views(&app).await?))
}

/// `POST /batches` with a batch without `id`. Operators schedule batches, so Operate suffices.
#[utoipa::path(
    post,
    path = "/batches",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    request_body = crate::api::openapi::schemas::Batch,
    responses(
        (status = 201, description = "The new batch.", body = crate::api::openapi::schemas::BatchView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_batch_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<axum::response::Response> {
    caller.require(Area::Agent, Access::Operate)?;
    let body: serde_json::Value = json_body(&body)?;
    let batch: Batch = with_id(body, BatchId::new().0)?;
    let batch = batches::create(&app, batch).await?;
    let path = format!("/api/v1/batches/{}", batch.id);
    let answer = (StatusCode::CREATED, Json(batches::view(&app, batch).await?));
    Ok(crate::audit::created(answer.into_response(), path))
}

/// `GET /batches/{id}`, with the computers another batch takes too.
#[utoipa::path(
    get,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 200, description = "The batch.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_batch(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(batches::get(&app, parse_id("id", &id)?).await?))
}

/// `PUT /batches/{id}` with the whole batch.
#[utoipa::path(
    put,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    request_body = crate::api::openapi::schemas::Batch,
    responses(
        (status = 200, description = "The batch as changed.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn update_batch_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Operate)?;
    let body: serde_json::Value = json_body(&body)?;
    let id: BatchId = parse_id("id", &id)?;
    let batch = batches::update(&app, with_id(body, id.0)?).await?;
    Ok(Json(batches::view(&app, batch).await?))
}

/// `DELETE /batches/{id}`.
#[utoipa::path(
    delete,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_batch(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Operate)?;
    batches::delete(&app, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
fn query_id(query: &HashMap<String, String>, field: &str) -> Result<DirectoryId> {
    let text = query
        .get(field)
        .ok_or_else(|| Error::field(field, "required: a directory id"))?;
    parse_id(field, text)
}

/// `GET /batches/compatible-runbooks?source=ID&target=ID`: the runbooks a batch from `source` to
/// `target` may assign.
#[utoipa::path(
    get,
    path = "/batches/compatible-runbooks",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("source" = String, Query, description = "The source directory's id."), ("target" = String, Query, description = "The target directory's id.")),
    responses(
        (status = 200, description = "Runbooks that migrate from the source to the target directory.", body = [crate::api::openapi::schemas::Runbook]),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn compatible_runbooks(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Runbook>>> {
    caller.require(Area::Agent, Access::Read)?;
    let source = query_id(&query, "source")?;
    let target = query_id(&query, "target")?;
    Ok(Json(
        batches::compatible_runbooks(&app, source, target).await?,
    ))
}

/// `GET /computers?directory=ID&search=PREFIX&limit=N`: imported computers of a directory whose
/// name starts with `search` (ignoring case), `limit` at most (20 unless given, up to 100).
#[utoipa::path(
    get,
    path = "/computers",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("directory" = String, Query, description = "The directory's id.")),
    responses(
        (status = 200, description = "The computers of the directory.", body = [crate::api::openapi::schemas::ComputerEntry]),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn computers(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ComputerEntry>>> {
    caller.require(Area::Agent, Access::Read)?;
    let directory = query_id(&query, "directory")?;
    let limit = match query.get("limit") {
        None => DEFAULT_COMPUTER_LIMIT,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_COMPUTER_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::field(
                    "limit",
                    format!("a whole number from 1 to {}", MAX_COMPUTER_LIMIT),
                ))
            }
        },
    };
    let search = query.get("search").map(|s| s.trim()).unwrap_or("");
    Ok(Json(
        batches::computers(&app, directory, search, limit).await?,
    ))
}

/// `PUT /batches/{id}/computers.csv` with a CSV body (`name`, `objectGuid`): replaces the batch's
/// listed computers. A bad line, a computer not imported into the batch's source directory, or a
/// name its GUID does not have there, is an error naming its line, and nothing changes.
#[utoipa::path(
    put,
    path = "/batches/{id}/computers.csv",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    request_body(content = String, content_type = "text/csv", description = "The headings `name,objectGuid`, then one computer a line: its name and its object GUID, which must name the same computer."),
    responses(
        (status = 200, description = "The batch with the listed computers.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn import_csv(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Operate)?;
    let id = parse_id("id", &id)?;
    Ok(Json(batches::import_computer_list(&app, id, &body).await?))
}

/// `GET /batches/{id}/computers.csv`: the listed computers as a CSV that the import reads back.
#[utoipa::path(
    get,
    path = "/batches/{id}/computers.csv",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 200, description = "The batch's computers as CSV.", body = String, content_type = "text/csv"),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn export_csv(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse> {
    caller.require(Area::Agent, Access::Read)?;
    let csv = batches::export_computer_list(&app, parse_id("id", &id)?).await?;
    Ok(crate::csv_export::download("computers.csv", csv))
}
