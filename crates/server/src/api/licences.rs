//! `/api/v1/licences`: licences a tenant administrator applies, and what they allow and use.
//! Anyone who reads the sync or migration side may list them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::licences::{self, LicenceView};
use crate::{App, Error, Result};

/// The body of `POST /licences`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ApplyLicence {
    /// The licence text as issued, `REHOME-LICENCE-1.…`.
    pub licence: String,
}

/// `GET /licences`.
#[utoipa::path(
    get,
    path = "/licences",
    tag = "licences",
    description = "Access: Agent read or Sync read (any viewer, operator or admin role).",
    responses(
        (status = 200, description = "The applied licences.", body = [crate::api::openapi::schemas::LicenceView])
    )
)]
pub async fn list_route(caller: Caller, State(app): State<App>) -> Result<Json<Vec<LicenceView>>> {
    caller
        .require(Area::Agent, Access::Read)
        .or_else(|_| caller.require(Area::Sync, Access::Read))?;
    Ok(Json(licences::list(&app).await?))
}

/// `POST /licences`.
#[utoipa::path(
    post,
    path = "/licences",
    tag = "licences",
    description = crate::api::openapi::access::TENANT_EDIT,
    request_body = ApplyLicence,
    responses(
        (status = 201, description = "The licence, checked and applied.", body = crate::api::openapi::schemas::LicenceView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn apply_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<LicenceView>)> {
    caller.require(Area::Tenant, Access::Edit)?;
    let request: ApplyLicence = json_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(licences::apply(&app, &request.licence).await?),
    ))
}

/// `DELETE /licences/{id}`: devices it counted stay counted.
#[utoipa::path(
    delete,
    path = "/licences/{id}",
    tag = "licences",
    description = crate::api::openapi::access::TENANT_EDIT,
    params(("id" = String, Path, description = "The licence's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such licence.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Tenant, Access::Edit)?;
    if licences::remove(&app, parse_id("id", &id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound("licence"))
    }
}
