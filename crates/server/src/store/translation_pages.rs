//! The translation table a page at a time: searched and filtered by directory in SQL, counted
//! there, so a page answers quickly however many objects were matched.
//!
//! A search finds the rows whose source or target name or UPN starts with the text (ignoring
//! case), or whose source or target SID starts with the text; `*` in the text stands for any
//! run of characters. Each of those is a range of an index (`console_indexes/`), so a search reads only
//! the rows it finds; a text that starts with `*` reads every row. A search that finds more rows
//! than a count goes to (every SID starts with `S-1-5-21`) walks the table in its order instead,
//! where a page's rows come first.

use model::directory::TranslationEntry;
use model::ids::DirectoryId;

use super::seek::{KeyColumn, Order, Seek, SeekPage, COUNT_CAP};
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

/// How a search's rows are read: `Narrow` gathers what each index range finds and orders that
/// (few rows), `Broad` walks the table in its order and keeps the rows the search finds (when
/// they are many, a page comes after a few of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranslationPlan {
    /// Each index range, then the order.
    Narrow,
    /// The table's order, each row tested.
    Broad,
}

/// Placeholders numbered as values are added.
#[derive(Default)]
struct Binds(Vec<String>);

impl Binds {
    fn add(&mut self, value: String) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }
}

impl TranslationFilter {
    fn search(&self, backend: Backend) -> Option<Search> {
        self.search.as_deref().and_then(|s| Search::new(s, backend))
    }

    /// The directory condition.
    fn in_directory(&self, binds: &mut Binds) -> String {
        let d = binds.add(self.directory.map(|d| d.to_string()).unwrap_or_default());
        format!("({d} = '' OR source_directory = {d} OR target_directory = {d})")
    }

    /// The conditions of `search`, one for each column it looks at: a range of that column's
    /// index, or (`indexed` false) the same test written so that no index answers it, for a
    /// walk in the table's order.
    fn arms(search: &Search, backend: Backend, indexed: bool, binds: &mut Binds) -> Vec<String> {
        let collate = match backend {
            Backend::Sqlite => "",
            Backend::Postgres => " COLLATE \"C\"",
        };
        let walked = |e: String| {
            if indexed {
                e
            } else {
                format!("({e} || '')")
            }
        };
        let (lo, hi) = super::starts::bounds(&search.prefix);
        let (lo, hi) = (binds.add(lo), binds.add(hi));
        let like = search.pattern.clone().map(|p| binds.add(p));
        let mut arms: Vec<String> = STARTS
            .iter()
            .map(|c| {
                let lower = walked(format!("LOWER({c})"));
                let mut arm = format!("{lower}{collate} >= {lo} AND {lower}{collate} < {hi}");
                if let Some(like) = &like {
                    arm.push_str(&format!(" AND LOWER({c}) LIKE {like} ESCAPE '!'"));
                }
                arm
            })
            .collect();
        let (sid_lo, sid_hi) = super::starts::bounds(&search.sid);
        let (sid_lo, sid_hi) = (binds.add(sid_lo), binds.add(sid_hi));
        for c in ["source_sid", "target_sid"] {
            let c = walked(c.to_string());
            arms.push(format!(
                "{c}{collate} >= {sid_lo} AND {c}{collate} < {sid_hi}"
            ));
        }
        arms
    }

    /// `FROM … WHERE …` of the rows the filter keeps, read as `plan` says, with its binds.
    fn rows_and_conditions(
        &self,
        backend: Backend,
        plan: TranslationPlan,
    ) -> (String, Vec<String>) {
        let mut binds = Binds::default();
        let from = match (self.search(backend), plan) {
            (None, _) => "FROM translations WHERE 1 = 1".to_string(),
            (Some(s), TranslationPlan::Narrow) => {
                let arms = Self::arms(&s, backend, true, &mut binds);
                match backend {
                    // The rows each range finds, by row id, then only those rows read: no
                    // copy of every found row to merge and order.
                    Backend::Sqlite => {
                        let ids: Vec<String> = arms
                            .into_iter()
                            .map(|arm| format!("SELECT rowid FROM translations WHERE {arm}"))
                            .collect();
                        format!(
                            "FROM translations WHERE rowid IN ({})",
                            ids.join(" UNION ALL ")
                        )
                    }
                    // A bitmap of each range's rows, or-ed.
                    Backend::Postgres => {
                        format!("FROM translations WHERE (({}))", arms.join(") OR ("))
                    }
                }
            }
            (Some(s), TranslationPlan::Broad) => {
                let arms = Self::arms(&s, backend, false, &mut binds);
                format!("FROM translations WHERE (({}))", arms.join(") OR ("))
            }
        };
        let directory = self.in_directory(&mut binds);
        (format!("{from} AND {directory}"), binds.0)
    }

    /// Each column's rows of the search in the directory, as a range of its index, with the
    /// binds of each.
    fn each_arm(&self, backend: Backend) -> Vec<(String, Vec<String>)> {
        let Some(search) = self.search(backend) else {
            return Vec::new();
        };
        (0..STARTS.len() + 2)
            .map(|i| {
                let mut binds = Binds::default();
                let arm = Self::arms(&search, backend, true, &mut binds).swap_remove(i);
                let directory = self.in_directory(&mut binds);
                (
                    format!("FROM translations WHERE {arm} AND {directory}"),
                    binds.0,
                )
            })
            .collect()
    }
}

impl Store {
    /// How `filter`'s rows are best read: broadly when one of the columns it looks at alone
    /// holds more rows than a count goes to.
    pub async fn translation_plan(&self, filter: &TranslationFilter) -> Result<TranslationPlan> {
        for (from_where, binds) in filter.each_arm(self.backend()) {
            if self.capped_count(&from_where, &binds).await? > COUNT_CAP {
                return Ok(TranslationPlan::Broad);
            }
        }
        Ok(TranslationPlan::Narrow)
    }

    /// How many translation rows `filter` keeps, no further than one past [`COUNT_CAP`].
    pub async fn translation_count(&self, filter: &TranslationFilter) -> Result<u64> {
        let plan = self.translation_plan(filter).await?;
        if plan == TranslationPlan::Broad {
            return Ok(COUNT_CAP + 1);
        }
        let (from_where, binds) = filter.rows_and_conditions(self.backend(), plan);
        self.capped_count(&from_where, &binds).await
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
        let plan = self.translation_plan(filter).await?;
        self.translation_seek_planned(filter, plan, seek, limit)
            .await
    }

    /// [`Store::translation_seek`] read as `plan` says (see [`Store::translation_plan`]), for a
    /// reader of many pages that chose once.
    pub async fn translation_seek_planned(
        &self,
        filter: &TranslationFilter,
        plan: TranslationPlan,
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<TranslationEntry>> {
        let (from_where, binds) = filter.rows_and_conditions(self.backend(), plan);
        self.translation_rows(&from_where, &binds, seek, limit)
            .await
    }

    /// The API's translation rows: those with `search` inside a name, UPN or SID, ignoring case
    /// (every row for none), by source name, `limit` of them from `seek`.
    pub async fn translations_containing(
        &self,
        search: Option<&str>,
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<TranslationEntry>> {
        let (condition, binds) = super::translations::containing(search);
        let from_where = format!("FROM translations WHERE {condition}");
        self.translation_rows(&from_where, &binds, seek, limit)
            .await
    }

    /// The rows of `from_where` (with `binds`) in the table's order, `limit` of them from `seek`.
    async fn translation_rows(
        &self,
        from_where: &str,
        binds: &[String],
        seek: Seek,
        limit: u64,
    ) -> Result<SeekPage<TranslationEntry>> {
        self.seek_of(
            (COLUMNS, from_where),
            binds,
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
