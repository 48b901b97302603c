//! The connection SQLite's bulk writes use. An import or a match run on SQLite goes through
//! rusqlite on a connection of its own, one prepared statement per table, so a million-object
//! import binds each value once and copies nothing on the way, where the pool's generic layer
//! converts and copies every argument several times (five times slower, measured with
//! `rehome bench directory`). The statements are the generic path's own
//! ([`super::directories`], [`super::translations`]); PostgreSQL takes the generic path.

use std::path::Path;

use rusqlite::Connection;

use crate::{Error, Result};

/// A rusqlite error as the store reports it.
pub(super) fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("database: {}", e))
}

/// A connection to the SQLite file at `path`, set up like the pool's.
pub(super) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(failed)?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -131072; \
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(failed)?;
    Ok(conn)
}

/// Rows one multi-row insert of the bulk writers takes: each statement runs the SQL engine's
/// insert program once for this many rows, its values bound by position (no parameter names
/// looked up, which made long statements of the generic path slow).
pub(super) const ROWS_AT_ONCE: usize = 32;

/// Inserts `rows` through the statement `sql(n)` of `n` rows of `cols` values each: by
/// [`ROWS_AT_ONCE`] rows at a time, the rest one at a time, each text prepared once per
/// connection. `bind` binds one row's values from the 1-based parameter `first` on.
pub(super) fn insert_rows<T>(
    tx: &rusqlite::Transaction<'_>,
    sql: impl Fn(usize) -> String,
    cols: usize,
    rows: &[T],
    bind: impl Fn(&mut rusqlite::Statement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut chunks = rows.chunks_exact(ROWS_AT_ONCE);
    if rows.len() >= ROWS_AT_ONCE {
        let mut statement = tx.prepare_cached(&sql(ROWS_AT_ONCE)).map_err(failed)?;
        for chunk in &mut chunks {
            for (i, row) in chunk.iter().enumerate() {
                bind(&mut statement, 1 + i * cols, row).map_err(failed)?;
            }
            statement.raw_execute().map_err(failed)?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut statement = tx.prepare_cached(&sql(1)).map_err(failed)?;
        for row in rest {
            bind(&mut statement, 1, row).map_err(failed)?;
            statement.raw_execute().map_err(failed)?;
        }
    }
    Ok(())
}

/// Binds `values` from the 1-based parameter `first` on.
pub(super) fn bind_all<const N: usize>(
    statement: &mut rusqlite::Statement<'_>,
    first: usize,
    values: [&dyn rusqlite::ToSql; N],
) -> rusqlite::Result<()> {
    for (i, value) in values.into_iter().enumerate() {
        statement.raw_bind_parameter(first + i, value)?;
    }
    Ok(())
}
