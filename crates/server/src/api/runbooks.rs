//! `/api/v1/runbooks`: the edges of [`crate::migration::runbooks`].

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use model::ids::RunbookId;
use model::runbook::Runbook;

use super::{json_body, parse_id, with_id};
use crate::auth::{Access, Area, Caller};
use crate::migration::runbooks::{self, RunbookView};
use crate::{App, Result};

/// `GET /runbooks`.
#[utoipa::path(
    get,
    path = "/runbooks",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every runbook; passwords are never shown.", body = [crate::api::openapi::schemas::RunbookView])
    )
)]
pub async fn list_runbooks(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<Vec<RunbookView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(runbooks::list(&app).await?))
}

/// `POST /runbooks` with a runbook without `id`.
#[utoipa::path(
    post,
    path = "/runbooks",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    request_body = crate::api::openapi::schemas::Runbook,
    responses(
        (status = 201, description = "The new runbook.", body = crate::api::openapi::schemas::RunbookView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook with this name already exists.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_runbook_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<axum::response::Response> {
    caller.require(Area::Agent, Access::Edit)?;
    let body: serde_json::Value = json_body(&body)?;
    let runbook: Runbook = with_id(body, RunbookId::new().0)?;
    let runbook = runbooks::create(&app, runbook).await?;
    let path = format!("/api/v1/runbooks/{}", runbook.id);
    let answer = (
        StatusCode::CREATED,
        Json(runbooks::view(&app, runbook).await?),
    );
    Ok(crate::audit::created(answer.into_response(), path))
}

/// `GET /runbooks/{id}`.
#[utoipa::path(
    get,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The runbook's id.")),
    responses(
        (status = 200, description = "The runbook.", body = crate::api::openapi::schemas::RunbookView),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_runbook(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RunbookView>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(runbooks::get(&app, parse_id("id", &id)?).await?))
}

/// `PUT /runbooks/{id}` with the whole runbook (its `id` is the path's).
#[utoipa::path(
    put,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The runbook's id.")),
    request_body = crate::api::openapi::schemas::Runbook,
    responses(
        (status = 200, description = "The runbook as changed; passwords left out keep their values.", body = crate::api::openapi::schemas::RunbookView),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook with this name already exists.", body = crate::error::ErrorBody)
    )
)]
pub async fn update_runbook_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RunbookView>> {
    caller.require(Area::Agent, Access::Edit)?;
    let body: serde_json::Value = json_body(&body)?;
    let id: RunbookId = parse_id("id", &id)?;
    let runbook = runbooks::update(&app, with_id(body, id.0)?).await?;
    Ok(Json(runbooks::view(&app, runbook).await?))
}

/// `DELETE /runbooks/{id}`; refused while a batch assigns it.
#[utoipa::path(
    delete,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The runbook's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 409, description = "A batch still uses the runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_runbook(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    runbooks::delete(&app, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
