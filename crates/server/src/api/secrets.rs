//! `/api/v1/psks` and `/api/v1/agent-certificates`: the secrets of agent registration and agent
//! traffic. A PSK's value is shown once, in the answer that creates it; certificate key pairs never.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Months, Utc};
use model::envelope::KeyPair;
use model::ids::{CertificateId, PskId};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

use super::parse_id;
use crate::auth::{Access, Area, Caller};
use crate::store::certificates::{CertificateInfo, PskInfo};
use crate::{App, Error, Result};

/// Characters in a PSK.
pub const PSK_LENGTH: usize = 64;
/// Default validity of an agent certificate, in months.
pub const DEFAULT_CERTIFICATE_MONTHS: u32 = 12;
/// Longest validity of an agent certificate, in months.
pub const MAX_CERTIFICATE_MONTHS: u32 = 120;

/// A PSK just made: the only answer that ever holds its value.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewPsk {
    /// Its id.
    #[schema(value_type = uuid::Uuid)]
    pub id: PskId,
    /// The 64 characters to give the agent installer. Shown once.
    pub key: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewPsk {{ id: {}, key: <hidden> }}", self.id)
    }
}

/// Makes a new PSK of 64 random letters and digits; it becomes the latest.
pub async fn create_psk(app: &App) -> Result<NewPsk> {
    let key = Alphanumeric.sample_string(&mut rand::rngs::OsRng, PSK_LENGTH);
    let id = PskId::new();
    let now = app.clock.now();
    app.store.insert_psk(id, &key, now).await?;
    tracing::info!(psk = %id, "PSK created");
    Ok(NewPsk {
        id,
        key,
        created_at: now,
    })
}

/// The body of `POST /agent-certificates`; both fields optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct NewCertificate {
    /// Defaults to `Agent Certificate <date>`.
    #[serde(default)]
    pub name: Option<String>,
    /// 1 to 120; defaults to 12.
    #[serde(default)]
    pub months_valid: Option<u32>,
}

/// Makes a new agent certificate (a fresh key pair) valid for `months_valid` months; it becomes
/// the latest and signs agents registering from now on. Older ones keep working until they expire.
pub async fn create_certificate(app: &App, request: NewCertificate) -> Result<CertificateInfo> {
    let now = app.clock.now();
    let months = request.months_valid.unwrap_or(DEFAULT_CERTIFICATE_MONTHS);
    if !(1..=MAX_CERTIFICATE_MONTHS).contains(&months) {
        return Err(Error::field(
            "months_valid",
            format!("between 1 and {} months", MAX_CERTIFICATE_MONTHS),
        ));
    }
    let name = match request.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("Agent Certificate {}", now.format("%Y-%m-%d")),
    };
    if name.chars().count() > 100 {
        return Err(Error::field("name", "at most 100 characters"));
    }
    let not_after = now
        .checked_add_months(Months::new(months))
        .ok_or_else(|| Error::field("months_valid", "too far in the future"))?;
    let id = CertificateId::new();
    app.store
        .insert_certificate(id, &name, &KeyPair::generate(), now, not_after)
        .await?;
    tracing::info!(certificate = %id, "agent certificate created");
    app.store
        .certificates()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::Internal("a new certificate was not stored".into()))
}

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
    Ok(Json(app.store.psks().await?))
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
    let psk = crate::registration_limits::create_limited_psk(&app, limits).await?;
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
    if app.store.delete_psk(parse_id("id", &id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound("PSK"))
    }
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
    Ok(Json(app.store.certificates().await?))
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
        Json(create_certificate(&app, request).await?),
    ))
}
