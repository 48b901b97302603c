//! Command packages, stored once by the SHA-256 of their bytes. The zip lives in the database
//! (base64 in a TEXT column) rather than under the data directory: replicas share only the
//! database, and any of them may be asked for a package by an agent.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::{Error, Result};

/// A stored package, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRow {
    /// Lower-case hex SHA-256 of the zip.
    pub sha256: String,
    /// The file name it was first uploaded as.
    pub name: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// When it was first uploaded.
    pub uploaded_at: DateTime<Utc>,
}

impl Store {
    /// Stores a package unless one with the same hash is stored; true when it was new.
    pub async fn insert_package(&self, row: &PackageRow, bytes: &[u8]) -> Result<bool> {
        // Keeps the first upload's name, and two replicas storing the same bytes at once cannot
        // fail on the key.
        let done = sqlx::query(
            "INSERT INTO command_packages (sha256, name, size, uploaded_at, content) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&row.sha256)
        .bind(&row.name)
        .bind(i64::try_from(row.size).unwrap_or(i64::MAX))
        .bind(to_ms(row.uploaded_at))
        .bind(B64.encode(bytes))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every package, by name, without bytes.
    pub async fn packages(&self) -> Result<Vec<PackageRow>> {
        let rows = sqlx::query(
            "SELECT sha256, name, size, uploaded_at FROM command_packages ORDER BY name, sha256",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PackageRow {
                    sha256: row.try_get("sha256")?,
                    name: row.try_get("name")?,
                    size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
                    uploaded_at: from_ms(row.try_get("uploaded_at")?),
                })
            })
            .collect()
    }

    /// Whether a package with this hash is stored.
    pub async fn has_package(&self, sha256: &str) -> Result<bool> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM command_packages WHERE sha256 = $1")
                .bind(sha256)
                .fetch_one(self.pool())
                .await?;
        Ok(count > 0)
    }

    /// A package's bytes.
    pub async fn package_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let content: Option<String> =
            sqlx::query_scalar("SELECT content FROM command_packages WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(self.pool())
                .await?;
        content
            .map(|c| {
                B64.decode(c.as_bytes()).map_err(|_| {
                    Error::Internal(format!("stored command package {} is not base64", sha256))
                })
            })
            .transpose()
    }

    /// Deletes a package; false when there was none.
    pub async fn delete_package(&self, sha256: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM command_packages WHERE sha256 = $1")
            .bind(sha256)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
