//! `/api/v1/directories/{id}/connection`: how a directory is read. Secrets go in, never out.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use model::ids::DirectoryId;
use serde::Deserialize;

use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::directory::connection::{self, ConnectionInfo, ConnectionSettings};
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
