//! `/api/v1/directories/{id}/provisioning-package`: the `.ppkg` that joins Windows devices to an
//! Entra directory, uploaded raw. Agent area, like the bulk enrollment tokens.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use model::ids::DirectoryId;

use super::packages::{stored_status, UploadQuery};
use super::parse_id;
use crate::auth::{Access, Area, Caller};
use crate::enrollment::provisioning::{self, ProvisioningPackageView, MAX_PACKAGE_BYTES};
use crate::{App, Result};

/// `PUT /directories/{id}/provisioning-package?name=…` with the package as the body: 201 when
/// the directory had none, 200 when it replaced the one it had.
#[utoipa::path(
    put,
    path = "/directories/{id}/provisioning-package",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The Entra directory's id."), UploadQuery),
    request_body(content = crate::api::openapi::schemas::Binary, content_type = "application/octet-stream", description = "The .ppkg file Windows Configuration Designer built for this directory (at most 4 MiB)."),
    responses(
        (status = 201, description = "The package was stored.", body = crate::enrollment::provisioning::ProvisioningPackageView),
        (status = 200, description = "The package replaced the one the directory had.", body = crate::enrollment::provisioning::ProvisioningPackageView),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 413, description = "The package is larger than 4 MiB; read only after the role is checked.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn upload_provisioning_package(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<ProvisioningPackageView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let id: DirectoryId = parse_id("id", &id)?;
    let name = query.file_name("join-contoso.ppkg")?;
    let body = super::body_after_check(request, MAX_PACKAGE_BYTES).await?;
    let (view, created) = provisioning::upload(&app, id, &name, &body).await?;
    Ok((stored_status(created), Json(view)))
}

/// `GET /directories/{id}/provisioning-package`: its name, size, SHA-256 and upload time, never
/// the package.
#[utoipa::path(
    get,
    path = "/directories/{id}/provisioning-package",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The Entra directory's id.")),
    responses(
        (status = 200, description = "The directory's provisioning package.", body = crate::enrollment::provisioning::ProvisioningPackageView),
        (status = 404, description = "No such directory, or it has no provisioning package.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong.", body = crate::error::ErrorBody)
    )
)]
pub async fn show_provisioning_package(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<ProvisioningPackageView>> {
    caller.require(Area::Agent, Access::Read)?;
    let id: DirectoryId = parse_id("id", &id)?;
    Ok(Json(provisioning::show(&app, id).await?))
}

/// `DELETE /directories/{id}/provisioning-package`.
#[utoipa::path(
    delete,
    path = "/directories/{id}/provisioning-package",
    tag = "enrollment",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The Entra directory's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such directory, or it has no provisioning package.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_provisioning_package(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    let id: DirectoryId = parse_id("id", &id)?;
    provisioning::delete(&app, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
