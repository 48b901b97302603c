//! The translation table a page at a time: searched and filtered by directory in SQL, counted
//! there, so a page answers quickly however many objects were matched.
//!
//! A search finds the rows whose source or target name or UPN starts with the text (ignoring
//! case), or whose source or target SID starts with the text; `*` in the text stands for any
//! run of characters. Each of those is a range of an index (`console_indexes/`), so a search reads only
//! the rows it finds; a text that starts with `*` reads every row.

use model::directory::TranslationEntry;
use model::ids::DirectoryId;

use super::seek::{KeyColumn, Order, Seek, SeekPage};
use super::translations::{entry_from_row, COLUMNS};
use super::{Backend, Store};
use crate::Result;

/// Which rows: every field optional.
#[derive(Debug, Clone, Default)]
pub struct TranslationFilter {
    /// The start of a name, UPN or SID of the row, ignoring case; `*` for any run of characters.
    pub search: Option<String>,
    /// A directory the row's source or target is in.
    pub directory: Option<DirectoryId>,
}

/// The table's order: by source name, then the rest of the primary key.
const ORDER: Order = Order {
    columns: &[
        KeyColumn("source_name", false),
        KeyColumn("source_guid", false),
        KeyColumn("target_directory", false),
    ],
    descending: false,
    lead: 0,
};

/// The lower-cased columns a search looks at the start of.
const STARTS: [&str; 4] = ["source_name", "target_name", "source_upn", "target_upn"];

/// A search's parts: the lower-cased text before the first `*` (what the indexes find), the
/// whole text as a `LIKE` pattern when it has a `*` (`!` escapes), and the upper-cased text before
/// the first `*` as the start of a SID.
#[derive(Debug, PartialEq, Eq)]
struct Search {
    prefix: String,
    pattern: Option<String>,
    sid: String,
}

impl Search {
    /// `text` lower-cased as the backend's `LOWER` does: SQLite's lowers ASCII letters only.
    fn new(text: &str, backend: Backend) -> Option<Search> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let lower = super::starts::lowered(text, backend);
        let prefix = lower.split('*').next().unwrap_or_default().to_string();
        let pattern = lower.contains('*').then(|| {
            let mut out = String::new();
            for c in lower.chars() {
                match c {
                    '*' => out.push('%'),
                    '%' | '_' | '!' => {
                        out.push('!');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out.push('%');
            out
        });
        Some(Search {
            prefix,
            pattern,
            sid: text.split('*').next().unwrap_or_default().to_uppercase(),
        })
    }
}

impl TranslationFilter {
    /// `FROM …` (the rows the search finds, or the whole table) with `WHERE` and its binds.
    fn rows_and_conditions(&self, backend: Backend) -> (String, Vec<String>) {
        let mut binds = Vec::new();
        let mut bind = |v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        let search = self.search.as_deref().and_then(|s| Search::new(s, backend));
        let from = match search {
            None => "translations".to_string(),
            Some(s) => {
                let (lo, hi) = super::starts::bounds(&s.prefix);
                let (lo, hi) = (bind(lo), bind(hi));
                let like = s.pattern.map(&mut bind);
                let mut arms: Vec<String> = STARTS
                    .iter()
                    .map(|c| {
                        let mut arm = super::starts::starts_with(c, &lo, &hi, backend);
                        if let Some(like) = &like {
                            arm.push_str(&format!(" AND LOWER({c}) LIKE {like} ESCAPE '!'"));
                        }
                        format!("SELECT {COLUMNS} FROM translations WHERE {arm}")
                    })
                    .collect();
                let (sid_lo, sid_hi) = super::starts::bounds(&s.sid);
                let (sid_lo, sid_hi) = (bind(sid_lo), bind(sid_hi));
                let collate = match backend {
                    Backend::Sqlite => "",
                    Backend::Postgres => " COLLATE \"C\"",
                };
                for c in ["source_sid", "target_sid"] {
                    arms.push(format!(
                        "SELECT {COLUMNS} FROM translations WHERE {c}{collate} >= {sid_lo} AND {c}{collate} < {sid_hi}"
                    ));
                }
                format!("({}) t", arms.join(" UNION "))
            }
        };
        let directory = self.directory.map(|d| d.to_string()).unwrap_or_default();
        let d = bind(directory);
        (
            format!(
                "FROM {from} WHERE ({d} = '' OR source_directory = {d} OR target_directory = {d})"
            ),
            binds,
        )
    }
}

impl Store {
    /// How many translation rows `filter` keeps.
    pub async fn translation_count(&self, filter: &TranslationFilter) -> Result<u64> {
        let (from_where, binds) = filter.rows_and_conditions(self.backend());
        self.count_of(&format!("SELECT COUNT(*) {from_where}"), &binds)
            .await
    }

    /// The translation rows `filter` keeps, by source name, `limit` of them after skipping
    /// `offset`.
    pub async fn translation_page(
        &self,
        filter: &TranslationFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<TranslationEntry>> {
        Ok(self
            .translation_seek(filter, Seek::Offset(offset), limit)
            .await?
            .rows)
    }

    /// The translation rows `filter` keeps, by source name, `limit` of them from `seek`.
    pub async fn translation_seek(
        &self,
        filter: &TranslationFilter,
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<TranslationEntry>> {
        let (from_where, binds) = filter.rows_and_conditions(self.backend());
        self.seek_of(
            (COLUMNS, &from_where),
            &binds,
            ORDER,
            seek,
            limit,
            entry_from_row,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, Search};

    #[test]
    fn a_search_is_a_start_unless_it_has_wildcards_and_like_characters_are_escaped() {
        assert_eq!(
            Search::new(" Ada ", Backend::Sqlite),
            Some(Search {
                prefix: "ada".into(),
                pattern: None,
                sid: "ADA".into()
            })
        );
        let wild = Search::new("Ada_1*x%", Backend::Sqlite).expect("a search");
        assert_eq!(wild.prefix, "ada_1");
        assert_eq!(wild.sid, "ADA_1");
        assert_eq!(wild.pattern.as_deref(), Some("ada!_1%x!%%"));
        assert_eq!(Search::new("  ", Backend::Sqlite), None);
        // SQLite's LOWER leaves other letters as they are, PostgreSQL's does not.
        assert_eq!(
            Search::new("Émile", Backend::Sqlite).map(|s| s.prefix),
            Some("Émile".into())
        );
        assert_eq!(
            Search::new("Émile", Backend::Postgres).map(|s| s.prefix),
            Some("émile".into())
        );
    }
}
