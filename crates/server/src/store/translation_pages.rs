//! The translation table a page at a time: searched and filtered by directory in SQL, counted
//! there, so a page answers quickly however many objects were matched.

use model::directory::TranslationEntry;
use model::ids::DirectoryId;

use super::translations::{entry_from_row, COLUMNS};
use super::Store;
use crate::Result;

/// Which rows: every field optional.
#[derive(Debug, Clone, Default)]
pub struct TranslationFilter {
    /// Text any name, UPN or SID of the row contains, ignoring case.
    pub search: Option<String>,
    /// A directory the row's source or target is in.
    pub directory: Option<DirectoryId>,
}

/// The conditions of a filter: `$1` the `LIKE` pattern or empty, `$2` the directory or empty.
const WHERE: &str = "WHERE ($1 = '' OR LOWER(source_name) LIKE $1 ESCAPE '!' \
     OR LOWER(target_name) LIKE $1 ESCAPE '!' OR LOWER(COALESCE(source_upn, '')) LIKE $1 ESCAPE '!' \
     OR LOWER(COALESCE(target_upn, '')) LIKE $1 ESCAPE '!' OR LOWER(source_sid) LIKE $1 ESCAPE '!' \
     OR LOWER(target_sid) LIKE $1 ESCAPE '!' \
     OR LOWER(COALESCE(source_on_premises_sid, '')) LIKE $1 ESCAPE '!' \
     OR LOWER(COALESCE(source_sid_history, '')) LIKE $1 ESCAPE '!' \
     OR LOWER(COALESCE(target_on_premises_sid, '')) LIKE $1 ESCAPE '!') \
     AND ($2 = '' OR source_directory = $2 OR target_directory = $2)";

impl TranslationFilter {
    /// The search as a lower-case `LIKE` pattern matching it anywhere (`!` escapes), and the
    /// directory, each empty when not given.
    fn binds(&self) -> [String; 2] {
        let search = self.search.as_deref().map(str::trim).unwrap_or_default();
        let pattern = if search.is_empty() {
            String::new()
        } else {
            let mut out = String::from("%");
            for c in search.to_lowercase().chars() {
                if matches!(c, '%' | '_' | '!') {
                    out.push('!');
                }
                out.push(c);
            }
            out.push('%');
            out
        };
        [
            pattern,
            self.directory.map(|d| d.to_string()).unwrap_or_default(),
        ]
    }
}

impl Store {
    /// How many translation rows `filter` keeps.
    pub async fn translation_count(&self, filter: &TranslationFilter) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM translations {WHERE}");
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for b in filter.binds() {
            query = query.bind(b);
        }
        Ok(u64::try_from(query.fetch_one(self.pool()).await?).unwrap_or(0))
    }

    /// The translation rows `filter` keeps, by source name, `limit` of them after skipping
    /// `offset`.
    pub async fn translation_page(
        &self,
        filter: &TranslationFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<TranslationEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM translations {WHERE} ORDER BY source_name, source_guid \
             LIMIT $3 OFFSET $4"
        );
        let mut query = sqlx::query(&sql);
        for b in filter.binds() {
            query = query.bind(b);
        }
        let rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::TranslationFilter;

    #[test]
    fn the_search_matches_anywhere_and_like_characters_are_escaped() {
        let f = TranslationFilter {
            search: Some(" Ada_1%! ".into()),
            directory: None,
        };
        assert_eq!(f.binds(), ["%ada!_1!%!!%".to_string(), String::new()]);
        assert_eq!(
            TranslationFilter::default().binds(),
            [String::new(), String::new()]
        );
    }
}
