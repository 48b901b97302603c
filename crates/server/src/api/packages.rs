//! `/api/v1/command-packages`: zips a runbook runs at Startup or Completion, uploaded raw and
//! stored once by hash. Agent area.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use crate::auth::{Access, Area, Caller};
use crate::packages::{self, PackageView};
use crate::{App, Error, Result};

/// The query of `POST /command-packages`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file name, e.g. `printers.zip`.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /command-packages?name=…` with the zip as the body: 201 when new, 200 when the same
/// bytes were stored already.
#[utoipa::path(
    post,
    path = "/command-packages",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(UploadQuery),
    request_body(content = crate::api::openapi::schemas::Binary, content_type = "application/zip", description = "The package as a zip file."),
    responses(
        (status = 201, description = "The package was stored.", body = crate::api::openapi::schemas::PackageView),
        (status = 200, description = "The same package was already stored.", body = crate::api::openapi::schemas::PackageView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 413, description = "The package is larger than 100 MiB; read only after the role is checked.", body = crate::error::ErrorBody)
    )
)]
pub async fn upload(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<UploadQuery>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<PackageView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let body = super::body_after_check(request, packages::MAX_UPLOAD_BYTES).await?;
    let name = query.file_name("package.zip")?;
    let (view, created) = packages::upload(&app, &name, body.to_vec()).await?;
    Ok((stored_status(created), Json(view)))
}

impl UploadQuery {
    /// The file name given, or the error showing how to give one like `example`.
    pub(super) fn file_name(self, example: &str) -> Result<String> {
        self.name
            .ok_or_else(|| Error::field("name", format!("give the file name: ?name={}", example)))
    }
}

/// 201 for a file stored now, 200 for one stored already.
pub(super) fn stored_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// `GET /command-packages`.
#[utoipa::path(
    get,
    path = "/command-packages",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "The stored command packages.", body = [crate::api::openapi::schemas::PackageView])
    )
)]
pub async fn list(caller: Caller, State(app): State<App>) -> Result<Json<Vec<PackageView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(packages::list(&app).await?))
}

/// `DELETE /command-packages/{sha256}`; refused while a runbook uses it.
#[utoipa::path(
    delete,
    path = "/command-packages/{sha256}",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("sha256" = String, Path, description = "The package's SHA-256 in hex.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such command package.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook still uses the package.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete(
    caller: Caller,
    State(app): State<App>,
    Path(sha256): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    packages::delete(&app, &sha256).await?;
    Ok(StatusCode::NO_CONTENT)
}
