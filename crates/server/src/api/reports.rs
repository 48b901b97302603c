//! Reports: agents, an agent's runs and log, failed communications, and progress counts; the edges
//! of [`crate::migration::agents`] and [`crate::migration::progress`].

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::parse_id;
use crate::auth::{Access, Area, Caller};
use crate::migration::agents::{self, AgentDetails, AgentSummary, EventPage, RunView};
use crate::migration::device_plan::{device_plan, DevicePlan};
use crate::migration::progress::{self, Progress};
use crate::store::communications::FailedSource;
use crate::{App, Result};

/// `GET /agents`.
#[utoipa::path(
    get,
    path = "/agents",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every registered agent.", body = [AgentSummary])
    )
)]
pub async fn agents(caller: Caller, State(app): State<App>) -> Result<Response> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(crate::csv_export::stream_json(agents::listed(&app).await?))
}

/// `GET /agents/{id}`.
#[utoipa::path(
    get,
    path = "/agents/{id}",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent, its runs and user profiles.", body = AgentDetails),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_details(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<AgentDetails>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(agents::details(&app, parse_id("id", &id)?).await?))
}

/// `POST /agents/{id}/runs/{runbook}/retry`: the failed run goes again, from the device's
/// journal.
#[utoipa::path(
    post,
    path = "/agents/{id}/runs/{runbook}/retry",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(
        ("id" = String, Path, description = "The agent's id."),
        ("runbook" = String, Path, description = "The runbook whose run ended in Error.")
    ),
    responses(
        (status = 200, description = "The run, Not Started again with its retry count one higher: the device runs it at its next check-in, on the batch's schedule, going on from the steps its journal recorded done.", body = RunView),
        (status = 404, description = "No such agent, or the runbook never ran on it.", body = crate::error::ErrorBody),
        (status = 409, description = "The run did not end in Error. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn retry_run(
    caller: Caller,
    State(app): State<App>,
    Path((id, runbook)): Path<(String, String)>,
) -> Result<Json<RunView>> {
    caller.require(Area::Agent, Access::Operate)?;
    let (id, runbook) = (parse_id("id", &id)?, parse_id("runbook", &runbook)?);
    Ok(Json(agents::retry(&app, id, runbook).await?))
}

/// `GET /agents/{id}/plan`: what the device would run next, changing nothing.
#[utoipa::path(
    get,
    path = "/agents/{id}/plan",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The runbook the device runs next: its steps in order, planned from the facts the agent last reported; for each harvested profile the target SID the device will be sent for the runbook's join and why, or why it gets none.", body = crate::api::openapi::schemas::DevicePlan),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 409, description = "No runbook is assigned to the device that it has not completed, or the runbook refuses the device (a server edition).", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_plan(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<DevicePlan>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(device_plan(&app, parse_id("id", &id)?).await?))
}

/// The paging query of the log routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Only entries older than this sequence number (the `next_before` of the previous page).
    pub before: Option<u64>,
    /// Page size, 1 to 1000; 100 by default.
    pub limit: Option<u32>,
}

/// `GET /agents/{id}/events?before=&limit=`.
#[utoipa::path(
    get,
    path = "/agents/{id}/events",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id."), Page),
    responses(
        (status = 200, description = "A page of the agent's log, newest first.", body = EventPage),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_events(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<EventPage>> {
    caller.require(Area::Agent, Access::Read)?;
    let id = parse_id("id", &id)?;
    Ok(Json(
        agents::events(&app, id, page.before, page.limit).await?,
    ))
}

/// `GET /failed-communications?limit=`: newest first.
#[utoipa::path(
    get,
    path = "/failed-communications",
    tag = "reports",
    description = crate::api::openapi::access::AGENT_READ,
    params(Page),
    responses(
        (status = 200, description = "Refused agent requests, newest first; repeats from one address for one reason are one entry with `first_at` and `repeats`.", body = [crate::api::openapi::schemas::FailedSource]),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn failed_communications(
    caller: Caller,
    State(app): State<App>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<FailedSource>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(agents::failed_communications(&app, page.limit).await?))
}

/// `GET /progress`.
#[utoipa::path(
    get,
    path = "/progress",
    tag = "reports",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Migration status counts, overall and per batch.", body = Progress)
    )
)]
pub async fn progress_route(caller: Caller, State(app): State<App>) -> Result<Json<Progress>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(progress::progress(&app).await?))
}
