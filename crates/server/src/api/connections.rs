//! `/api/v1/directories/{id}/connection`: how a directory is read. Secrets go in, never out.
//! `/api/v1/directories/{id}/import-kinds`: which object types its imports keep.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use model::directory::ObjectKind;
use model::ids::DirectoryId;
use serde::{Deserialize, Serialize};

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::directory::connection::{self, ConnectionInfo, ConnectionSettings};
use crate::directory::import_kinds;
use crate::{App, Error, Result};

/// The body of `PUT /directories/{id}/connection`: the settings (with `kind`), and the secret,
/// which may be left out to keep the one stored.
#[derive(Debug, Deserialize)]
pub struct ConnectionBody {
    /// `kind` (`ldap`, `graph` or `file`) and its settings.
    #[serde(flatten)]
    pub settings: ConnectionSettings,
    /// The LDAP bind password.
    #[serde(default)]
    pub password: Option<String>,
    /// The Graph client secret.
    #[serde(default)]
    pub client_secret: Option<String>,
}

pub(super) async fn directory_id(app: &App, id: &str) -> Result<DirectoryId> {
    let id = parse_id("id", id)?;
    app.store
        .directory(id)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    Ok(id)
}

/// `GET /directories/{id}/connection`: the settings and whether a secret is stored.
#[utoipa::path(
    get,
    path = "/directories/{id}/connection",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("id" = String, Path, description = "The directory's id.")),
    responses(
        (status = 200, description = "How the directory is read, without its secret.", body = crate::api::openapi::schemas::ConnectionInfo),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_connection(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionInfo>> {
    caller.require(Area::Sync, Access::Read)?;
    let id = directory_id(&app, &id).await?;
    connection::connection(&app, id)
        .await?
        .map(Json)
        .ok_or(Error::NotFound("connection"))
}

/// `PUT /directories/{id}/connection`.
#[utoipa::path(
    put,
    path = "/directories/{id}/connection",
    tag = "sync",
    description = "Access: Sync edit (SyncAdmin, TenantAdmin). Left out, the stored bind password or client secret is kept, but only where it was sent: a change of the LDAP URL, StartTLS or certificate checking, or of the Graph tenant, authority, Graph URL or scope, needs the secret again, unless a TenantAdmin makes it. A `file` connection is for TenantAdmins, or for Sync admins inside the folder the server was started with (`--directory-documents`).",
    params(("id" = String, Path, description = "The directory's id.")),
    request_body = crate::api::openapi::schemas::ConnectionRequest,
    responses(
        (status = 200, description = "The stored connection, without its secret.", body = crate::api::openapi::schemas::ConnectionInfo),
        (status = 403, description = "A file connection outside the documents folder, by a Sync admin.", body = crate::error::ErrorBody),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input, or a kept secret sent somewhere else; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn put_connection(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ConnectionInfo>> {
    caller.require(Area::Sync, Access::Edit)?;
    let id = directory_id(&app, &id).await?;
    let body: ConnectionBody = json_body(&body)?;
    let secret = match &body.settings {
        ConnectionSettings::Ldap { .. } => body.password,
        ConnectionSettings::Graph { .. } => body.client_secret,
        ConnectionSettings::File { .. } => None,
    };
    connection::save_connection(&app, &caller, id, body.settings, secret)
        .await
        .map(Json)
}

/// The object types a directory's imports keep: the body of `PUT` and the answer of both
/// methods of `/directories/{id}/import-kinds`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportKinds {
    /// Each type kept: `User`, `Group`, `Computer`, `Contact`; at least one.
    pub kinds: Vec<String>,
}

fn import_kinds_answer(kinds: &[ObjectKind]) -> Json<ImportKinds> {
    Json(ImportKinds {
        kinds: kinds.iter().map(|k| k.as_str().to_string()).collect(),
    })
}

/// `GET /directories/{id}/import-kinds`.
#[utoipa::path(
    get,
    path = "/directories/{id}/import-kinds",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("id" = String, Path, description = "The directory's id.")),
    responses(
        (status = 200, description = "The object types its imports keep (every type until set).", body = ImportKinds),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_import_kinds(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<ImportKinds>> {
    caller.require(Area::Sync, Access::Read)?;
    let id = directory_id(&app, &id).await?;
    let kinds = import_kinds::import_kinds(&app, id).await?;
    Ok(import_kinds_answer(&kinds))
}

/// `PUT /directories/{id}/import-kinds`.
#[utoipa::path(
    put,
    path = "/directories/{id}/import-kinds",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    params(("id" = String, Path, description = "The directory's id.")),
    request_body = ImportKinds,
    responses(
        (status = 200, description = "The object types its imports keep now; the next full import deletes the objects of the others.", body = ImportKinds),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "No type, or one that is not an object type; `fields` names `kinds`. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn put_import_kinds(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ImportKinds>> {
    caller.require(Area::Sync, Access::Edit)?;
    let id = directory_id(&app, &id).await?;
    let body: ImportKinds = json_body(&body)?;
    let kinds = body
        .kinds
        .iter()
        .map(|k| {
            ObjectKind::parse(k.trim()).ok_or_else(|| {
                Error::field(
                    "kinds",
                    format!("{k:?} is not an object type: use User, Group, Computer or Contact"),
                )
            })
        })
        .collect::<Result<Vec<ObjectKind>>>()?;
    let kept = import_kinds::set_import_kinds(&app, &caller, id, &kinds).await?;
    Ok(import_kinds_answer(&kept))
}
