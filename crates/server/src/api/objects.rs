//! `/api/v1/objects` and `/api/v1/objects/…`: finding objects, and the Single Object Report.

use axum::extract::{Path, Query, State};
use axum::Json;
use model::ids::{DirectoryId, ObjectGuid};
use serde::Deserialize;

use super::parse_id;
use crate::auth::{Access, Area, Caller};
use crate::directory::report::ObjectReport;
use crate::store::directories::ObjectHit;
use crate::{App, Result};

/// The query of `GET /objects`.
#[derive(Debug, Deserialize)]
pub struct ObjectSearch {
    /// Name, UPN, sAMAccountName or mail; `*` stands for any characters.
    pub search: String,
    /// Only this directory.
    #[serde(default)]
    pub directory: Option<DirectoryId>,
}

/// `GET /objects?search=ada*`: find objects for the Single Object Report.
#[utoipa::path(
    get,
    path = "/objects",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("search" = String, Query, description = "Name, UPN, sAMAccountName or mail; * matches any characters."), ("directory" = Option<String>, Query, description = "Only this directory.")),
    responses(
        (status = 200, description = "At most 200 objects, by name.", body = [crate::api::openapi::schemas::ObjectHit]),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn search(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<ObjectSearch>,
) -> Result<Json<Vec<ObjectHit>>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(
        crate::directory::report::search(&app, &query.search, query.directory).await?,
    ))
}

/// `GET /objects/{directory}/{guid}`: the Single Object Report.
#[utoipa::path(
    get,
    path = "/objects/{directory}/{guid}",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("directory" = String, Path, description = "The directory's id."), ("guid" = String, Path, description = "The object's GUID.")),
    responses(
        (status = 200, description = "The Single Object Report.", body = crate::api::openapi::schemas::ObjectReport),
        (status = 404, description = "No such directory or object.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn report(
    caller: Caller,
    State(app): State<App>,
    Path((directory, guid)): Path<(String, String)>,
) -> Result<Json<ObjectReport>> {
    caller.require(Area::Sync, Access::Read)?;
    let directory: DirectoryId = parse_id("directory", &directory)?;
    let guid: ObjectGuid = parse_id("guid", &guid)?;
    Ok(Json(
        crate::directory::report::object_report(&app, directory, guid).await?,
    ))
}
