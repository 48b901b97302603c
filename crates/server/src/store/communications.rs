//! Failed communications (agents that reached the server and were refused) and the nonces seen,
//! which make every agent message usable once.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::Result;

/// An agent that reached the server and was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCommunication {
    /// When.
    pub at: DateTime<Utc>,
    /// The computer name it gave, when it gave one.
    pub computer_name: Option<String>,
    /// The address it came from, when known.
    pub remote_address: Option<String>,
    /// The stable refusal code, e.g. `not_imported`.
    pub code: String,
    /// What happened.
    pub message: String,
}

/// Rows of failed communications kept at most; past it the oldest go first.
pub const MAX_FAILED_COMMUNICATIONS: i64 = 10_000;

/// Refusals from one address for one reason, aggregated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedSource {
    /// The latest refusal.
    #[serde(flatten)]
    pub last: FailedCommunication,
    /// When the first of them was.
    pub first_at: DateTime<Utc>,
    /// How many there were.
    pub repeats: i64,
}

impl Store {
    /// Records a refusal: a repeat from the same address for the same reason updates that
    /// source's row (count, last time, latest name and message) instead of adding one, and the
    /// table keeps at most [`MAX_FAILED_COMMUNICATIONS`] rows, so a flood of refused requests
    /// with made-up names cannot grow it.
    pub async fn insert_failed_communication(&self, f: &FailedCommunication) -> Result<()> {
        let at = to_ms(f.at);
        let updated = sqlx::query(
            "UPDATE failed_communications SET at = $1, computer_name = $2, message = $3, repeats = repeats + 1 \
             WHERE code = $4 AND (remote_address = $5 OR (remote_address IS NULL AND $5 IS NULL))",
        )
        .bind(at)
        .bind(f.computer_name.clone())
        .bind(&f.message)
        .bind(&f.code)
        .bind(f.remote_address.clone())
        .execute(self.pool())
        .await?;
        if updated.rows_affected() > 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO failed_communications (id, at, computer_name, remote_address, code, message, first_at, repeats) \
             VALUES ($1, $2, $3, $4, $5, $6, $2, 1)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(at)
        .bind(f.computer_name.clone())
        .bind(f.remote_address.clone())
        .bind(&f.code)
        .bind(&f.message)
        .execute(self.pool())
        .await?;
        sqlx::query(
            "DELETE FROM failed_communications WHERE at < \
             (SELECT at FROM failed_communications ORDER BY at DESC LIMIT 1 OFFSET $1)",
        )
        .bind(MAX_FAILED_COMMUNICATIONS - 1)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` refusals, newest first (the latest of each source).
    pub async fn failed_communications(&self, limit: u32) -> Result<Vec<FailedCommunication>> {
        Ok(self
            .failed_sources(limit)
            .await?
            .into_iter()
            .map(|s| s.last)
            .collect())
    }

    /// The `limit` sources refused most recently, newest first, with their counts.
    pub async fn failed_sources(&self, limit: u32) -> Result<Vec<FailedSource>> {
        let rows = sqlx::query(
            "SELECT at, computer_name, remote_address, code, message, first_at, repeats FROM failed_communications \
             ORDER BY at DESC, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(failed_source).collect()
    }

    /// Deletes refusals older than `before`; returns how many.
    pub async fn sweep_failed_communications(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM failed_communications WHERE at < $1")
            .bind(to_ms(before))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Records `nonce` in `scope` until `keep_for` from `now`; false when it was already seen
    /// (a replay). The check and the record are one statement, so two racing copies cannot both pass.
    pub async fn remember_nonce(
        &self,
        scope: &str,
        nonce: &str,
        now: DateTime<Utc>,
        keep_for: Duration,
    ) -> Result<bool> {
        let new = self
            .write(super::writer::Write::Nonce {
                scope: scope.to_string(),
                nonce: nonce.to_string(),
                expires_at: to_ms(now + keep_for),
                contact: None,
            })
            .await?;
        Ok(new > 0)
    }

    /// Forgets nonces whose time is up: messages that old are refused as stale anyway.
    pub async fn sweep_nonces(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM seen_nonces WHERE expires_at < $1")
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

/// One `failed_communications` row (`at`, `computer_name`, `remote_address`, `code`, `message`,
/// `first_at`, `repeats`) as the source it counts.
pub(super) fn failed_source(row: &AnyRow) -> Result<FailedSource> {
    Ok(FailedSource {
        last: FailedCommunication {
            at: from_ms(row.try_get("at")?),
            computer_name: row.try_get("computer_name")?,
            remote_address: row.try_get("remote_address")?,
            code: row.try_get("code")?,
            message: row.try_get("message")?,
        },
        first_at: from_ms(row.try_get("first_at")?),
        repeats: row.try_get("repeats")?,
    })
}
