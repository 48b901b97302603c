//! What the console's tables share: server-side pages and links that keep the filters.

use maud::{html, Markup};
use serde::Deserialize;

use crate::store::seek::{Seek, SeekPage, COUNT_CAP};

/// Rows per page of every table.
pub const PER_PAGE: usize = 100;

/// Percent-encodes a query value.
pub fn escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `path` with the non-empty `pairs` as its query.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", k, escape(v)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{}?{}", path, query.join("&"))
    }
}

/// The page of `total` rows to show (pages count from 1; a page past the end is the last one)
/// and the rows before it, for a table paged in SQL.
pub fn page_at(total: u64, page: Option<u64>) -> (usize, u64) {
    let pages = total.div_ceil(PER_PAGE as u64).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    (
        usize::try_from(page).unwrap_or(usize::MAX),
        (page - 1) * PER_PAGE as u64,
    )
}

/// "Rows a–b of n" with links to the previous and next page, keeping the filters in `pairs`.
pub fn pager(path: &str, pairs: &[(&str, &str)], page: usize, total: usize) -> Markup {
    let pages = total.div_ceil(PER_PAGE).max(1);
    let first = if total == 0 {
        0
    } else {
        (page - 1) * PER_PAGE + 1
    };
    let last = (page * PER_PAGE).min(total);
    let at = |p: usize| {
        let p = p.to_string();
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("page", &p));
        link(path, &all)
    };
    html! {
        p.pager {
            "Rows " (first) "–" (last) " of " (total)
            @if page > 1 { " · " a rel="prev" href=(at(page - 1)) { "Previous page" } }
            @if page < pages { " · " a rel="next" href=(at(page + 1)) { "Next page" } }
        }
    }
}

/// How many rows a table's filters keep, as far as they were counted: counting stops past
/// [`COUNT_CAP`] rows, and the console then says "more than" that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// The rows counted, at most [`COUNT_CAP`].
    pub rows: u64,
    /// Counting stopped: more rows than [`COUNT_CAP`] are kept.
    pub capped: bool,
}

impl Total {
    /// A count from the store, which counts one row past the cap when there are more.
    pub fn of(counted: u64) -> Total {
        Total {
            rows: counted.min(COUNT_CAP),
            capped: counted > COUNT_CAP,
        }
    }

    /// Pages of the rows counted.
    fn pages(self) -> usize {
        usize::try_from(self.rows.div_ceil(PER_PAGE as u64).max(1)).unwrap_or(usize::MAX)
    }
}

impl std::fmt::Display for Total {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.capped {
            write!(f, "more than {}", thousands(self.rows))
        } else {
            write!(f, "{}", thousands(self.rows))
        }
    }
}

/// `n` with a comma between each group of three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a table's page starts, as its links carry it: a page number (0 when the page's place
/// is not known, past a capped count), and the key of the row the page follows (`after`) or
/// precedes (`before`), or `last` for the last page.
#[derive(Debug, Default, Deserialize)]
pub struct Cursor {
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    last: Option<String>,
}

impl Cursor {
    /// The page to show of `total` rows and where to read it: by key when the link carries one,
    /// else by page number (a page past the end is the last one; past a capped count, the last
    /// counted one). Page 0 is a page whose place is not known.
    pub fn seek(&self, total: Total) -> (usize, Seek) {
        let pages = total.pages();
        let number = self
            .page
            .as_deref()
            .and_then(|p| p.trim().parse::<usize>().ok());
        fn key(k: &Option<String>) -> Option<&str> {
            k.as_deref().map(str::trim).filter(|k| !k.is_empty())
        }
        if self.last.as_deref().is_some_and(|l| !l.trim().is_empty()) {
            return (if total.capped { 0 } else { pages }, Seek::Last);
        }
        // Past a capped count, pages reached by key go on past the pages counted.
        let reach = if total.capped { usize::MAX } else { pages };
        match (number, key(&self.after), key(&self.before)) {
            (Some(n), Some(k), _) if n > 1 || (n == 0 && total.capped) => {
                (n.min(reach), Seek::After(k.to_string()))
            }
            (Some(n), None, Some(k)) if n < pages || total.capped => {
                (n, Seek::Before(k.to_string()))
            }
            _ => {
                let (page, offset) = page_at(total.rows, number.map(|n| n as u64));
                (page, Seek::Offset(offset))
            }
        }
    }

    /// The link opens the first page: no key, no last page, no number past 1.
    fn first_page(&self) -> bool {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        !given(&self.after)
            && !given(&self.before)
            && !given(&self.last)
            && self
                .page
                .as_deref()
                .and_then(|p| p.trim().parse::<usize>().ok())
                .is_none_or(|n| n <= 1)
    }
}

/// A table paged by key: `total` counts its rows (see [`Total::of`]), `rows` reads up to
/// `PER_PAGE` of them from a seek. The total, the page shown and its rows with their first and
/// last keys. The first page is read first, and when nothing follows it its rows are the count.
pub async fn seek_paged<T, R>(
    total: impl std::future::Future<Output = crate::Result<u64>>,
    cursor: &Cursor,
    rows: impl FnOnce(Seek, u64) -> R,
) -> crate::Result<(Total, usize, SeekPage<T>)>
where
    R: std::future::Future<Output = crate::Result<SeekPage<T>>>,
{
    if cursor.first_page() {
        let page = rows(Seek::Offset(0), PER_PAGE as u64).await?;
        let total = if page.next {
            Total::of(total.await?)
        } else {
            Total::of(page.rows.len() as u64)
        };
        return Ok((total, 1, page));
    }
    let total = Total::of(total.await?);
    let (page, seek) = cursor.seek(total);
    // The last page holds what the pages before it leave, when they were all counted.
    let limit = match seek {
        Seek::Last if !total.capped => total
            .rows
            .saturating_sub((page as u64 - 1) * PER_PAGE as u64)
            .clamp(1, PER_PAGE as u64),
        _ => PER_PAGE as u64,
    };
    Ok((total, page, rows(seek, limit).await?))
}

/// "Rows a–b of n" with links to the first, previous, next and last pages, keeping the filters in
/// `pairs`; the previous and next links carry the keys of the page's first and last rows, so the
/// page they open is found by key, and they are shown when a row lies that way. A capped count
/// says so, and asks for a narrower filter.
pub fn seek_pager<T>(
    path: &str,
    pairs: &[(&str, &str)],
    page: usize,
    total: Total,
    rows: &SeekPage<T>,
) -> Markup {
    let counted = usize::try_from(total.rows).unwrap_or(usize::MAX);
    let first = if rows.rows.is_empty() {
        0
    } else {
        (page.max(1) - 1) * PER_PAGE + 1
    };
    let last = (page.max(1) - 1) * PER_PAGE + rows.rows.len();
    let at = |p: usize, extra: Option<(&str, &str)>| {
        let p = p.to_string();
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("page", &p));
        all.extend(extra);
        link(path, &all)
    };
    // Past a capped count a page's neighbours have no number either.
    let before = if page == 0 { 0 } else { page - 1 };
    let after = if page == 0 { 0 } else { page + 1 };
    html! {
        p.pager {
            @if page == 0 {
                (rows.rows.len()) " rows of " (total)
            } @else if total.capped {
                "Rows " (thousands(first as u64)) "–" (thousands(last as u64)) " of " (total)
            } @else {
                "Rows " (thousands(first as u64)) "–" (thousands(last.min(counted) as u64)) " of " (total)
            }
            @if rows.previous {
                " · " a href=(at(1, None)) { "First page" }
                @if let Some(key) = &rows.first {
                    " · " a rel="prev" href=(at(before, Some(("before", key)))) { "Previous page" }
                }
            }
            @if rows.next {
                @if let Some(key) = &rows.last {
                    " · " a rel="next" href=(at(after, Some(("after", key)))) { "Next page" }
                }
                " · " a href=(at(if total.capped { 0 } else { total.pages() }, Some(("last", "1")))) { "Last page" }
            }
        }
        @if total.capped {
            p.notice.capped role="note" {
                "More than " (thousands(COUNT_CAP)) " rows match, and counting stops there: refine \
                 the filter to count them. Next and Previous page still go through every row, and \
                 the CSV holds them all."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_with_a_key_seek_and_typed_page_numbers_still_work() {
        let cursor = |page: &str, after: &str, before: &str, last: &str| Cursor {
            page: Some(page.to_string()),
            after: Some(after.to_string()),
            before: Some(before.to_string()),
            last: Some(last.to_string()),
        };
        let exact = Total::of(1000);
        assert_eq!(cursor("3", "", "", "").seek(exact), (3, Seek::Offset(200)));
        assert_eq!(
            cursor("99", "", "", "").seek(exact),
            (10, Seek::Offset(900))
        );
        assert_eq!(
            cursor("4", "k", "", "").seek(exact),
            (4, Seek::After("k".into()))
        );
        assert_eq!(
            cursor("2", "", "k", "").seek(exact),
            (2, Seek::Before("k".into()))
        );
        assert_eq!(cursor("", "", "", "1").seek(exact), (10, Seek::Last));
        // A key on the first page, or without a page number, is not trusted to place the page.
        assert_eq!(cursor("1", "k", "", "").seek(exact), (1, Seek::Offset(0)));
        assert_eq!(cursor("x", "k", "", "").seek(exact), (1, Seek::Offset(0)));
    }

    #[test]
    fn past_a_capped_count_pages_go_on_by_key_and_typed_numbers_stop_at_the_count() {
        let cursor = |page: &str, after: &str, before: &str, last: &str| Cursor {
            page: Some(page.to_string()),
            after: Some(after.to_string()),
            before: Some(before.to_string()),
            last: Some(last.to_string()),
        };
        let capped = Total::of(COUNT_CAP + 1);
        assert!(capped.capped);
        assert_eq!(capped.to_string(), "more than 10,000");
        assert_eq!(Total::of(1234).to_string(), "1,234");
        // The last page's place is not known; a key from it keeps it unknown, a key from a
        // numbered page goes on counting.
        assert_eq!(cursor("", "", "", "1").seek(capped), (0, Seek::Last));
        assert_eq!(
            cursor("0", "", "k", "").seek(capped),
            (0, Seek::Before("k".into()))
        );
        assert_eq!(
            cursor("150", "k", "", "").seek(capped),
            (150, Seek::After("k".into()))
        );
        // A number typed by hand reads no deeper than the rows counted.
        assert_eq!(
            cursor("2500", "", "", "").seek(capped),
            (100, Seek::Offset(9_900))
        );
    }

    #[test]
    fn a_page_past_the_end_is_the_last_page() {
        assert_eq!(page_at(250, Some(9)), (3, 200));
        assert_eq!(page_at(250, None), (1, 0));
        assert_eq!(page_at(0, Some(2)), (1, 0));
    }
}
