//! The CSV files the server writes (the translation table, the audit trail): one writer, so every
//! cell goes through [`model::csv_guard`] and a spreadsheet never reads one as a formula. Big
//! tables are read a chunk at a time ([`chunked`]) and sent as they are read, as CSV
//! ([`stream`]) or as a JSON array ([`stream_json`]).

use axum::http::header;
use axum::response::IntoResponse;

use crate::store::seek::{Seek, SeekPage};
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
    let body = encoded(
        line(header),
        rows,
        move |row, out: &mut Vec<u8>| {
            out.extend_from_slice(&line(cells(row).each_ref().map(String::as_str))?);
            Ok(())
        },
        None,
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

/// A JSON array of the rows `rows` yields, written as they arrive, like [`stream`]'s CSV: an API
/// answer of a million rows never sits whole in memory.
pub fn stream_json<T: serde::Serialize + Send + 'static>(
    rows: tokio::sync::mpsc::Receiver<Result<T>>,
) -> axum::response::Response {
    let mut first = true;
    let body = encoded(
        Ok(b"[".to_vec()),
        rows,
        move |row, out: &mut Vec<u8>| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, &row)
                .map_err(|e| Error::Internal(format!("cannot write JSON: {}", e)))
        },
        Some(b"]".to_vec()),
    );
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// The parts of a document sent as its rows arrive: `first`, then the rows as `write` appends
/// them, those already waiting together in parts of about 64 KiB, then `last`. A row that fails
/// ends the document there with the error, which is logged: the client sees only a broken
/// transfer.
fn encoded<T: Send + 'static>(
    first: Result<Vec<u8>>,
    rows: tokio::sync::mpsc::Receiver<Result<T>>,
    write: impl FnMut(T, &mut Vec<u8>) -> Result<()> + Send + 'static,
    last: Option<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::unfold(
        (Some(first), Some(rows), write, last),
        |(first, rows, mut write, last)| async move {
            if let Some(first) = first {
                return Some((first, (None, rows, write, last)));
            }
            let Some(mut rows) = rows else {
                return last.map(|last| (Ok(last), (None, None, write, None)));
            };
            let mut chunk = Vec::new();
            let mut next = rows.recv().await;
            while let Some(row) = next {
                if let Err(e) = row.and_then(|r| write(r, &mut chunk)) {
                    tracing::error!(error = %e, "a streamed answer stopped part way");
                    return Some((Err(e), (None, None, write, None)));
                }
                next = if chunk.len() < 64 * 1024 {
                    rows.try_recv().ok()
                } else {
                    None
                };
            }
            if chunk.is_empty() {
                // The rows have ended.
                return last.map(|last| (Ok(last), (None, None, write, None)));
            }
            Some((Ok(chunk), (None, Some(rows), write, last)))
        },
    )
}

/// Rows read `chunk` at a time by key, each chunk after the last row of the one before, sent as
/// they come: an export that never holds the whole table, nor a connection while the client
/// reads. The first error is sent last; reading stops when the receiver is dropped.
pub fn chunked<T, F, R>(chunk: u64, mut read: F) -> tokio::sync::mpsc::Receiver<Result<T>>
where
    T: Send + 'static,
    F: FnMut(Seek, u64) -> R + Send + 'static,
    R: std::future::Future<Output = Result<SeekPage<T>>> + Send,
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

    /// The numbers `0..n` read `chunk` at a time by key, as the stores' seeks read rows.
    fn numbers(n: u64, chunk: u64) -> tokio::sync::mpsc::Receiver<Result<u64>> {
        chunked(chunk, move |seek, limit| async move {
            let from = match seek {
                Seek::Offset(o) => o,
                Seek::After(k) => k.parse::<u64>().expect("a key") + 1,
                other => panic!("{other:?}"),
            };
            let rows: Vec<u64> = (from..n).take(limit as usize).collect();
            Ok(SeekPage {
                last: rows.last().map(u64::to_string),
                first: rows.first().map(u64::to_string),
                rows,
                previous: false,
                next: false,
            })
        })
    }

    async fn body(response: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the whole body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    #[tokio::test]
    async fn a_json_answer_read_in_chunks_is_one_array_of_every_row_in_order() {
        for n in [0, 1, 7, 9] {
            let text = body(stream_json(numbers(n, 3))).await;
            let rows: Vec<u64> = serde_json::from_str(&text).expect("a JSON array");
            assert_eq!(rows, (0..n).collect::<Vec<_>>(), "{text}");
        }
    }

    #[tokio::test]
    async fn a_row_that_fails_breaks_the_json_answer_instead_of_ending_it_short() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Ok(1_u64)).await.expect("sent");
        tx.send(Err(Error::Internal("the store went away".into())))
            .await
            .expect("sent");
        drop(tx);
        let read = axum::body::to_bytes(stream_json(rx).into_body(), usize::MAX).await;
        assert!(read.is_err(), "{read:?}");
    }
}
