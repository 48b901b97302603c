//! The object types an import of each directory keeps.

use model::ids::DirectoryId;

use super::Store;
use crate::{Error, Result};

impl Store {
    /// The stored object types of `directory`'s imports, space-separated; `None` when never set.
    pub async fn directory_import_kinds(&self, directory: DirectoryId) -> Result<Option<String>> {
        let kinds: Option<Option<String>> =
            sqlx::query_scalar("SELECT import_kinds FROM directories WHERE id = $1")
                .bind(directory.to_string())
                .fetch_optional(self.pool())
                .await?;
        kinds.ok_or(Error::NotFound("directory"))
    }

    /// Stores the object types of `directory`'s imports.
    pub async fn set_directory_import_kinds(
        &self,
        directory: DirectoryId,
        kinds: &str,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE directories SET import_kinds = $1 WHERE id = $2")
            .bind(kinds)
            .bind(directory.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("directory"));
        }
        Ok(())
    }
}
