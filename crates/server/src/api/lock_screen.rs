//! `/api/v1/lock-screen-images`: images a runbook's Startup shows on the lock screen, uploaded
//! raw and stored once by hash. Agent area.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;

use super::packages::{stored_status, UploadQuery};
use crate::auth::{Access, Area, Caller};
use crate::lock_screen;
use crate::packages::PackageView;
use crate::{App, Result};

/// `POST /lock-screen-images?name=…` with the image as the body: 201 when new, 200 when the
/// same bytes were stored already.
#[utoipa::path(
    post,
    operation_id = "upload_lock_screen_image",
    path = "/lock-screen-images",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(UploadQuery),
    request_body(content = crate::api::openapi::schemas::Binary, content_type = "application/octet-stream", description = "The image: PNG, JPEG or BMP."),
    responses(
        (status = 201, description = "The image was stored.", body = crate::api::openapi::schemas::PackageView),
        (status = 200, description = "The same image was already stored.", body = crate::api::openapi::schemas::PackageView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 413, description = "The image is larger than 10 MiB; read only after the role is checked.", body = crate::error::ErrorBody)
    )
)]
pub async fn upload(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<UploadQuery>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<PackageView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let body = super::body_after_check(request, lock_screen::MAX_IMAGE_BYTES).await?;
    let name = query.file_name("image.png")?;
    let (view, created) = lock_screen::upload(&app, &name, body.to_vec()).await?;
    Ok((stored_status(created), Json(view)))
}

/// `GET /lock-screen-images`.
#[utoipa::path(
    get,
    operation_id = "list_lock_screen_images",
    path = "/lock-screen-images",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "The stored lock-screen images.", body = [crate::api::openapi::schemas::PackageView])
    )
)]
pub async fn list(caller: Caller, State(app): State<App>) -> Result<Json<Vec<PackageView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(lock_screen::list(&app).await?))
}

/// `DELETE /lock-screen-images/{sha256}`; refused while a runbook shows it.
#[utoipa::path(
    delete,
    operation_id = "delete_lock_screen_image",
    path = "/lock-screen-images/{sha256}",
    tag = "packages",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("sha256" = String, Path, description = "The image's SHA-256 in hex.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such lock-screen image.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook still shows the image.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete(
    caller: Caller,
    State(app): State<App>,
    Path(sha256): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    lock_screen::delete(&app, &sha256).await?;
    Ok(StatusCode::NO_CONTENT)
}
