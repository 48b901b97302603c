//! Imported computers as batches pick them: by name prefix for type-ahead, and by GUID.

use std::collections::HashMap;

use model::directory::ObjectKind;
use model::ids::{DirectoryId, ObjectGuid};
use serde::Serialize;
use sqlx::Row;

use super::{parse_text, Store};
use crate::Result;

/// An imported computer, as a picker lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputerEntry {
    /// Its objectGUID.
    pub guid: ObjectGuid,
    /// Its name.
    pub name: String,
}

/// `text` for a `LIKE … ESCAPE '!'` pattern, matching itself only: `%`, `_` and the escape
/// character are escaped.
pub(super) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// A `LIKE … ESCAPE '!'` pattern for the text that starts with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut out = like_literal(prefix);
    out.push('%');
    out
}

impl Store {
    /// Up to `limit` computers imported into `directory` whose name starts with `prefix`
    /// (ignoring case), in name order.
    pub async fn computers_by_prefix(
        &self,
        directory: DirectoryId,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<ComputerEntry>> {
        let rows = sqlx::query(
            "SELECT guid, name FROM directory_objects WHERE directory = $1 AND kind = $2 \
             AND LOWER(name) LIKE LOWER($3) ESCAPE '!' ORDER BY LOWER(name), guid LIMIT $4",
        )
        .bind(directory.to_string())
        .bind(ObjectKind::Computer.as_str())
        .bind(like_prefix(prefix))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ComputerEntry {
                    guid: parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                    name: row.try_get("name")?,
                })
            })
            .collect()
    }

    /// Every computer imported into `directory`, by GUID.
    pub async fn computer_names(
        &self,
        directory: DirectoryId,
    ) -> Result<HashMap<ObjectGuid, String>> {
        let rows = sqlx::query(
            "SELECT guid, name FROM directory_objects WHERE directory = $1 AND kind = $2",
        )
        .bind(directory.to_string())
        .bind(ObjectKind::Computer.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                    row.try_get("name")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn wildcards_in_a_prefix_match_only_themselves() {
        assert_eq!(like_prefix("PC_1%"), "PC!_1!%%");
        assert_eq!(like_prefix("a!b"), "a!!b%");
    }
}
