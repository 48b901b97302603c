//! Searches for the start of a text through an index: the lower-cased column compared as a
//! range (`>=` the text, `<` the text and the last character there is), which both backends
//! answer from an index on the lower-cased column (`console_indexes/`), where `LIKE 'text%'`
//! would read every row.

use super::Backend;

/// `text` lower-cased as the backend's `LOWER` does (SQLite's lowers ASCII letters only).
pub(super) fn lowered(text: &str, backend: Backend) -> String {
    match backend {
        Backend::Sqlite => text.to_ascii_lowercase(),
        Backend::Postgres => text.to_lowercase(),
    }
}

/// The bounds of the range of values that start with `prefix` (lower-cased already).
pub(super) fn bounds(prefix: &str) -> (String, String) {
    (prefix.to_string(), format!("{prefix}{}", char::MAX))
}

/// The condition that lower-cased `column` starts with the text whose [`bounds`] are the
/// placeholders `lo` and `hi`, compared byte by byte as the indexes are kept.
pub(super) fn starts_with(column: &str, lo: &str, hi: &str, backend: Backend) -> String {
    let collate = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " COLLATE \"C\"",
    };
    format!("LOWER({column}){collate} >= {lo} AND LOWER({column}){collate} < {hi}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_of_a_start_holds_every_longer_value_and_nothing_after_it() {
        let (lo, hi) = bounds("ada");
        for inside in ["ada", "ada lovelace", "adaz", "ada\u{fffd}"] {
            assert!(inside >= lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["ad", "adb", "b", "ac~"] {
            assert!(
                !(outside >= lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
        assert_eq!(lowered("Émile ADA", Backend::Sqlite), "Émile ada");
        assert_eq!(lowered("Émile ADA", Backend::Postgres), "émile ada");
        assert!(starts_with("name", "$1", "$2", Backend::Postgres).contains("COLLATE \"C\" >= $1"));
    }
}
