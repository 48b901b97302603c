//! The limits of a PSK (`0007_security.sql`): an expiry and a batch, and where agents registered
//! from.

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, PskId};
use sqlx::Row;

use super::{from_ms, parse_text, to_ms, Store};
use crate::Result;

/// What a PSK is limited to.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
pub struct PskLimits {
    /// No registration with it at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Only computers this batch selects register with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub batch: Option<BatchId>,
}

impl Store {
    /// Sets the limits of `psk`.
    pub async fn set_psk_limits(&self, psk: PskId, limits: &PskLimits) -> Result<()> {
        sqlx::query("UPDATE psks SET expires_at = $1, batch = $2 WHERE id = $3")
            .bind(limits.expires_at.map(to_ms))
            .bind(limits.batch.map(|b| b.to_string()))
            .bind(psk.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The limits of `psk` (none for an unknown one).
    pub async fn psk_limits(&self, psk: PskId) -> Result<PskLimits> {
        let row = sqlx::query("SELECT expires_at, batch FROM psks WHERE id = $1")
            .bind(psk.to_string())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(PskLimits::default());
        };
        let batch: Option<String> = row.try_get("batch")?;
        Ok(PskLimits {
            expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
            batch: batch.map(|b| parse_text("psk batch", &b)).transpose()?,
        })
    }

    /// Records the address `agent` registered from.
    pub async fn set_registered_from(&self, agent: AgentId, address: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE agents SET registered_from = $1 WHERE id = $2")
            .bind(address)
            .bind(agent.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The address `agent` registered from, when known.
    pub async fn registered_from(&self, agent: AgentId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT registered_from FROM agents WHERE id = $1")
            .bind(agent.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("registered_from")?,
            None => None,
        })
    }

    /// Whether `address` was refused an agent request (a failed communication) at or before `at`.
    pub async fn was_refused_before(&self, address: &str, at: DateTime<Utc>) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM failed_communications WHERE remote_address = $1 AND first_at <= $2",
        )
        .bind(address)
        .bind(to_ms(at))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
