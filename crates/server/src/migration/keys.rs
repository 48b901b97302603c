//! PSKs and agent certificates: the keys of agent registration and agent traffic. A PSK's value
//! is shown once, in the answer that creates it; certificate key pairs never leave the store. A
//! PSK may expire and may register only the computers of one batch, so it is less of a master key.

use chrono::{DateTime, Months, Utc};
use model::envelope::KeyPair;
use model::ids::{CertificateId, DirectoryId, ObjectGuid, PskId};
use rand::distributions::{Alphanumeric, DistString};
use serde::{Deserialize, Serialize};

use crate::store::certificates::{CertificateInfo, PskInfo};
use crate::store::psk_limits::PskLimits;
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

/// Makes a new PSK of 64 random letters and digits under `limits`, after checking them (an expiry
/// in the future, a batch that exists); it becomes the latest.
pub async fn create_psk(app: &App, limits: PskLimits) -> Result<NewPsk> {
    let now = app.clock.now();
    if limits.expires_at.is_some_and(|at| at <= now) {
        return Err(Error::field("expires_at", "must be in the future"));
    }
    if let Some(batch) = limits.batch {
        if app.store.batch(batch).await?.is_none() {
            return Err(Error::field("batch", "no batch has this id"));
        }
    }
    let key = Alphanumeric.sample_string(&mut rand::rngs::OsRng, PSK_LENGTH);
    let id = PskId::new();
    app.store.insert_psk(id, &key, now).await?;
    if limits != PskLimits::default() {
        app.store.set_psk_limits(id, &limits).await?;
    }
    tracing::info!(psk = %id, "PSK created");
    Ok(NewPsk {
        id,
        key,
        created_at: now,
    })
}

/// Why `psk` may not register the computer `guid` of `directory` at `now`, if it may not: the
/// refusal code and the message for the failed communication.
pub async fn registration_refusal(
    app: &App,
    psk: PskId,
    directory: DirectoryId,
    guid: &ObjectGuid,
    now: DateTime<Utc>,
) -> Result<Option<(&'static str, String)>> {
    let limits = app.store.psk_limits(psk).await?;
    if limits.expires_at.is_some_and(|at| at <= now) {
        return Ok(Some((
            "psk_expired",
            "the PSK has expired; reinstall the agent with a current PSK".to_string(),
        )));
    }
    if let Some(batch) = limits.batch {
        let selected = match app.store.batch(batch).await? {
            Some(b) => b.source_directory == directory && b.computers.includes(guid),
            None => false,
        };
        if !selected {
            return Ok(Some((
                "psk_wrong_batch",
                "this PSK registers only the computers of its batch".to_string(),
            )));
        }
    }
    Ok(None)
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
    if let Some(message) = model::visible::hidden_in(&name) {
        return Err(Error::field("name", message));
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

/// The PSKs, ids and dates only, never their values; the newest is `latest`.
pub async fn psks(app: &App) -> Result<Vec<PskInfo>> {
    app.store.psks().await
}

/// Deletes a PSK: installers holding it can no longer register.
pub async fn delete_psk(app: &App, id: PskId) -> Result<()> {
    if app.store.delete_psk(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("PSK"))
    }
}

/// The agent certificates, public parts and expiry; the newest is `latest`.
pub async fn certificates(app: &App) -> Result<Vec<CertificateInfo>> {
    app.store.certificates().await
}
