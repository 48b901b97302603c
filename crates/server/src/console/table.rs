//! What the console's tables share: server-side pages and links that keep the filters.

use maud::{html, Markup};
use serde::Deserialize;

use crate::store::seek::{Seek, SeekPage};

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

/// Where a table's page starts, as its links carry it: a page number, and the key of the row the
/// page follows (`after`) or precedes (`before`), or `last` for the last page.
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
    /// else by page number (a page past the end is the last one).
    pub fn seek(&self, total: u64) -> (usize, Seek) {
        let pages = usize::try_from(total.div_ceil(PER_PAGE as u64).max(1)).unwrap_or(usize::MAX);
        let number = self
            .page
            .as_deref()
            .and_then(|p| p.trim().parse::<usize>().ok())
            .map(|p| p.clamp(1, pages));
        fn key(k: &Option<String>) -> Option<&str> {
            k.as_deref().map(str::trim).filter(|k| !k.is_empty())
        }
        if self.last.as_deref().is_some_and(|l| !l.trim().is_empty()) {
            return (pages, Seek::Last);
        }
        match (number, key(&self.after), key(&self.before)) {
            (Some(n), Some(k), _) if n > 1 => (n, Seek::After(k.to_string())),
            (Some(n), None, Some(k)) if n < pages => (n, Seek::Before(k.to_string())),
            _ => {
                let (page, offset) = page_at(total, number.map(|n| n as u64));
                (page, Seek::Offset(offset))
            }
        }
    }
}

/// A table paged by key: `total` counts its rows, `rows` reads `PER_PAGE` of them from a seek.
/// The total, the page shown and its rows with their first and last keys.
pub async fn seek_paged<T, R>(
    total: impl std::future::Future<Output = crate::Result<u64>>,
    cursor: &Cursor,
    rows: impl FnOnce(Seek, u64) -> R,
) -> crate::Result<(u64, usize, SeekPage<T>)>
where
    R: std::future::Future<Output = crate::Result<SeekPage<T>>>,
{
    let total = total.await?;
    let (page, seek) = cursor.seek(total);
    // The last page holds what the pages before it leave.
    let limit = match seek {
        Seek::Last => total
            .saturating_sub((page as u64 - 1) * PER_PAGE as u64)
            .min(PER_PAGE as u64),
        _ => PER_PAGE as u64,
    };
    Ok((total, page, rows(seek, limit).await?))
}

/// "Rows a–b of n" with links to the first, previous, next and last pages, keeping the filters in
/// `pairs`; the previous and next links carry the keys of the page's first and last rows, so the
/// page they open is found by key.
pub fn seek_pager<T>(
    path: &str,
    pairs: &[(&str, &str)],
    page: usize,
    total: u64,
    rows: &SeekPage<T>,
) -> Markup {
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let pages = total.div_ceil(PER_PAGE).max(1);
    let first = if total == 0 {
        0
    } else {
        (page - 1) * PER_PAGE + 1
    };
    let last = ((page - 1) * PER_PAGE + rows.rows.len()).min(total);
    let at = |p: usize, extra: Option<(&str, &str)>| {
        let p = p.to_string();
        let mut all: Vec<(&str, &str)> = pairs.to_vec();
        all.push(("page", &p));
        all.extend(extra);
        link(path, &all)
    };
    html! {
        p.pager {
            "Rows " (first) "–" (last) " of " (total)
            @if page > 1 {
                " · " a href=(at(1, None)) { "First page" }
                @if let Some(key) = &rows.first {
                    " · " a rel="prev" href=(at(page - 1, Some(("before", key)))) { "Previous page" }
                }
            }
            @if page < pages {
                @if let Some(key) = &rows.last {
                    " · " a rel="next" href=(at(page + 1, Some(("after", key)))) { "Next page" }
                }
                " · " a href=(at(pages, Some(("last", "1")))) { "Last page" }
            }
        }
    }
}

/// Rows read `chunk` at a time by key, each chunk after the last row of the one before, sent as
/// they come: an export that never holds the whole table, nor a connection while the client
/// reads. The first error is sent last; reading stops when the receiver is dropped.
pub fn chunked<T, F, R>(chunk: u64, mut read: F) -> tokio::sync::mpsc::Receiver<crate::Result<T>>
where
    T: Send + 'static,
    F: FnMut(Seek, u64) -> R + Send + 'static,
    R: std::future::Future<Output = crate::Result<SeekPage<T>>> + Send,
{
    let (tx, rx) = tokio::sync::mpsc::channel(chunk.clamp(1, 4096) as usize);
    tokio::spawn(async move {
        let mut seek = Seek::Offset(0);
        loop {
            match read(seek, chunk).await {
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Ok(page) => {
                    let full = page.rows.len() as u64 >= chunk;
                    for row in page.rows {
                        if tx.send(Ok(row)).await.is_err() {
                            return;
                        }
                    }
                    match page.last {
                        Some(key) if full => seek = Seek::After(key),
                        _ => return,
                    }
                }
            }
        }
    });
    rx
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
        assert_eq!(cursor("3", "", "", "").seek(1000), (3, Seek::Offset(200)));
        assert_eq!(cursor("99", "", "", "").seek(1000), (10, Seek::Offset(900)));
        assert_eq!(
            cursor("4", "k", "", "").seek(1000),
            (4, Seek::After("k".into()))
        );
        assert_eq!(
            cursor("2", "", "k", "").seek(1000),
            (2, Seek::Before("k".into()))
        );
        assert_eq!(cursor("", "", "", "1").seek(1000), (10, Seek::Last));
        // A key on the first page, or without a page number, is not trusted to place the page.
        assert_eq!(cursor("1", "k", "", "").seek(1000), (1, Seek::Offset(0)));
        assert_eq!(cursor("x", "k", "", "").seek(1000), (1, Seek::Offset(0)));
    }

    #[test]
    fn a_page_past_the_end_is_the_last_page() {
        assert_eq!(page_at(250, Some(9)), (3, 200));
        assert_eq!(page_at(250, None), (1, 0));
        assert_eq!(page_at(0, Some(2)), (1, 0));
    }
}
