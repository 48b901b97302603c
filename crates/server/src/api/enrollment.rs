//! `/api/v1/directories/{id}/bulk-tokens`: the bulk enrollment tokens of an Entra directory,
//! made through an administrator's sign-in. Agent area: runbooks depend on them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::ids::{BulkTokenId, DirectoryId, EnrollmentFlowId};

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::enrollment::{
    self, BulkTokenView, CompleteRequest, PollOutcome, StartRequest, StartedFlow,
};
use crate::{App, Result};

/// `GET /directories/{id}/bulk-tokens`: newest first, never the tokens themselves.
#[utoipa::path(
    get,
    path = "/directories/{id}/bulk-tokens",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The directory's id.")),
    responses(
        (status = 200, description = "The directory's bulk enrollment tokens, newest first.", body = [crate::api::openapi::schemas::BulkTokenView]),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn list(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<BulkTokenView>>> {
    caller.require(Area::Agent, Access::Read)?;
    let id: DirectoryId = parse_id("id", &id)?;
    Ok(Json(enrollment::list(&app, id).await?))
}

/// `POST /directories/{id}/bulk-tokens/flows`: starts a sign-in (device code or browser).
#[utoipa::path(
    post,
    path = "/directories/{id}/bulk-tokens/flows",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The directory's id.")),
    request_body = crate::api::openapi::schemas::StartRequest,
    responses(
        (status = 201, description = "The sign-in to finish.", body = crate::api::openapi::schemas::StartedFlow),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "Entra failed or refused; the message names it and `fields` the setting to check.", body = crate::error::ErrorBody)
    )
)]
pub async fn start(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<StartedFlow>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let request: StartRequest = json_body(&body)?;
    let id: DirectoryId = parse_id("id", &id)?;
    Ok((
        StatusCode::CREATED,
        Json(enrollment::start(&app, id, request).await?),
    ))
}

/// `POST /directories/{id}/bulk-tokens/flows/{flow}/poll`: 200 while pending, 201 with the
/// token once made.
#[utoipa::path(
    post,
    path = "/directories/{id}/bulk-tokens/flows/{flow}/poll",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The directory's id."), ("flow" = String, Path, description = "The sign-in's id.")),
    responses(
        (status = 200, description = "Nobody has signed in yet.", body = crate::api::openapi::schemas::PollOutcome),
        (status = 201, description = "The token was made.", body = crate::api::openapi::schemas::PollOutcome),
        (status = 404, description = "No such sign-in.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "Entra failed or refused; the message names it and `fields` the setting to check.", body = crate::error::ErrorBody)
    )
)]
pub async fn poll(
    caller: Caller,
    State(app): State<App>,
    Path((id, flow)): Path<(String, String)>,
) -> Result<Response> {
    caller.require(Area::Agent, Access::Edit)?;
    let id: DirectoryId = parse_id("id", &id)?;
    let flow: EnrollmentFlowId = parse_id("flow", &flow)?;
    let outcome = enrollment::poll(&app, id, flow).await?;
    let status = match outcome {
        PollOutcome::Pending { .. } => StatusCode::OK,
        PollOutcome::Created { .. } => StatusCode::CREATED,
    };
    Ok((status, Json(outcome)).into_response())
}

/// `POST /directories/{id}/bulk-tokens/flows/{flow}/complete` with the browser's `state` and
/// `code`.
#[utoipa::path(
    post,
    path = "/directories/{id}/bulk-tokens/flows/{flow}/complete",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The directory's id."), ("flow" = String, Path, description = "The sign-in's id.")),
    request_body = crate::enrollment::CompleteRequest,
    responses(
        (status = 201, description = "The token was made.", body = crate::api::openapi::schemas::BulkTokenView),
        (status = 404, description = "No such sign-in.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 502, description = "Entra failed or refused; the message names it and `fields` the setting to check.", body = crate::error::ErrorBody)
    )
)]
pub async fn complete(
    caller: Caller,
    State(app): State<App>,
    Path((id, flow)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<BulkTokenView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let request: CompleteRequest = json_body(&body)?;
    let id: DirectoryId = parse_id("id", &id)?;
    let flow: EnrollmentFlowId = parse_id("flow", &flow)?;
    Ok((
        StatusCode::CREATED,
        Json(enrollment::complete(&app, id, flow, request).await?),
    ))
}

/// `DELETE /directories/{id}/bulk-tokens/{token}`.
#[utoipa::path(
    delete,
    path = "/directories/{id}/bulk-tokens/{token}",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The directory's id."), ("token" = String, Path, description = "The bulk enrollment token's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such bulk enrollment token.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete(
    caller: Caller,
    State(app): State<App>,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    let id: DirectoryId = parse_id("id", &id)?;
    let token: BulkTokenId = parse_id("token", &token)?;
    enrollment::delete(&app, id, token).await?;
    Ok(StatusCode::NO_CONTENT)
}
