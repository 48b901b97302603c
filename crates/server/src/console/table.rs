//! What the console's tables share: server-side pages, links that keep the filters, and the
//! wildcard patterns filters accept.

use maud::{html, Markup};

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

/// A table paged in SQL: `total` counts its rows, `rows` reads `PER_PAGE` of them after an offset.
/// The total, the page shown (a page past the end is the last one) and its rows.
pub async fn paged<T, R>(
    total: impl std::future::Future<Output = crate::Result<u64>>,
    page: Option<u64>,
    rows: impl FnOnce(u64, u64) -> R,
) -> crate::Result<(u64, usize, Vec<T>)>
where
    R: std::future::Future<Output = crate::Result<Vec<T>>>,
{
    let total = total.await?;
    let (page, offset) = page_at(total, page);
    Ok((total, page, rows(offset, PER_PAGE as u64).await?))
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

/// A filter pattern: `*` or `%` stands for any run of characters, the rest matches ignoring
/// case; an empty pattern matches everything.
pub struct Pattern(Option<Vec<String>>);

impl Pattern {
    /// Reads `text` (`None` or blank: everything).
    pub fn new(text: Option<&str>) -> Pattern {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Pattern(None),
            Some(t) => Pattern(Some(
                t.to_lowercase()
                    .split(['*', '%'])
                    .map(str::to_string)
                    .collect(),
            )),
        }
    }

    /// Whether `value` matches. A pattern without a wildcard matches the whole value.
    pub fn matches(&self, value: &str) -> bool {
        let Some(parts) = &self.0 else {
            return true;
        };
        let value = value.to_lowercase();
        let (first, rest) = match parts.split_first() {
            Some(split) => split,
            None => return true,
        };
        if rest.is_empty() {
            return value == *first;
        }
        let Some(mut remaining) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        let (last, middle) = match rest.split_last() {
            Some(split) => split,
            None => return true,
        };
        for part in middle {
            match remaining.find(part.as_str()) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_any_run_and_plain_text_the_whole_value() {
        let p = Pattern::new(Some("WS*01"));
        assert!(p.matches("ws-berlin-01"));
        assert!(!p.matches("ws-berlin-02"));
        assert!(Pattern::new(Some("%ali%")).matches("Natalie"));
        assert!(Pattern::new(Some("alice")).matches("ALICE"));
        assert!(!Pattern::new(Some("alice")).matches("alice2"));
        assert!(Pattern::new(Some("  ")).matches("anything"));
        assert!(Pattern::new(Some("a*b*c")).matches("a-b-c"));
        assert!(!Pattern::new(Some("a*b*c")).matches("a-c-b"));
        assert!(!Pattern::new(Some("ab*ba")).matches("aba"));
    }

    #[test]
    fn a_page_past_the_end_is_the_last_page() {
        assert_eq!(page_at(250, Some(9)), (3, 200));
        assert_eq!(page_at(250, None), (1, 0));
        assert_eq!(page_at(0, Some(2)), (1, 0));
    }
}
