//! Readiness: a batch's devices' checks (JSON and CSV of the same filtered rows), one agent's
//! checks, asking a device to check again, and waiving one check for one device; the edges of
//! [`crate::migration::readiness`].

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::migration::readiness::{self, BatchReadiness, DeviceReadiness, Filter};
use crate::store::readiness::Waiver;
use crate::{App, Result};

/// The filter of the batch readiness routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadinessQuery {
    /// Only checks with this verdict: `pass`, `warn`, `block` or `unknown`; or `not_reported`
    /// for the devices whose checks have not arrived.
    pub verdict: Option<String>,
    /// Only checks whose id starts with this (`profile:` for every profile check).
    pub check: Option<String>,
    /// Only devices whose name contains this (`*` for any run of characters).
    pub device: Option<String>,
    /// The page of devices, from 1 (the JSON and the console page; CSV has every row).
    pub page: Option<u64>,
}

impl ReadinessQuery {
    /// The filter these values name.
    pub fn filter(&self) -> Result<Filter> {
        Filter::parse(
            self.verdict.as_deref(),
            self.check.as_deref(),
            self.device.as_deref(),
        )
    }
}

/// `GET /batches/{id}/readiness`.
#[utoipa::path(
    get,
    path = "/batches/{id}/readiness",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id."), ReadinessQuery),
    responses(
        (status = 200, description = "The batch's readiness: devices counted by their worst verdict and those not reported, the reasons devices are held back grouped, and one page of the devices the filter keeps with the checks it keeps.", body = BatchReadiness),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn batch_readiness(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<ReadinessQuery>,
) -> Result<Json<BatchReadiness>> {
    caller.require(Area::Agent, Access::Read)?;
    let id = parse_id("id", &id)?;
    Ok(Json(
        readiness::of_batch(&app, id, &q.filter()?, q.page).await?,
    ))
}

/// `GET /batches/{id}/readiness.csv`: exactly the rows the same filter shows.
#[utoipa::path(
    get,
    path = "/batches/{id}/readiness.csv",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id."), ReadinessQuery),
    responses(
        (status = 200, description = "One line per check the filter keeps, and one per device not reported, over every page.", body = String, content_type = "text/csv"),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn batch_readiness_csv(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<ReadinessQuery>,
) -> Result<impl IntoResponse> {
    caller.require(Area::Agent, Access::Read)?;
    let id = parse_id("id", &id)?;
    Ok(crate::csv_export::download(
        "readiness.csv",
        readiness::csv(&app, id, &q.filter()?).await?,
    ))
}

/// `GET /agents/{id}/readiness`.
#[utoipa::path(
    get,
    path = "/agents/{id}/readiness",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The device's checks for each runbook it took them for, and why a runbook is held back.", body = [DeviceReadiness]),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_readiness(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeviceReadiness>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(readiness::of_agent(&app, parse_id("id", &id)?).await?))
}

/// `POST /agents/{id}/readiness/request`: the device checks again at its next check-in.
#[utoipa::path(
    post,
    path = "/agents/{id}/readiness/request",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 204, description = "Asked: the device's next check-in answer asks it for its checks."),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn request_readiness(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode> {
    caller.require(Area::Agent, Access::Operate)?;
    readiness::request(&app, parse_id("id", &id)?).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// What a waiver names.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct WaiveBody {
    /// The blocking check's id, e.g. `tpm` or `profile:S-1-5-21-…`.
    pub check: String,
    /// Why it may be let pass; recorded with the waiver and in the audit trail.
    pub reason: String,
}

/// `POST /agents/{id}/readiness/{runbook}/waivers`.
#[utoipa::path(
    post,
    path = "/agents/{id}/readiness/{runbook}/waivers",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(
        ("id" = String, Path, description = "The agent's id."),
        ("runbook" = String, Path, description = "The runbook the check was taken for.")
    ),
    request_body = WaiveBody,
    responses(
        (status = 200, description = "The waiver: the check no longer holds the runbook back on this device.", body = Waiver),
        (status = 404, description = "No such agent, or no such check of this runbook on it.", body = crate::error::ErrorBody),
        (status = 409, description = "The check does not block. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn waive(
    caller: Caller,
    State(app): State<App>,
    Path((id, runbook)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Waiver>> {
    caller.require(Area::Agent, Access::Edit)?;
    let (id, runbook) = (parse_id("id", &id)?, parse_id("runbook", &runbook)?);
    let body: WaiveBody = json_body(&body)?;
    Ok(Json(
        readiness::waive(&app, id, runbook, &body.check, &body.reason, &caller.name).await?,
    ))
}
