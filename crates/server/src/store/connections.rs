//! How each directory is read: its connection settings, with the secret sealed.

use model::ids::DirectoryId;
use sqlx::Row;

use super::sealing::connection_aad;
use super::Store;
use crate::{Error, Result};

impl Store {
    /// Stores how `directory` is read: `settings` as JSON, `secret` sealed (or none).
    pub async fn set_directory_connection(
        &self,
        directory: DirectoryId,
        settings: &str,
        secret: Option<&str>,
    ) -> Result<()> {
        let id = directory.to_string();
        let sealed = secret
            .map(|s| self.secrets().seal_str(&connection_aad(&id), s))
            .transpose()?;
        let done = sqlx::query(
            "UPDATE directories SET connection = $1, connection_secret = $2 WHERE id = $3",
        )
        .bind(settings)
        .bind(sealed)
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("directory"));
        }
        Ok(())
    }

    /// How `directory` is read, as stored JSON, and its opened secret: only for reading the
    /// directory, never for an API answer. `None` when it has no connection.
    pub async fn directory_connection(
        &self,
        directory: DirectoryId,
    ) -> Result<Option<(String, Option<String>)>> {
        let id = directory.to_string();
        let row =
            sqlx::query("SELECT connection, connection_secret FROM directories WHERE id = $1")
                .bind(&id)
                .fetch_optional(self.pool())
                .await?
                .ok_or(Error::NotFound("directory"))?;
        let settings: Option<String> = row.try_get("connection")?;
        let Some(settings) = settings else {
            return Ok(None);
        };
        let sealed: Option<String> = row.try_get("connection_secret")?;
        let secret = sealed
            .map(|s| self.secrets().open_str(&connection_aad(&id), &s))
            .transpose()?;
        Ok(Some((settings, secret)))
    }
}
