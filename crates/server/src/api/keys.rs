//! `/api/v1/psks` and `/api/v1/agent-certificates`: the edges of [`crate::migration::keys`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::parse_id;
use crate::auth::{Access, Area, Caller};
use crate::migration::keys::{self, NewCertificate, NewPsk};
use crate::store::certificates::{CertificateInfo, PskInfo};
use crate::{App, Error, Result};

/// `GET /psks`: ids and dates, never values; the newest is `latest`.
#[utoipa::path(
    get,
    path = "/psks",
    tag = "secrets",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "The PSKs, never their keys.", body = [crate::api::openapi::schemas::PskInfo])
    )
)]
pub async fn list_psks(caller: Caller, State(app): State<App>) -> Result<Json<Vec<PskInfo>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(keys::psks(&app).await?))
}

/// `POST /psks`.
#[utoipa::path(
    post,
    path = "/psks",
    tag = "secrets",
    description = "Access: Agent edit (AgentAdmin, TenantAdmin). The body may limit the PSK: `expires_at` (after it, registrations with it are refused) and `batch` (only computers that batch selects register with it); empty, it has no limit.",
    request_body = crate::store::psk_limits::PskLimits,
    responses(
        (status = 201, description = "The new PSK with its key, shown this once.", body = NewPsk),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_psk_route(
    caller: Caller,
    State(app): State<App>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<NewPsk>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let limits = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        super::json_body(&body)?
    };
    let psk = keys::create_psk(&app, limits).await?;
    Ok((StatusCode::CREATED, Json(psk)))
}

/// `DELETE /psks/{id}`: installers holding it can no longer register.
#[utoipa::path(
    delete,
    path = "/psks/{id}",
    tag = "secrets",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The PSK's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such PSK.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_psk(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    keys::delete_psk(&app, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /agent-certificates`: public parts and expiry; the newest is `latest`.
#[utoipa::path(
    get,
    path = "/agent-certificates",
    tag = "secrets",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "The agent certificates.", body = [crate::api::openapi::schemas::CertificateInfo])
    )
)]
pub async fn list_certificates(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<Vec<CertificateInfo>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(keys::certificates(&app).await?))
}

/// `POST /agent-certificates`.
#[utoipa::path(
    post,
    path = "/agent-certificates",
    tag = "secrets",
    description = crate::api::openapi::access::AGENT_EDIT,
    request_body = NewCertificate,
    responses(
        (status = 201, description = "The new certificate.", body = crate::api::openapi::schemas::CertificateInfo),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_certificate_route(
    caller: Caller,
    State(app): State<App>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<CertificateInfo>)> {
    caller.require(Area::Agent, Access::Edit)?;
    // Both fields have defaults, so an empty body is a valid request.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        NewCertificate::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Error::field("body", format!("not the expected JSON: {}", e)))?
    };
    Ok((
        StatusCode::CREATED,
        Json(keys::create_certificate(&app, request).await?),
    ))
}
