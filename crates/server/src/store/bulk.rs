//! The connection SQLite's bulk writes use. An import or a match run on SQLite goes through
//! rusqlite on a connection of its own, one prepared statement per table, so a million-object
//! import binds each value once and copies nothing on the way, where the pool's generic layer
//! converts and copies every argument several times (five times slower, measured with
//! `rehome bench directory`). The statements are the generic path's own
//! ([`super::directories`], [`super::translations`]); PostgreSQL takes the generic path, its
//! rows sent as JSON parameters ([`pg_recordset`]), and a first load into one of its empty
//! tables builds the indexes at its end too ([`PgDeferred`]).
//!
//! An import or a match run commits into the write-ahead log and leaves copying its pages into
//! the database file (the checkpoint, and its sync) to a thread of its own: a delta that changes
//! one row in a hundred still changes a page of nearly every index, and copying those pages took
//! half of its time. Readers see the commit at once; the checkpoint follows.
//!
//! A store's first match run, which fills the empty translation tables, drops their indexes at
//! its start, their keys' unique indexes included, and builds them again, each from one sorted
//! pass, just before its commit ([`Deferred`]): a million rows inserted one at a time into ten
//! indexes change pages at random all over them, which a sort and an in-order build do not. The
//! transaction covers both, so a run that fails leaves the indexes as they were. A directory's
//! first import does the same with the indexes of `directory_objects` once it has added a large
//! share of the table (`imports.rs`); each build then sorts the other directories' objects too.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use crate::{Error, Result};

/// A rusqlite error as the store reports it.
pub(super) fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("database: {}", e))
}

/// The page cache of a bulk connection, in KiB: a big import or match run does not spill its
/// dirty pages mid-transaction.
const CACHE_KIB: u32 = 128 * 1024;

/// The page cache while [`Deferred::rebuild`] builds indexes, in KiB; each build's sort keeps
/// runs of this size in memory and merges them from temporary files. Small runs sort within the
/// processor's cache: at a million users the nine builds of `translations` took 1.39–1.62 times
/// as long as the first match's inserts with 4 MiB (eleven runs), 1.83–2.03 times with 32 MiB
/// (five runs), and the run's peak was 801–834 MiB against 864–872 MiB.
const BUILD_CACHE_KIB: u32 = 4 * 1024;

/// The helper threads each index build's sort may use (`PRAGMA threads`): runs are sorted on
/// them while the build reads on. At a million users the nine builds of `translations` took
/// 6.3 s with two against 8.3 s with none, and the five of `directory_objects` after the second
/// directory's import 7.9 s against 8.6 s (one run each, back to back).
const BUILD_THREADS: u32 = 2;

/// The page cache of a first bulk load into empty tables, in KiB: no index takes its inserts,
/// every one being built at the end (the keys too, as unique indexes of their own), so it needs
/// only the pages it appends to. A million-row first match peaked at 863–872 MiB with 16 MiB,
/// 896 MiB with 64 MiB, and was no slower.
const FIRST_LOAD_CACHE_KIB: u32 = 16 * 1024;

/// The page size of a new SQLite store, in bytes (SQLite's default is 4,096). A bulk write or
/// an index build then handles half as many pages, each looked up in the write-ahead log's index
/// and in the page cache, and read with a call of its own. At a million users per directory
/// (`rehome bench directory`, one build, the page size alternating) the full import and match
/// took 26.4–28.6 s with 8 KiB pages against 31.8–40.7 s with 4 KiB. 16 KiB pages were no
/// faster in full (25.1–30.9 s) and slowed a 1 % delta's match to 0.82–1.05 s, 64 KiB pages to
/// 1.6 s, as each changed row rewrites a larger page. Check-ins and event uploads
/// (`rehome bench server`) ran at the same rates with 4 and 8 KiB. A store keeps the page size
/// it was created with: an older store goes on with 4 KiB.
pub(super) const PAGE_SIZE: u32 = 8 * 1024;

/// Gives the SQLite database `file` the page size of a new store ([`PAGE_SIZE`]) and its
/// write-ahead log, when it is new: empty (as [`super::private::private_database`] leaves it),
/// or missing when the store may create it (`create`: its URL says `mode=rwc`). Any other file
/// is left as it is, for SQLite to open or refuse.
pub(super) fn lay_out_if_new(file: &Path, create: bool) -> Result<()> {
    match std::fs::metadata(file) {
        Ok(meta) if meta.len() > 0 => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {}
        Err(_) => return Ok(()),
    }
    let conn = Connection::open(file).map_err(failed)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size = {}; PRAGMA journal_mode = WAL;",
        PAGE_SIZE
    ))
    .map_err(failed)
}

/// Makes the page cache of `conn` hold up to `kib` KiB.
fn set_cache(conn: &Connection, kib: u32) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{};", kib))
        .map_err(failed)
}

/// Makes the page cache of `conn` the one of a first bulk load.
pub(super) fn first_load_cache(conn: &Connection) -> Result<()> {
    set_cache(conn, FIRST_LOAD_CACHE_KIB)
}

/// A connection to the SQLite file at `path`, set up like the pool's but with a larger page
/// cache.
pub(super) fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(failed)?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
    )
    .map_err(failed)?;
    set_cache(&conn, CACHE_KIB)?;
    Ok(conn)
}

/// A connection for an import or a match run: like [`open`], but its commit does not checkpoint;
/// call [`checkpoint_later`] after it commits.
pub(super) fn open_deferred(path: &Path) -> Result<Connection> {
    let conn = open(path)?;
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
        .map_err(failed)?;
    Ok(conn)
}

/// A connection for a match run: like [`open_deferred`], but the sorts of the indexes a first
/// run builds ([`Deferred`]) spill to temporary files once they outgrow the page cache's size,
/// rather than holding the whole sort in memory. An import keeps its temporary storage in
/// memory: in files, a first import of a million objects took about 50 % longer.
pub(super) fn open_for_match(path: &Path) -> Result<Connection> {
    let conn = open_deferred(path)?;
    conn.execute_batch("PRAGMA temp_store = FILE;")
        .map_err(failed)?;
    Ok(conn)
}

/// The secondary indexes of a table that a bulk write dropped, as (name, the SQL that created
/// it), to build again before the write commits.
#[must_use = "the dropped indexes are built again only by Deferred::rebuild"]
pub(super) struct Deferred(Vec<(String, String)>);

impl Deferred {
    /// Within the write's transaction `tx`: when `table` holds no row, drops every index of it
    /// that has SQL of its own and is not partial (not those SQLite made for a primary key or a
    /// UNIQUE constraint, which the write's own statements look up) and returns them; otherwise
    /// drops nothing.
    pub(super) fn when_empty(tx: &Connection, table: &str) -> Result<Deferred> {
        let empty: bool = tx
            .query_row(
                &format!("SELECT NOT EXISTS (SELECT 1 FROM {})", table),
                [],
                |row| row.get(0),
            )
            .map_err(failed)?;
        if !empty {
            return Ok(Deferred::none());
        }
        Deferred::now(tx, table)
    }

    /// No index dropped.
    pub(super) fn none() -> Deferred {
        Deferred(Vec::new())
    }

    /// Within the write's transaction `tx`: drops every index of `table` that has SQL of its
    /// own, whatever the table holds, and returns them. The builds then sort every row of the
    /// table, so this pays only when the write adds a large share of it. A partial index is
    /// kept: it takes the inserts of only the rows it covers, where its build would read every
    /// row (`directory_objects_computer_name`, of the computers alone, took 0.5 s to build
    /// after a million users' first import and 1.0–1.3 s after the second's).
    pub(super) fn now(tx: &Connection, table: &str) -> Result<Deferred> {
        let indexes = tx
            .prepare(
                "SELECT s.name, s.sql FROM sqlite_schema s \
                 JOIN pragma_index_list(?1) l ON l.name = s.name \
                 WHERE s.type = 'index' AND s.tbl_name = ?1 AND s.sql IS NOT NULL \
                 AND l.partial = 0 ORDER BY s.name",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([table], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<(String, String)>>>()
            })
            .map_err(failed)?;
        for (name, _) in &indexes {
            tx.execute_batch(&format!("DROP INDEX {}", quoted(name)))
                .map_err(failed)?;
        }
        Ok(Deferred(indexes))
    }

    /// Whether any index was dropped: the table was empty.
    pub(super) fn dropped_any(&self) -> bool {
        !self.0.is_empty()
    }

    /// Builds the dropped indexes again, in the same transaction, before it commits. Each build
    /// sorts in at most the page cache's size of memory, its temporary storage in files for
    /// the builds, so the cache is made smaller for them ([`BUILD_CACHE_KIB`]): at a million
    /// rows a sort then merges runs from temporary files, where with the whole cache it held
    /// 128 MiB beside the cache's own pages.
    pub(super) fn rebuild(self, tx: &Connection) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        tracing::info!(
            indexes = self.0.len(),
            "building the indexes of a bulk load"
        );
        let temp_store: i64 = tx
            .query_row("PRAGMA temp_store", [], |row| row.get(0))
            .map_err(failed)?;
        set_cache(tx, BUILD_CACHE_KIB)?;
        tx.execute_batch(&format!(
            "PRAGMA temp_store = FILE; PRAGMA threads = {};",
            BUILD_THREADS
        ))
        .map_err(failed)?;
        for (name, sql) in self.0 {
            let started = std::time::Instant::now();
            tx.execute_batch(&sql).map_err(failed)?;
            tracing::debug!(index = %name, ms = started.elapsed().as_millis() as u64, "index built");
        }
        tx.execute_batch(&format!(
            "PRAGMA temp_store = {}; PRAGMA threads = 0;",
            temp_store
        ))
        .map_err(failed)?;
        set_cache(tx, CACHE_KIB)?;
        Ok(())
    }
}

/// The memory each index build of [`PgDeferred::rebuild`] may sort in on PostgreSQL (its
/// `maintenance_work_mem` for the transaction): the server's default of 64 MB spills a
/// million-row sort to temporary files.
const PG_BUILD_MEMORY: &str = "256MB";

/// PostgreSQL's [`Deferred`]: the secondary indexes of a table that a first bulk load into it
/// dropped within its transaction, as (name, the SQL that created it), to build again before it
/// commits. Dropping an index locks its table until the commit, so readers of the table wait for
/// the load: it is done only when the table holds no row, when there is nothing yet for them to
/// read. Only indexes of their own are dropped, not those behind a primary key or a constraint,
/// which the load's `ON CONFLICT` clauses name, nor partial ones.
#[must_use = "the dropped indexes are built again only by PgDeferred::rebuild"]
pub(super) struct PgDeferred(Vec<(String, String)>);

impl PgDeferred {
    /// No index dropped.
    pub(super) fn none() -> PgDeferred {
        PgDeferred(Vec::new())
    }

    /// Within the load's transaction `tx`: when `table` holds no row, drops its indexes (see
    /// [`PgDeferred`]) and returns them; otherwise drops nothing. One load at a time does this
    /// for a table (a lock held to the commit), so two first loads that start together cannot
    /// each wait for the other's lock: the second writes into the indexes as usual.
    pub(super) async fn when_empty(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        table: &str,
    ) -> Result<PgDeferred> {
        let first: bool = sqlx::query_scalar(&format!(
            "SELECT pg_try_advisory_xact_lock(hashtext('rehome bulk load ' || current_schema() || '.' || $1)) \
             AND NOT EXISTS (SELECT 1 FROM {})",
            table
        ))
        .bind(table.to_string())
        .fetch_one(&mut **tx)
        .await?;
        if !first {
            return Ok(PgDeferred::none());
        }
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = to_regclass($1) AND i.indpred IS NULL \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) \
             ORDER BY c.relname",
        )
        .bind(table.to_string())
        .fetch_all(&mut **tx)
        .await?;
        for (name, _) in &indexes {
            sqlx::query(&format!("DROP INDEX {}", quoted(name)))
                .execute(&mut **tx)
                .await?;
        }
        Ok(PgDeferred(indexes))
    }

    /// Whether any index was dropped: the table was empty.
    pub(super) fn dropped_any(&self) -> bool {
        !self.0.is_empty()
    }

    /// Builds the dropped indexes again in `tx`, before it commits, each from one sort (its
    /// memory setting lasts until then).
    pub(super) async fn rebuild(
        self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        tracing::info!(
            indexes = self.0.len(),
            "building the indexes of a bulk load"
        );
        sqlx::query(&format!(
            "SET LOCAL maintenance_work_mem = '{}'",
            PG_BUILD_MEMORY
        ))
        .execute(&mut **tx)
        .await?;
        for (name, sql) in self.0 {
            let started = std::time::Instant::now();
            sqlx::query(&sql).execute(&mut **tx).await?;
            tracing::debug!(index = %name, ms = started.elapsed().as_millis() as u64, "index built");
        }
        Ok(())
    }
}

/// A bulk write on PostgreSQL (an import or a match run): its transaction, the rows it has
/// written and removed so far, and the indexes a first load dropped.
pub(super) struct PgLoad {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Any>,
    pool: sqlx::AnyPool,
    /// Rows written and removed so far.
    pub(super) rows: u64,
    deferred: Vec<PgDeferred>,
}

impl PgLoad {
    /// Opens the transaction of a bulk write into `tables`: the first has its indexes dropped
    /// when it is empty ([`PgDeferred::when_empty`]), and each next one too when it is empty and
    /// the one before it was.
    pub(super) async fn begin(pool: &sqlx::AnyPool, tables: &[&str]) -> Result<PgLoad> {
        let mut tx = pool.begin().await?;
        let mut deferred = Vec::new();
        for table in tables {
            let dropped = PgDeferred::when_empty(&mut tx, table).await?;
            let first = dropped.dropped_any();
            deferred.push(dropped);
            if !first {
                break;
            }
        }
        Ok(PgLoad {
            tx,
            pool: pool.clone(),
            rows: 0,
            deferred,
        })
    }

    /// Builds the dropped indexes again and commits; then, when the write was large, has
    /// `tables` analyzed ([`analyze_after`]).
    pub(super) async fn commit(mut self, tables: &str) -> Result<()> {
        for deferred in std::mem::take(&mut self.deferred) {
            deferred.rebuild(&mut self.tx).await?;
        }
        self.tx.commit().await?;
        analyze_after(&self.pool, tables, self.rows).await;
        Ok(())
    }
}

/// Rows a bulk write sends PostgreSQL in one statement, as one JSON parameter
/// ([`pg_recordset`]).
pub(super) const PG_ROWS_PER_STATEMENT: usize = 2000;

/// On PostgreSQL, the rows of one JSON parameter (`$n`, an array of objects keyed by column) as
/// a table `r` of `columns`, those named in `bigints` as BIGINT and the others as TEXT. A bulk
/// write sends its rows so, rather than as a statement of 4,000 bound parameters, each converted
/// and copied on its own: a million users' full import and match took 109.6 s instead of
/// 132.5 s (`rehome bench directory`, one run each).
pub(super) fn pg_recordset(n: usize, columns: &str, bigints: &[&str]) -> String {
    let typed: Vec<String> = columns
        .split(',')
        .map(str::trim)
        .map(|c| {
            let kind = if bigints.contains(&c) {
                "BIGINT"
            } else {
                "TEXT"
            };
            format!("{c} {kind}")
        })
        .collect();
    format!("json_to_recordset(${n}::json) AS r({})", typed.join(", "))
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The latest checkpoint thread; each waits for the one before it, so one runs at a time.
static CHECKPOINT: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

/// The checkpoint [`checkpoint_held`] holds back, if any: the file it is for, and what wakes it
/// (a message: checkpoint now; the sender dropped: a later checkpoint of the same file copies
/// its pages too, so it ends without one).
static HELD: Mutex<Option<(PathBuf, std::sync::mpsc::Sender<()>)>> = Mutex::new(None);

/// How long [`checkpoint_held`] waits for a later bulk write's checkpoint before it checkpoints
/// by itself.
const HELD_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Copies what the write-ahead log of the SQLite file at `path` holds into the file, on a thread
/// of its own, without keeping readers or writers waiting (a passive checkpoint).
pub(super) fn checkpoint_later(path: PathBuf) {
    checkpoint(path, false);
}

/// Like [`checkpoint_later`], for an import that is not a directory's first: its checkpoint
/// waits for the match run that follows it in a sync cycle, whose own checkpoint copies both
/// writes' pages once it has committed, and checkpoints by itself only when no bulk write of
/// the same file follows within [`HELD_FOR`]. Run beside the match, a delta's checkpoint shared
/// the processors and the disk with it: at a million users a 1 % delta's match took
/// 0.70–0.86 s held against 0.96–1.57 s (three runs each, alternating). A first import is not
/// held, as it would keep gigabytes of log until its match ended.
pub(super) fn checkpoint_held(path: PathBuf) {
    checkpoint(path, true);
}

fn checkpoint(path: PathBuf, held: bool) {
    let mut latest = CHECKPOINT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut holding = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match holding.take() {
        // Superseded: this checkpoint copies its pages.
        Some((file, wake)) if file == path => drop(wake),
        // Another store's: it checkpoints now.
        Some((_, wake)) => {
            let _ = wake.send(());
        }
        None => {}
    }
    let woken = held.then(|| {
        let (wake, woken) = std::sync::mpsc::channel();
        *holding = Some((path.clone(), wake));
        woken
    });
    drop(holding);
    let earlier = latest.take();
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            if let Some(earlier) = earlier {
                let _ = earlier.join();
            }
            if let Some(woken) = woken {
                if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                    woken.recv_timeout(HELD_FOR)
                {
                    return;
                }
            }
            // Never creates the file: a store removed meanwhile has nothing to copy.
            let done = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|conn| conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);"))
            .map_err(failed);
            if let Err(e) = done {
                // The pool's next commit checkpoints instead.
                tracing::warn!(error = %e, "the write-ahead log could not be checkpointed");
            }
        });
    match spawned {
        Ok(handle) => *latest = Some(handle),
        Err(e) => tracing::warn!(error = %e, "no thread to checkpoint the write-ahead log"),
    }
}

/// The thread [`drop_elsewhere`] hands values to, once started.
static DROPPER: Mutex<Option<std::sync::mpsc::SyncSender<Box<dyn Send>>>> = Mutex::new(None);

/// Pages of values waiting for the [`DROPPER`] thread at most; a bulk writer that gets ahead of
/// it waits.
const DROPS_WAITING: usize = 16;

/// Drops `value` on a thread of its own rather than the caller's. A bulk writer's thread sets
/// the pace of an import or a match run, while the thread that reads and plans it has time to
/// spare: freeing each page of objects once written took 0.4 s of a million-user import's
/// writer.
pub(super) fn drop_elsewhere<T: Send + 'static>(value: T) {
    let mut dropper = DROPPER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if dropper.is_none() {
        let (send, received) = std::sync::mpsc::sync_channel::<Box<dyn Send>>(DROPS_WAITING);
        let spawned = std::thread::Builder::new()
            .name("bulk-drop".into())
            .spawn(move || received.into_iter().for_each(drop));
        if spawned.is_ok() {
            *dropper = Some(send);
        }
    }
    let Some(send) = dropper.as_ref() else {
        // No thread to drop it on: dropped here.
        return;
    };
    let send = send.clone();
    // Not held while waiting for room, so other writers are not kept waiting too.
    drop(dropper);
    // A value the thread cannot take (it ended) is dropped here, as the send hands it back.
    let _ = send.send(Box::new(value));
}

/// Hands the heap's free pages back to the system once a bulk write has closed its connection.
/// Its page cache (up to 128 MiB) was freed on the writer's thread, into that thread's allocator
/// arena, where it stayed out of reach of the next import or match run on another thread: each
/// bulk write added its cache to the process's memory again.
pub(super) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Waits until the checkpoints started so far have ended (a benchmark's figures, a test); one
/// held back ([`checkpoint_held`]) checkpoints at once.
pub fn settle() {
    if let Some((_, wake)) = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
    {
        let _ = wake.send(());
    }
    loop {
        let latest = CHECKPOINT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match latest {
            Some(handle) => {
                let _ = handle.join();
            }
            None => return,
        }
    }
}

/// Rows an import or a match run writes on PostgreSQL from which it analyzes the tables it wrote
/// once it has committed.
pub(super) const ANALYZED_FROM: u64 = 10_000;

/// On PostgreSQL, after a commit that wrote `rows` rows to `tables`: when that is many, has them
/// analyzed, so that the next small write plans its statements for their new size. A table
/// filled by a first import or match and not yet analyzed by autovacuum looked empty, and a
/// delta's `DELETE … WHERE guid IN (…)` read all of its million rows for each part (1.4 s).
pub(super) async fn analyze_after(pool: &sqlx::AnyPool, tables: &str, rows: u64) {
    if rows < ANALYZED_FROM {
        return;
    }
    if let Err(e) = sqlx::query(&format!("ANALYZE {}", tables))
        .execute(pool)
        .await
    {
        // Autovacuum analyzes them later in any case.
        tracing::warn!(error = %e, tables, "tables not analyzed after a large write");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite file in `dir` whose write-ahead log holds a table of 2,000 rows, none of them
    /// copied into the file yet, and the connection that keeps it so (the last connection to
    /// close checkpoints).
    fn logged(dir: &Path, name: &str) -> (PathBuf, Connection) {
        let path = dir.join(name);
        let conn = open_deferred(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (a TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t SELECT printf('%0100d', i) FROM n;",
        )
        .expect("rows");
        (path, conn)
    }

    fn copied_into_the_file(path: &Path) -> bool {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) > 100 * 1024
    }

    #[test]
    fn a_held_checkpoint_is_done_by_the_next_one_of_its_file_or_at_settle() {
        let dir = super::super::testing::TestDir::new();

        // Superseded by a later checkpoint of the same file, which copies its pages too.
        let (first, _open) = logged(dir.path(), "first.db");
        assert!(!copied_into_the_file(&first));
        checkpoint_held(first.clone());
        checkpoint_later(first.clone());
        settle();
        assert!(copied_into_the_file(&first));

        // Held alone: settling checkpoints it at once rather than after HELD_FOR.
        let (second, _open) = logged(dir.path(), "second.db");
        checkpoint_held(second.clone());
        let started = std::time::Instant::now();
        settle();
        assert!(copied_into_the_file(&second));
        assert!(started.elapsed() < HELD_FOR);

        // Held, then another file's checkpoint: both files are copied.
        let (third, _open) = logged(dir.path(), "third.db");
        let (fourth, _also_open) = logged(dir.path(), "fourth.db");
        assert!(!copied_into_the_file(&third));
        checkpoint_held(third.clone());
        checkpoint_later(fourth.clone());
        settle();
        assert!(copied_into_the_file(&third));
        assert!(copied_into_the_file(&fourth));
    }
}
