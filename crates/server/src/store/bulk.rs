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
