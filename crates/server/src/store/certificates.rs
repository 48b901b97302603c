//! Pre-shared keys and the server's agent certificates: the secrets of agent registration and
//! agent traffic. Their secret parts are sealed by the secret box, read only by the agent API, and
//! never listed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use model::envelope::{Key32, KeyPair, PublicKeys};
use model::ids::{CertificateId, PskId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::sealing::{certificate_aad, psk_aad};
use super::{from_ms, parse_text, to_ms, Store};
use crate::{Error, Result};

/// A PSK as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PskInfo {
    /// Its id.
    pub id: PskId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// True for the newest, the one to give new installers.
    pub latest: bool,
    /// What it is limited to.
    #[serde(flatten)]
    pub limits: super::psk_limits::PskLimits,
}

/// An agent certificate as listed: never its secret keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Its id.
    pub id: CertificateId,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it expires; agent certificates it issues expire with it.
    pub not_after: DateTime<Utc>,
    /// Its public keys.
    pub keys: PublicKeys,
    /// True for the newest, the one that signs new agents.
    pub latest: bool,
}

/// An agent certificate with its key pair, for the agent API.
#[derive(Debug, Clone)]
pub struct CertificateSecret {
    /// Its public description.
    pub info: CertificateInfo,
    /// Its key pair.
    pub keys: KeyPair,
}

fn key32(column: &str, text: &str) -> Result<Key32> {
    let bytes = B64
        .decode(text.as_bytes())
        .map_err(|_| Error::Internal(format!("stored {} is not base64", column)))?;
    let array: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Internal(format!("stored {} is not 32 bytes", column)))?;
    Ok(Key32(array))
}

/// Public keys as stored in two base64 TEXT columns.
pub fn public_keys(sign: &str, encrypt: &str) -> Result<PublicKeys> {
    Ok(PublicKeys {
        sign: key32("sign key", sign)?,
        encrypt: key32("encrypt key", encrypt)?,
    })
}

/// Base64 of a public key, for a TEXT column.
pub fn key_text(key: &Key32) -> String {
    B64.encode(key.0)
}

fn certificate_from_row(row: &AnyRow, latest: Option<&str>) -> Result<CertificateInfo> {
    let id: String = row.try_get("id")?;
    Ok(CertificateInfo {
        latest: latest == Some(id.as_str()),
        id: parse_text("certificate id", &id)?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        not_after: from_ms(row.try_get("not_after")?),
        keys: public_keys(
            &row.try_get::<String, _>("sign_key")?,
            &row.try_get::<String, _>("encrypt_key")?,
        )?,
    })
}

// Newest first; the id breaks ties between keys made in the same millisecond.
const NEWEST_FIRST: &str = "ORDER BY created_at DESC, id DESC";

impl Store {
    /// Stores a new PSK. The caller shows `secret` once and never again.
    pub async fn insert_psk(&self, id: PskId, secret: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO psks (id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(self.secrets().seal_str(&psk_aad(&id.to_string()), secret)?)
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every PSK, newest first, without values.
    pub async fn psks(&self) -> Result<Vec<PskInfo>> {
        let rows = sqlx::query(&format!("SELECT id, created_at FROM psks {}", NEWEST_FIRST))
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let id = parse_text("psk id", &row.try_get::<String, _>("id")?)?;
            out.push(PskInfo {
                id,
                created_at: from_ms(row.try_get("created_at")?),
                latest: i == 0,
                limits: self.psk_limits(id).await?,
            });
        }
        Ok(out)
    }

    /// Every PSK with its value, for checking a registration's MAC.
    pub async fn psk_secrets(&self) -> Result<Vec<(PskId, String)>> {
        let rows = sqlx::query(&format!("SELECT id, secret FROM psks {}", NEWEST_FIRST))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let secret = self
                    .secrets()
                    .open_str(&psk_aad(&id), &row.try_get::<String, _>("secret")?)?;
                Ok((parse_text("psk id", &id)?, secret))
            })
            .collect()
    }

    /// Deletes a PSK; false when there was none.
    pub async fn delete_psk(&self, id: PskId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM psks WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a new agent certificate with its key pair.
    pub async fn insert_certificate(
        &self,
        id: CertificateId,
        name: &str,
        keys: &KeyPair,
        created_at: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<()> {
        let public = keys.public();
        sqlx::query(
            "INSERT INTO agent_certificates (id, name, created_at, not_after, sign_key, encrypt_key, secret) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(to_ms(created_at))
        .bind(to_ms(not_after))
        .bind(key_text(&public.sign))
        .bind(key_text(&public.encrypt))
        .bind(self.secrets().seal_str(
            &certificate_aad(&id.to_string()),
            &B64.encode(keys.to_secret_bytes()),
        )?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every agent certificate, newest first, without secret keys.
    pub async fn certificates(&self) -> Result<Vec<CertificateInfo>> {
        let rows = sqlx::query(&format!(
            "SELECT id, name, created_at, not_after, sign_key, encrypt_key FROM agent_certificates {}",
            NEWEST_FIRST
        ))
        .fetch_all(self.pool())
        .await?;
        let latest: Option<String> = match rows.first() {
            Some(row) => Some(row.try_get("id")?),
            None => None,
        };
        rows.iter()
            .map(|row| certificate_from_row(row, latest.as_deref()))
            .collect()
    }

    /// One certificate with its key pair, for the agent API.
    pub async fn certificate_secret(&self, id: CertificateId) -> Result<Option<CertificateSecret>> {
        self.certificate_secret_where("WHERE id = $1", Some(id))
            .await
    }

    /// The newest certificate with its key pair: it signs new agents.
    pub async fn latest_certificate_secret(&self) -> Result<Option<CertificateSecret>> {
        self.certificate_secret_where("", None).await
    }

    async fn certificate_secret_where(
        &self,
        filter: &str,
        id: Option<CertificateId>,
    ) -> Result<Option<CertificateSecret>> {
        let sql = format!(
            "SELECT id, name, created_at, not_after, sign_key, encrypt_key, secret FROM agent_certificates {} {} LIMIT 1",
            filter, NEWEST_FIRST
        );
        let mut query = sqlx::query(&sql);
        if let Some(id) = id {
            query = query.bind(id.to_string());
        }
        let Some(row) = query.fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let latest: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM agent_certificates {} LIMIT 1",
            NEWEST_FIRST
        ))
        .fetch_optional(self.pool())
        .await?;
        let info = certificate_from_row(&row, latest.as_deref())?;
        let secret = self.secrets().open_str(
            &certificate_aad(&info.id.to_string()),
            &row.try_get::<String, _>("secret")?,
        )?;
        let secret = B64
            .decode(secret.as_bytes())
            .map_err(|_| Error::Internal("a stored certificate key is not base64".to_string()))?;
        let keys = KeyPair::from_secret_bytes(&secret).map_err(|_| {
            Error::Internal("a stored certificate key is not a key pair".to_string())
        })?;
        Ok(Some(CertificateSecret { info, keys }))
    }
}
