//! Bulk enrollment tokens (BPRTs) of Entra directories, and the sign-ins under way that end in
//! one. The tokens and what a sign-in must keep to itself are sealed by the secret box; listing
//! never opens them.

use chrono::{DateTime, Utc};
use model::ids::{BulkTokenId, DirectoryId, EnrollmentFlowId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::sealing::{bulk_token_aad, enrollment_flow_aad};
use super::{from_ms, parse_text, to_ms, Store};
use crate::Result;

/// A bulk enrollment token as stored, without the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkTokenRow {
    /// Its id.
    pub id: BulkTokenId,
    /// The Entra directory it joins devices to.
    pub directory: DirectoryId,
    /// The display name of the package account Entra created for it.
    pub display_name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When Entra stops accepting it.
    pub expires_at: DateTime<Utc>,
}

/// Which OAuth flow a sign-in uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// The admin types a code at Microsoft's device login page.
    DeviceCode,
    /// The admin's browser is sent to Microsoft's sign-in page and back (with PKCE).
    AuthorizationCode,
}

/// A sign-in under way, without what it keeps secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentFlow {
    /// Its id.
    pub id: EnrollmentFlowId,
    /// The Entra directory the token is for.
    pub directory: DirectoryId,
    /// Device code or authorization code.
    pub kind: FlowKind,
    /// The token's display name.
    pub display_name: String,
    /// The token's validity in days.
    pub days_valid: u32,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When the sign-in can no longer complete.
    pub expires_at: DateTime<Utc>,
    /// Do not ask the token endpoint again before this.
    pub poll_after: DateTime<Utc>,
    /// Seconds between polls, as Entra asked.
    pub interval_seconds: i64,
}

fn token_from_row(row: &AnyRow) -> Result<BulkTokenRow> {
    Ok(BulkTokenRow {
        id: parse_text("bulk token id", &row.try_get::<String, _>("id")?)?,
        directory: parse_text("directory", &row.try_get::<String, _>("directory")?)?,
        display_name: row.try_get("display_name")?,
        created_at: from_ms(row.try_get("created_at")?),
        expires_at: from_ms(row.try_get("expires_at")?),
    })
}

const TOKEN_COLUMNS: &str = "id, directory, display_name, created_at, expires_at";
// Newest first; the id breaks ties between tokens made in the same millisecond.
const NEWEST_FIRST: &str = "ORDER BY created_at DESC, id DESC";

impl Store {
    /// Stores a new bulk enrollment token, sealed.
    pub async fn insert_bulk_token(&self, row: &BulkTokenRow, token: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO bulk_tokens (id, directory, display_name, created_at, expires_at, secret) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row.id.to_string())
        .bind(row.directory.to_string())
        .bind(&row.display_name)
        .bind(to_ms(row.created_at))
        .bind(to_ms(row.expires_at))
        .bind(
            self.secrets()
                .seal_str(&bulk_token_aad(&row.id.to_string()), token)?,
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A directory's tokens, newest first, without the tokens themselves.
    pub async fn bulk_tokens(&self, directory: DirectoryId) -> Result<Vec<BulkTokenRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM bulk_tokens WHERE directory = $1 {}",
            TOKEN_COLUMNS, NEWEST_FIRST
        ))
        .bind(directory.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Whether a directory has a token still valid at `now`, without opening any.
    pub async fn has_valid_bulk_token(
        &self,
        directory: DirectoryId,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bulk_tokens WHERE directory = $1 AND expires_at > $2",
        )
        .bind(directory.to_string())
        .bind(to_ms(now))
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// The newest token of a directory still valid at `now`, opened: only for an agent's
    /// encrypted assignment, never for an API answer.
    pub async fn latest_bulk_token(
        &self,
        directory: DirectoryId,
        now: DateTime<Utc>,
    ) -> Result<Option<(BulkTokenRow, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {}, secret FROM bulk_tokens WHERE directory = $1 AND expires_at > $2 {} LIMIT 1",
            TOKEN_COLUMNS, NEWEST_FIRST
        ))
        .bind(directory.to_string())
        .bind(to_ms(now))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let info = token_from_row(&row)?;
        let token = self.secrets().open_str(
            &bulk_token_aad(&info.id.to_string()),
            &row.try_get::<String, _>("secret")?,
        )?;
        Ok(Some((info, token)))
    }

    /// Deletes one of a directory's tokens; false when it has none with that id.
    pub async fn delete_bulk_token(&self, directory: DirectoryId, id: BulkTokenId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM bulk_tokens WHERE directory = $1 AND id = $2")
            .bind(directory.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a sign-in under way with what it keeps secret, sealed.
    pub async fn insert_enrollment_flow(&self, flow: &EnrollmentFlow, secret: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO enrollment_flows (id, directory, kind, display_name, days_valid, created_at, expires_at, poll_after, interval_seconds, secret) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(flow.id.to_string())
        .bind(flow.directory.to_string())
        .bind(super::enum_text(&flow.kind))
        .bind(&flow.display_name)
        .bind(i64::from(flow.days_valid))
        .bind(to_ms(flow.created_at))
        .bind(to_ms(flow.expires_at))
        .bind(to_ms(flow.poll_after))
        .bind(flow.interval_seconds)
        .bind(
            self.secrets()
                .seal_str(&enrollment_flow_aad(&flow.id.to_string()), secret)?,
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A sign-in under way with its secret, opened.
    pub async fn enrollment_flow(
        &self,
        id: EnrollmentFlowId,
    ) -> Result<Option<(EnrollmentFlow, String)>> {
        let row = sqlx::query(
            "SELECT id, directory, kind, display_name, days_valid, created_at, expires_at, poll_after, interval_seconds, secret \
             FROM enrollment_flows WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let days: i64 = row.try_get("days_valid")?;
        let flow = EnrollmentFlow {
            id,
            directory: parse_text("directory", &row.try_get::<String, _>("directory")?)?,
            kind: super::parse_enum("flow kind", &row.try_get::<String, _>("kind")?)?,
            display_name: row.try_get("display_name")?,
            days_valid: u32::try_from(days).unwrap_or(0),
            created_at: from_ms(row.try_get("created_at")?),
            expires_at: from_ms(row.try_get("expires_at")?),
            poll_after: from_ms(row.try_get("poll_after")?),
            interval_seconds: row.try_get("interval_seconds")?,
        };
        let secret = self.secrets().open_str(
            &enrollment_flow_aad(&id.to_string()),
            &row.try_get::<String, _>("secret")?,
        )?;
        Ok(Some((flow, secret)))
    }

    /// Moves the earliest next poll of a sign-in, with the interval from then on.
    pub async fn set_enrollment_poll_after(
        &self,
        id: EnrollmentFlowId,
        poll_after: DateTime<Utc>,
        interval_seconds: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE enrollment_flows SET poll_after = $1, interval_seconds = $2 WHERE id = $3",
        )
        .bind(to_ms(poll_after))
        .bind(interval_seconds)
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends a sign-in; true only for the one caller that ended it, so two completions racing
    /// cannot both make a token.
    pub async fn delete_enrollment_flow(&self, id: EnrollmentFlowId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM enrollment_flows WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Forgets sign-ins that can no longer complete.
    pub async fn delete_expired_enrollment_flows(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM enrollment_flows WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
