//! The CSV files the server writes (the translation table, the audit trail): one writer, so every
//! cell goes through [`model::csv_guard`] and a spreadsheet never reads one as a formula.

use axum::http::header;
use axum::response::IntoResponse;

use crate::{Error, Result};

/// A CSV document of `header` and `rows`, every cell guarded.
pub fn write<const N: usize>(
    header: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<String> {
    write_part(Some(header), rows)
}

/// A part of a CSV document sent in parts: `header` (the first part's) and `rows`, every cell
/// guarded.
pub fn write_part<const N: usize>(
    header: Option<[&str; N]>,
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<String> {
    let csv_err = |e: csv::Error| Error::Internal(format!("cannot write CSV: {}", e));
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(header) = header {
        w.write_record(header).map_err(csv_err)?;
    }
    for row in rows {
        w.write_record(
            row.iter()
                .map(|cell| model::csv_guard::guard(cell).into_owned()),
        )
        .map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {}", e)))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {}", e)))
}

/// `body` (a whole document or a stream of its parts) as a CSV download saved as `file_name`.
pub fn download(file_name: &str, body: impl IntoResponse) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name),
            ),
        ],
        body,
    )
}
