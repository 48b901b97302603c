//! The one guard every CSV cell rehome writes goes through. A spreadsheet runs a cell that starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula (`=HYPERLINK(…)`), and the
//! names in rehome's CSVs are typed by other people (directory objects, computers, log values);
//! such a cell is written with a leading `'`, which spreadsheets show as text. [`unguard`] undoes
//! it when rehome reads its own CSV back, so the round trip is exact.

use std::borrow::Cow;

fn is_trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// `cell` as a spreadsheet will show it and not run it.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if is_trigger(c) || c == '\'' => Cow::Owned(format!("'{}", cell)),
        _ => Cow::Borrowed(cell),
    }
}

/// The cell [`guard`] was given, from what it wrote.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(|c: char| is_trigger(c) || c == '\'') => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text_and_read_back_whole() {
        for cell in [
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "'=already",
            "'plain",
            "plain",
            "",
            "a=b",
        ] {
            let written = guard(cell);
            assert!(!written.starts_with(is_trigger), "{:?}", written);
            assert_eq!(unguard(&written), cell);
        }
        assert_eq!(guard("plain"), "plain");
        assert_eq!(guard("=1+1"), "'=1+1");
    }
}
