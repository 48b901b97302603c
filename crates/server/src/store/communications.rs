//! Failed communications (agents that reached the server and were refused) and the nonces seen,
//! which make every agent message usable once.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
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

impl Store {
    /// Records a refusal.
    pub async fn insert_failed_communication(&self, f: &FailedCommunication) -> Result<()> {
        sqlx::query(
            "INSERT INTO failed_communications (id, at, computer_name, remote_address, code, message) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(to_ms(f.at))
        .bind(f.computer_name.clone())
        .bind(f.remote_address.clone())
        .bind(&f.code)
        .bind(&f.message)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest `limit` refusals, newest first.
    pub async fn failed_communications(&self, limit: u32) -> Result<Vec<FailedCommunication>> {
        let rows = sqlx::query(
            "SELECT at, computer_name, remote_address, code, message FROM failed_communications \
             ORDER BY at DESC, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FailedCommunication {
                    at: from_ms(row.try_get("at")?),
                    computer_name: row.try_get("computer_name")?,
                    remote_address: row.try_get("remote_address")?,
                    code: row.try_get("code")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
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
        let done = sqlx::query(
            "INSERT INTO seen_nonces (scope, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, nonce) DO NOTHING",
        )
        .bind(scope)
        .bind(nonce)
        .bind(to_ms(now + keep_for))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
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
