//! `/api/v1/command-packages`: zips a runbook runs at Startup or Completion, uploaded raw and
//! stored once by hash. Agent area.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::{Access, Area, Caller};
use crate::packages::{self, PackageView};
use crate::{App, Error, Result};

/// The query of `POST /command-packages`.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The file name, e.g. `printers.zip`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /command-packages?name=…` with the zip as the body: 201 when new, 200 when the same
/// bytes were stored already.
pub async fn upload(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, Json<PackageView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let name = query
        .name
        .ok_or_else(|| Error::field("name", "give the file name: ?name=package.zip"))?;
    let (view, created) = packages::upload(&app, &name, body.to_vec()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `GET /command-packages`.
pub async fn list(caller: Caller, State(app): State<App>) -> Result<Json<Vec<PackageView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(packages::list(&app).await?))
}

/// `DELETE /command-packages/{sha256}`; refused while a runbook uses it.
pub async fn delete(
    caller: Caller,
    State(app): State<App>,
    Path(sha256): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    packages::delete(&app, &sha256).await?;
    Ok(StatusCode::NO_CONTENT)
}
