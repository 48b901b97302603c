//! Keyset ("seek") paging for the console's tables: a page after or before a row is found from
//! that row's sort key through an index, however deep it lies, where `OFFSET` would read and
//! drop every row before it. Page numbers typed by hand still work (by offset); the links a page
//! gives to the next, previous and last pages carry keys.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::Store;
use crate::Result;

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seek {
    /// This many rows in: the first page, or a page number typed by hand.
    Offset(u64),
    /// The rows that follow the row of this key (a "Next page" link).
    After(String),
    /// The rows that come just before the row of this key (a "Previous page" link).
    Before(String),
    /// The last rows of the table (a "Last page" link).
    Last,
}

impl Default for Seek {
    fn default() -> Seek {
        Seek::Offset(0)
    }
}

/// A page of rows read by key, with the keys of its first and last rows for the links to the
/// pages around it, and whether rows lie before and after it (read one row further, never
/// counted).
#[derive(Debug, Clone)]
pub struct SeekPage<T> {
    /// The rows, in the table's order.
    pub rows: Vec<T>,
    /// The first row's key.
    pub first: Option<String>,
    /// The last row's key.
    pub last: Option<String>,
    /// Rows come before the first one.
    pub previous: bool,
    /// Rows come after the last one.
    pub next: bool,
}

impl<T> SeekPage<T> {
    /// A page with no rows and nothing around it.
    pub fn empty() -> SeekPage<T> {
        SeekPage {
            rows: Vec::new(),
            first: None,
            last: None,
            previous: false,
            next: false,
        }
    }

    /// The same page with each row mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> SeekPage<U> {
        SeekPage {
            rows: self.rows.into_iter().map(f).collect(),
            first: self.first,
            last: self.last,
            previous: self.previous,
            next: self.next,
        }
    }
}

/// A table's count stops at this many rows and more: beyond it the console says "more than"
/// rather than read every row a broad filter keeps, and page numbers typed by hand go no deeper.
pub const COUNT_CAP: u64 = 10_000;

/// One column of a table's sort key: an SQL expression and whether it holds integers.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeyColumn(pub &'static str, pub bool);

/// A table's order: the key columns (unique together), all ascending or all descending. The
/// first `lead` columns, when they are those of an index of the outer table of a join, also
/// bound the rows on their own, which that index answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Order {
    pub columns: &'static [KeyColumn],
    pub descending: bool,
    pub lead: usize,
}

/// A key's values, as they travel in a link: a JSON list of strings, base64url.
fn encode(values: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(values).unwrap_or_default())
}

/// A key from a link, when it is one of `columns` values; anything else reads as no key (the
/// first page) rather than an error, as links are typed and cut by hand.
fn decode(text: &str, columns: &[KeyColumn]) -> Option<Vec<String>> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    let values: Vec<String> = serde_json::from_slice(&bytes).ok()?;
    let fits = values.len() == columns.len()
        && columns
            .iter()
            .zip(&values)
            .all(|(c, v)| !c.1 || v.parse::<i64>().is_ok());
    fits.then_some(values)
}

/// From this many rows in, a page typed by number finds its key first (see [`Store::seek_of`]).
const PROBE_FROM: u64 = 1_000;

/// A value to bind: text or an integer.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// The statement of a page: `select` (its columns), `from_where` (`FROM … WHERE …`, with `binds`
/// filling `$1…$n`), the sort key aliased `k0…` and the seek condition, order and limit.
struct Built {
    sql: String,
    binds: Vec<Bind>,
    reversed: bool,
}

fn build(
    select: &str,
    from_where: &str,
    binds: &[String],
    order: Order,
    seek: &Seek,
    limit: u64,
) -> Built {
    let mut all: Vec<Bind> = binds.iter().cloned().map(Bind::Text).collect();
    let keys: Vec<String> = order
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} AS k{i}", c.0))
        .collect();
    let exprs: Vec<&str> = order.columns.iter().map(|c| c.0).collect();
    let (key, reversed, offset) = match seek {
        Seek::Offset(n) => (None, false, *n),
        Seek::After(k) => (decode(k, order.columns).map(|v| (v, true)), false, 0),
        Seek::Before(k) => (decode(k, order.columns).map(|v| (v, false)), true, 0),
        Seek::Last => (None, true, 0),
    };
    let mut condition = String::new();
    if let Some((values, after)) = key {
        let mut params = Vec::new();
        for (c, v) in order.columns.iter().zip(values) {
            all.push(if c.1 {
                Bind::Int(v.parse().unwrap_or_default())
            } else {
                Bind::Text(v)
            });
            params.push(format!("${}", all.len()));
        }
        // Ascending and after, or descending and before: the greater keys.
        let op = if after != order.descending { ">" } else { "<" };
        condition = format!(" AND ({}) {op} ({})", exprs.join(", "), params.join(", "));
        let lead = order.lead.min(exprs.len());
        if lead > 0 {
            condition = format!(
                " AND ({}) {op}= ({}){condition}",
                exprs[..lead].join(", "),
                params[..lead].join(", ")
            );
        }
    }
    let descending = order.descending != reversed;
    let direction = if descending { " DESC" } else { "" };
    let order_by: Vec<String> = exprs.iter().map(|e| format!("{e}{direction}")).collect();
    all.push(Bind::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    all.push(Bind::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    let n = all.len();
    Built {
        sql: format!(
            "SELECT {select}, {} {from_where}{condition} ORDER BY {} LIMIT ${} OFFSET ${n}",
            keys.join(", "),
            order_by.join(", "),
            n - 1
        ),
        binds: all,
        reversed,
    }
}

/// The key of a row read by [`build`]'s statement.
fn key_of(row: &AnyRow, order: Order) -> Result<String> {
    let mut values = Vec::with_capacity(order.columns.len());
    for (i, c) in order.columns.iter().enumerate() {
        let name = format!("k{i}");
        values.push(if c.1 {
            row.try_get::<i64, _>(name.as_str())?.to_string()
        } else {
            row.try_get::<String, _>(name.as_str())?
        });
    }
    Ok(encode(&values))
}

impl Store {
    /// A page of `limit` rows from `seek`: see [`build`] for the parts of the statement, `map`
    /// reads each row.
    pub(super) async fn seek_of<T>(
        &self,
        (select, from_where): (&str, &str),
        binds: &[String],
        order: Order,
        seek: Seek,
        limit: u64,
        map: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<SeekPage<T>> {
        self.seek_probed(
            (select, from_where, from_where),
            binds,
            order,
            seek,
            limit,
            map,
        )
        .await
    }

    /// [`Store::seek_of`] with its own `FROM … WHERE …` for finding the key of a page typed by
    /// number (`probe`, keeping the same rows with the same placeholders), for a table whose
    /// page joins what its key does not need.
    pub(super) async fn seek_probed<T>(
        &self,
        (select, from_where, probe): (&str, &str, &str),
        binds: &[String],
        order: Order,
        seek: Seek,
        limit: u64,
        map: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<SeekPage<T>> {
        // A page typed by number, deep in the table: its key is found first by a statement that
        // reads only the key's columns (from the indexes), and the page is read after it, so only
        // its own rows are read in full.
        let seek = match seek {
            Seek::Offset(n) if n >= PROBE_FROM => {
                let key_only = build("1 AS one", probe, binds, order, &Seek::Offset(n - 1), 1);
                match self.rows_built(&key_only).await?.first() {
                    Some(row) => Seek::After(key_of(row, order)?),
                    None => return Ok(SeekPage::empty()),
                }
            }
            other => other,
        };
        // One row more than the page says whether another page follows in the direction read.
        let built = build(
            select,
            from_where,
            binds,
            order,
            &seek,
            limit.saturating_add(1),
        );
        let mut rows = self.rows_built(&built).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        if built.reversed {
            rows.reverse();
        }
        let (previous, next) = match seek {
            Seek::Offset(n) => (n > 0, more),
            Seek::After(_) => (true, more),
            Seek::Before(_) => (more, true),
            Seek::Last => (more, false),
        };
        let first = rows.first().map(|r| key_of(r, order)).transpose()?;
        let last = rows.last().map(|r| key_of(r, order)).transpose()?;
        Ok(SeekPage {
            rows: rows.iter().map(map).collect::<Result<Vec<T>>>()?,
            first,
            last,
            previous,
            next,
        })
    }

    /// How many rows `from_where` (`FROM … WHERE …`, `binds` filling its placeholders) keeps,
    /// counting no further than one past [`COUNT_CAP`]: a broad filter stops after that many.
    pub(super) async fn capped_count(&self, from_where: &str, binds: &[String]) -> Result<u64> {
        self.count_up_to(from_where, binds, COUNT_CAP + 1).await
    }

    /// How many rows `from_where` keeps, counting no further than `most`: a cheap test of
    /// whether a filter keeps few rows.
    pub(super) async fn count_up_to(
        &self,
        from_where: &str,
        binds: &[String],
        most: u64,
    ) -> Result<u64> {
        let sql =
            format!("SELECT COUNT(*) FROM (SELECT 1 AS one {from_where} LIMIT {most}) capped");
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for b in binds {
            query = query.bind(b.clone());
        }
        Ok(u64::try_from(query.fetch_one(self.pool()).await?).unwrap_or(0))
    }

    /// The rows of a built statement.
    async fn rows_built(&self, built: &Built) -> Result<Vec<AnyRow>> {
        let mut query = sqlx::query(&built.sql);
        for b in &built.binds {
            query = match b {
                Bind::Text(t) => query.bind(t.clone()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        Ok(query.fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [KeyColumn; 2] = [KeyColumn("name", false), KeyColumn("at", true)];

    #[test]
    fn a_key_survives_its_link_and_a_damaged_one_is_no_key() {
        let values = vec!["ws-01".to_string(), "42".to_string()];
        assert_eq!(decode(&encode(&values), &COLUMNS), Some(values));
        assert_eq!(decode("not a key", &COLUMNS), None);
        let not_a_number = encode(&["ws-01".to_string(), "x".to_string()]);
        assert_eq!(decode(&not_a_number, &COLUMNS), None);
    }

    #[test]
    fn pages_after_and_before_a_key_compare_the_whole_key_in_the_tables_order() {
        let order = Order {
            columns: &COLUMNS,
            descending: false,
            lead: 0,
        };
        let key = encode(&["ws".to_string(), "7".to_string()]);
        let after = build(
            "x",
            "FROM t WHERE a = $1",
            &["a".into()],
            order,
            &Seek::After(key.clone()),
            100,
        );
        assert!(after
            .sql
            .contains("AND (name, at) > ($2, $3) ORDER BY name, at LIMIT $4 OFFSET $5"));
        assert!(!after.reversed);
        let before = build(
            "x",
            "FROM t WHERE 1 = 1",
            &[],
            order,
            &Seek::Before(key),
            100,
        );
        assert!(before
            .sql
            .contains("AND (name, at) < ($1, $2) ORDER BY name DESC, at DESC"));
        assert!(before.reversed);
        let newest_first = Order {
            columns: &COLUMNS,
            descending: true,
            lead: 0,
        };
        let key = encode(&["ws".to_string(), "7".to_string()]);
        let next = build(
            "x",
            "FROM t WHERE 1 = 1",
            &[],
            newest_first,
            &Seek::After(key),
            100,
        );
        assert!(next
            .sql
            .contains("(name, at) < ($1, $2) ORDER BY name DESC, at DESC"));
        let last = build(
            "x",
            "FROM t WHERE 1 = 1",
            &[],
            newest_first,
            &Seek::Last,
            100,
        );
        assert!(last.sql.contains("ORDER BY name, at LIMIT"));
        assert!(last.reversed);
        let led = Order {
            columns: &COLUMNS,
            descending: false,
            lead: 1,
        };
        let key = encode(&["ws".to_string(), "7".to_string()]);
        let next = build("x", "FROM t WHERE 1 = 1", &[], led, &Seek::After(key), 100);
        assert!(
            next.sql
                .contains("AND (name) >= ($1) AND (name, at) > ($1, $2)"),
            "{}",
            next.sql
        );
    }
}
