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

/// One CSV line of `cells`, every cell guarded.
fn line<const N: usize>(cells: [&str; N]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(
        cells
            .iter()
            .map(|cell| model::csv_guard::guard(cell).into_owned()),
    )
    .map_err(|e| Error::Internal(format!("cannot write CSV: {}", e)))?;
    w.into_inner()
        .map_err(|e| Error::Internal(format!("cannot write CSV: {}", e)))
}

/// A CSV download saved as `file_name`, of `header` and then each row `rows` yields as `cells`
/// makes it, written as the rows arrive, so an export of a million rows never sits whole in
/// memory. A row that fails ends the download there with an error (the client sees a broken
/// transfer, never a short file that looks whole).
pub fn stream<T: Send + 'static, const N: usize>(
    file_name: &str,
    header: [&str; N],
    rows: tokio::sync::mpsc::Receiver<Result<T>>,
    cells: impl Fn(T) -> [String; N] + Send + 'static,
) -> axum::response::Response {
    let first = line(header);
    let body = futures_util::stream::unfold(
        (Some(first), rows, cells),
        |(first, mut rows, cells)| async move {
            if let Some(first) = first {
                return Some((first, (None, rows, cells)));
            }
            // Rows already waiting go out together, in chunks of about 64 KiB.
            let mut chunk = Vec::new();
            let mut next = rows.recv().await;
            while let Some(row) = next {
                match row.and_then(|r| line(cells(r).each_ref().map(String::as_str))) {
                    Ok(bytes) => chunk.extend_from_slice(&bytes),
                    Err(e) => return Some((Err(e), (None, rows, cells))),
                }
                next = if chunk.len() < 64 * 1024 {
                    rows.try_recv().ok()
                } else {
                    None
                };
            }
            (!chunk.is_empty()).then_some((Ok(chunk), (None, rows, cells)))
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}
