//! Applied licences and the devices migration licences have counted. A licence's text is stored
//! whole and checked again against the trusted issuers whenever it is used.

use chrono::{DateTime, Utc};
use model::ids::{AgentId, DirectoryId, LicenceId, ObjectGuid};
use sqlx::Row;

use super::{from_ms, parse_text, to_ms, Store};
use crate::Result;

/// A licence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLicence {
    /// Its id (the issuer's).
    pub id: LicenceId,
    /// The signed text, as pasted.
    pub text: String,
    /// When it was applied.
    pub applied_at: DateTime<Utc>,
    /// Devices it has counted.
    pub devices_used: u64,
}

/// What counting a device against a licence did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// The device took one of the licence's slots.
    Counted,
    /// Another request counted the device first; it is counted.
    AlreadyCounted,
    /// Every slot is taken (or the licence was removed meanwhile); nothing changed.
    Full,
}

impl Store {
    /// Stores an applied licence; false when one with its id is applied already. Devices it
    /// counted before it was removed count again.
    pub async fn insert_licence(
        &self,
        id: LicenceId,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let _bump = super::config::Bump;
        let done = sqlx::query(
            "INSERT INTO licences (id, text, applied_at, devices_used) \
             VALUES ($1, $2, $3, (SELECT COUNT(*) FROM licensed_devices WHERE licence = $1)) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(text)
        .bind(to_ms(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every applied licence, oldest first.
    pub async fn licences(&self) -> Result<Vec<StoredLicence>> {
        let rows = sqlx::query(
            "SELECT id, text, applied_at, devices_used FROM licences ORDER BY applied_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredLicence {
                    id: parse_text("licence id", &row.try_get::<String, _>("id")?)?,
                    text: row.try_get("text")?,
                    applied_at: from_ms(row.try_get("applied_at")?),
                    devices_used: u64::try_from(row.try_get::<i64, _>("devices_used")?)
                        .unwrap_or(0),
                })
            })
            .collect()
    }

    /// Removes an applied licence; false when there was none. The devices it counted stay
    /// counted.
    pub async fn delete_licence(&self, id: LicenceId) -> Result<bool> {
        let _bump = super::config::Bump;
        let done = sqlx::query("DELETE FROM licences WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether a licence has ever counted the computer `computer` of `directory`.
    pub async fn device_counted(
        &self,
        directory: DirectoryId,
        computer: ObjectGuid,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM licensed_devices WHERE directory = $1 AND computer = $2",
        )
        .bind(directory.to_string())
        .bind(computer.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Counts the device against `licence` if fewer than `limit` devices use it: the slot is
    /// taken by one conditional update, so concurrent check-ins (on any replica) never take more.
    pub async fn count_device(
        &self,
        licence: LicenceId,
        limit: u64,
        directory: DirectoryId,
        computer: ObjectGuid,
        agent: AgentId,
        now: DateTime<Utc>,
    ) -> Result<Counting> {
        let _bump = super::config::Bump;
        let mut tx = self.pool().begin().await?;
        let taken = sqlx::query(
            "UPDATE licences SET devices_used = devices_used + 1 WHERE id = $1 AND devices_used < $2",
        )
        .bind(licence.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Counting::Full);
        }
        let inserted = sqlx::query(
            "INSERT INTO licensed_devices (directory, computer, licence, agent, counted_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (directory, computer) DO NOTHING",
        )
        .bind(directory.to_string())
        .bind(computer.to_string())
        .bind(licence.to_string())
        .bind(agent.to_string())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            // Counted meanwhile: the slot just taken goes back.
            tx.rollback().await?;
            return Ok(Counting::AlreadyCounted);
        }
        tx.commit().await?;
        Ok(Counting::Counted)
    }
}
