//! Files runbooks name by hash (command packages, lock-screen images), stored once by the
//! SHA-256 of their bytes. The bytes live in the database (base64 in a TEXT column) rather than
//! under the data directory: replicas share only the database, and any of them may be asked for
//! a file by an agent.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::{Error, Result};

/// What kind of file a runbook names by hash: each kind has a table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredFile {
    /// A zip with `cmdline.cmd` at its root (`command_packages`).
    CommandPackage,
    /// An image shown on the lock screen during a run (`lock_screen_images`).
    LockScreenImage,
}

impl StoredFile {
    fn table(self) -> &'static str {
        match self {
            StoredFile::CommandPackage => "command_packages",
            StoredFile::LockScreenImage => "lock_screen_images",
        }
    }
}

/// A stored file, without its bytes.
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
        self.insert_file(StoredFile::CommandPackage, row, bytes)
            .await
    }

    /// Every package, by name, without bytes.
    pub async fn packages(&self) -> Result<Vec<PackageRow>> {
        self.files(StoredFile::CommandPackage).await
    }

    /// Whether a package with this hash is stored.
    pub async fn has_package(&self, sha256: &str) -> Result<bool> {
        self.has_file(StoredFile::CommandPackage, sha256).await
    }

    /// A package's bytes.
    pub async fn package_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        self.file_bytes(StoredFile::CommandPackage, sha256).await
    }

    /// Deletes a package; false when there was none.
    pub async fn delete_package(&self, sha256: &str) -> Result<bool> {
        self.delete_file(StoredFile::CommandPackage, sha256).await
    }

    /// Stores a file of `kind` unless one with the same hash is stored; true when it was new.
    pub async fn insert_file(
        &self,
        kind: StoredFile,
        row: &PackageRow,
        bytes: &[u8],
    ) -> Result<bool> {
        // Keeps the first upload's name, and two replicas storing the same bytes at once cannot
        // fail on the key.
        let done = sqlx::query(&format!(
            "INSERT INTO {} (sha256, name, size, uploaded_at, content) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
            kind.table()
        ))
        .bind(&row.sha256)
        .bind(&row.name)
        .bind(i64::try_from(row.size).unwrap_or(i64::MAX))
        .bind(to_ms(row.uploaded_at))
        .bind(B64.encode(bytes))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every file of `kind`, by name, without bytes.
    pub async fn files(&self, kind: StoredFile) -> Result<Vec<PackageRow>> {
        let rows = sqlx::query(&format!(
            "SELECT sha256, name, size, uploaded_at FROM {} ORDER BY name, sha256",
            kind.table()
        ))
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

    /// Whether a file of `kind` with this hash is stored.
    pub async fn has_file(&self, kind: StoredFile, sha256: &str) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {} WHERE sha256 = $1",
            kind.table()
        ))
        .bind(sha256)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// The bytes of a file of `kind`.
    pub async fn file_bytes(&self, kind: StoredFile, sha256: &str) -> Result<Option<Vec<u8>>> {
        let content: Option<String> = sqlx::query_scalar(&format!(
            "SELECT content FROM {} WHERE sha256 = $1",
            kind.table()
        ))
        .bind(sha256)
        .fetch_optional(self.pool())
        .await?;
        content
            .map(|c| {
                B64.decode(c.as_bytes()).map_err(|_| {
                    Error::Internal(format!(
                        "stored file {} in {} is not base64",
                        sha256,
                        kind.table()
                    ))
                })
            })
            .transpose()
    }

    /// Deletes a file of `kind`; false when there was none.
    pub async fn delete_file(&self, kind: StoredFile, sha256: &str) -> Result<bool> {
        let done = sqlx::query(&format!("DELETE FROM {} WHERE sha256 = $1", kind.table()))
            .bind(sha256)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
