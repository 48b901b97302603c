//! The provisioning packages of Entra directories: one per directory, sealed by the secret box.
//! Listing never opens one.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use model::ids::DirectoryId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::sealing::provisioning_package_aad;
use super::{from_ms, to_ms, Store};
use crate::{Error, Result};

/// A directory's provisioning package as stored, without the package itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningPackageRow {
    /// The Entra directory it joins devices to.
    pub directory: DirectoryId,
    /// The file name it was uploaded as.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
}

fn package_from_row(directory: DirectoryId, row: &AnyRow) -> Result<ProvisioningPackageRow> {
    let size: i64 = row.try_get("size")?;
    Ok(ProvisioningPackageRow {
        directory,
        name: row.try_get("name")?,
        size: u64::try_from(size).unwrap_or(0),
        sha256: row.try_get("sha256")?,
        uploaded_at: from_ms(row.try_get("uploaded_at")?),
    })
}

impl Store {
    /// Stores a directory's provisioning package, sealed, in place of any it had; true when it
    /// had none.
    pub async fn put_provisioning_package(
        &self,
        row: &ProvisioningPackageRow,
        bytes: &[u8],
    ) -> Result<bool> {
        let had = self
            .provisioning_package_info(row.directory)
            .await?
            .is_some();
        let directory = row.directory.to_string();
        let sealed = self
            .secrets()
            .seal_str(&provisioning_package_aad(&directory), &B64.encode(bytes))?;
        sqlx::query(
            "INSERT INTO provisioning_packages (directory, name, size, sha256, uploaded_at, secret) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (directory) DO UPDATE SET name = excluded.name, size = excluded.size, \
             sha256 = excluded.sha256, uploaded_at = excluded.uploaded_at, secret = excluded.secret",
        )
        .bind(&directory)
        .bind(&row.name)
        .bind(i64::try_from(row.size).unwrap_or(i64::MAX))
        .bind(&row.sha256)
        .bind(to_ms(row.uploaded_at))
        .bind(sealed)
        .execute(self.pool())
        .await?;
        Ok(!had)
    }

    /// A directory's provisioning package as listed, without opening it.
    pub async fn provisioning_package_info(
        &self,
        directory: DirectoryId,
    ) -> Result<Option<ProvisioningPackageRow>> {
        let row = sqlx::query(
            "SELECT name, size, sha256, uploaded_at FROM provisioning_packages WHERE directory = $1",
        )
        .bind(directory.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| package_from_row(directory, &r)).transpose()
    }

    /// A directory's provisioning package, opened: only for an agent's encrypted assignment,
    /// never for an API answer.
    pub async fn provisioning_package(
        &self,
        directory: DirectoryId,
    ) -> Result<Option<(ProvisioningPackageRow, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT name, size, sha256, uploaded_at, secret FROM provisioning_packages WHERE directory = $1",
        )
        .bind(directory.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let info = package_from_row(directory, &row)?;
        let encoded = self.secrets().open_str(
            &provisioning_package_aad(&directory.to_string()),
            &row.try_get::<String, _>("secret")?,
        )?;
        let bytes = B64.decode(encoded.as_bytes()).map_err(|_| {
            Error::Internal(format!(
                "the stored provisioning package of directory {} is not base64",
                directory
            ))
        })?;
        Ok(Some((info, bytes)))
    }

    /// Deletes a directory's provisioning package; false when it had none.
    pub async fn delete_provisioning_package(&self, directory: DirectoryId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM provisioning_packages WHERE directory = $1")
            .bind(directory.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
