//! The console's search indexes (`console_indexes/sqlite.sql`) through a large bulk write on
//! SQLite: a write that changes a good part of a table drops that table's search indexes inside
//! its transaction and builds them again, sorted, before it commits. Building an index from the
//! sorted rows costs a fraction of updating it row by row at random places, and a small write (a
//! delta) keeps updating them row by row. Readers keep seeing the table as it was, indexes and
//! all, until the commit; a write that fails rolls the drop back with the rest.

use rusqlite::Transaction;

use super::super::bulk;
use crate::Result;

const SQLITE_INDEXES: &str = include_str!("../console_indexes/sqlite.sql");

/// A write changes a good part of the table when it writes more rows than this fraction (1/n)
/// of the table's rows before it: rebuilding the indexes then costs less than updating them.
const REBUILD_WHEN_OVER_ONE_IN: u64 = 4;

/// The console's `CREATE INDEX` statements on `table`, each with its index's name.
fn indexes_of(table: &str) -> Vec<(String, String)> {
    let on = format!(" ON {} (", table);
    SQLITE_INDEXES
        .split(';')
        .filter_map(|s| {
            let statement = s
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            let statement = statement.trim();
            if !statement.contains(&on) {
                return None;
            }
            let name = statement
                .strip_prefix("CREATE INDEX IF NOT EXISTS ")?
                .split_whitespace()
                .next()?
                .to_string();
            Some((name, statement.to_string()))
        })
        .collect()
}

/// The console's indexes on one table through one bulk write.
pub(in crate::store) struct DeferredIndexes {
    indexes: Vec<(String, String)>,
    /// The table's rows before the write (its largest row id: deleted rows count too).
    before: u64,
    written: u64,
    dropped: bool,
}

impl DeferredIndexes {
    /// The indexes of `table`, for a write in `tx`.
    pub(in crate::store) fn begin(tx: &Transaction<'_>, table: &str) -> Result<DeferredIndexes> {
        let before: i64 = tx
            .query_row(
                &format!("SELECT COALESCE(MAX(rowid), 0) FROM {}", table),
                [],
                |row| row.get(0),
            )
            .map_err(bulk::failed)?;
        // Only those there: an index someone dropped stays dropped.
        let mut present = tx
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")
            .map_err(bulk::failed)?;
        let mut indexes = Vec::new();
        for (name, statement) in indexes_of(table) {
            if present.exists([&name]).map_err(bulk::failed)? {
                indexes.push((name, statement));
            }
        }
        drop(present);
        Ok(DeferredIndexes {
            indexes,
            before: before.max(0) as u64,
            written: 0,
            dropped: false,
        })
    }

    /// Before `rows` more rows are written: drops the indexes once the write is large enough.
    pub(in crate::store) fn writing(&mut self, tx: &Transaction<'_>, rows: usize) -> Result<()> {
        self.written += rows as u64;
        if self.dropped || self.written * REBUILD_WHEN_OVER_ONE_IN <= self.before {
            return Ok(());
        }
        for (name, _) in &self.indexes {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {}", name))
                .map_err(bulk::failed)?;
        }
        self.dropped = true;
        Ok(())
    }

    /// Before the commit: builds again the indexes it dropped.
    pub(in crate::store) fn finish(self, tx: &Transaction<'_>) -> Result<()> {
        if self.dropped {
            for (_, statement) in &self.indexes {
                tx.execute_batch(statement).map_err(bulk::failed)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::indexes_of;

    #[test]
    fn the_console_indexes_of_a_table_are_read_from_its_statements() {
        let names: Vec<String> = indexes_of("translations")
            .into_iter()
            .map(|i| i.0)
            .collect();
        assert_eq!(
            names,
            [
                "translations_source_name_lower",
                "translations_target_name_lower",
                "translations_source_upn_lower",
                "translations_target_upn_lower",
                "translations_target_sid"
            ]
        );
        let objects = indexes_of("directory_objects");
        assert_eq!(objects.len(), 4);
        assert_eq!(
            objects[0].1,
            "CREATE INDEX IF NOT EXISTS directory_objects_name_lower ON directory_objects (LOWER(name))"
        );
        assert!(indexes_of("harvested_profiles")
            .iter()
            .all(|i| i.0.starts_with("harvested_profiles_")));
    }
}
