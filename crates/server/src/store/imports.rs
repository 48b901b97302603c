//! Writing an import: the objects that changed, the directory's generation, cursor and domain id,
//! and the record of the run, in one transaction, through sqlx on PostgreSQL and through rusqlite
//! on a SQLite file (see [`super::bulk`]).

use std::path::Path;

use chrono::{DateTime, Utc};
use model::directory::{DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use sqlx::Row;

use super::directories::{join_spaced, OBJECT_COLUMNS, OBJECT_COLUMN_COUNT};
use super::{
    bulk, from_ms, parse_text, placeholders, row_placeholders, to_ms, Store,
    PARAMS_PER_BULK_STATEMENT,
};
use crate::{Error, Result};

/// What an import read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Every object; objects not seen were deleted.
    Full,
    /// The changes since the stored cursor.
    Incremental,
}

impl ImportKind {
    /// The stable name, as stored and as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Full => "full",
            ImportKind::Incremental => "incremental",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<ImportKind> {
        match text {
            "full" => Some(ImportKind::Full),
            "incremental" => Some(ImportKind::Incremental),
            _ => None,
        }
    }
}

impl std::fmt::Display for ImportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record of one import of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRun {
    /// The directory imported.
    pub directory: DirectoryId,
    /// What the import read.
    pub kind: ImportKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// Objects in the directory after the import.
    pub total: i64,
    /// Objects new since the previous import.
    pub added: i64,
    /// Objects whose attributes changed.
    pub changed: i64,
    /// Objects gone from the directory.
    pub deleted: i64,
}

/// What an import does to a directory's cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorUpdate {
    /// Leave it as it is.
    Keep,
    /// Store this one (JSON of the source's cursor type).
    Set(String),
    /// Forget it: the next import reads everything.
    Clear,
}
// The statements of an import, written once for both paths: `$n` parameters, each used once and
// in order, bind by position in rusqlite and by number in sqlx.

/// Deletes `count` objects' rows of `table` in a directory ($1) by GUID ($2, …).
fn delete_by_guid_sql(table: &str, count: usize) -> String {
    format!(
        "DELETE FROM {} WHERE directory = $1 AND guid IN ({})",
        table,
        placeholders(2, count)
    )
}

/// Inserts or replaces objects on PostgreSQL: into a directory ($1), every column of
/// [`OBJECT_COLUMNS`] of the rows of $2 ([`ObjectRow`]s, see [`bulk::pg_recordset`]).
fn upsert_objects_sql() -> String {
    let updates: Vec<String> = object_columns()
        .filter(|c| *c != "guid")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO directory_objects (directory, {cols}) SELECT $1, {cols} FROM {} \
         ON CONFLICT (directory, guid) DO UPDATE SET {}",
        bulk::pg_recordset(2, OBJECT_COLUMNS, &["enabled", "digest"]),
        updates.join(", "),
        cols = OBJECT_COLUMNS,
    )
}

/// One object as PostgreSQL's writes send it: the columns of [`OBJECT_COLUMNS`] by name.
#[derive(Serialize)]
struct ObjectRow<'a> {
    guid: String,
    kind: &'static str,
    name: &'a str,
    sid: Option<String>,
    upn: Option<&'a str>,
    sam: Option<&'a str>,
    mail: Option<&'a str>,
    employee_id: Option<&'a str>,
    os: Option<&'a str>,
    dn: Option<&'a str>,
    given_name: Option<&'a str>,
    surname: Option<&'a str>,
    sid_history: Option<String>,
    members: Option<String>,
    device_id: Option<&'a str>,
    enabled: Option<i64>,
    digest: i64,
    on_premises_sid: Option<String>,
    immutable_id: Option<&'a str>,
}

impl<'a> ObjectRow<'a> {
    fn new(o: &'a DirectoryObject, digest: u64) -> ObjectRow<'a> {
        ObjectRow {
            guid: o.guid.to_string(),
            kind: o.kind.as_str(),
            name: &o.name,
            sid: o.sid.as_ref().map(|s| s.to_string()),
            upn: o.upn.as_deref(),
            sam: o.sam_account_name.as_deref(),
            mail: o.mail.as_deref(),
            employee_id: o.employee_id.as_deref(),
            os: o.operating_system.as_deref(),
            dn: o.dn.as_deref(),
            given_name: o.given_name.as_deref(),
            surname: o.surname.as_deref(),
            sid_history: join_spaced(&o.sid_history),
            members: join_spaced(&o.members),
            device_id: o.device_id.as_deref(),
            enabled: o.enabled.map(i64::from),
            digest: digest as i64,
            on_premises_sid: o.on_premises_sid.as_ref().map(|s| s.to_string()),
            immutable_id: o.immutable_id.as_deref(),
        }
    }
}

const BUMP_GENERATION: &str =
    "UPDATE directories SET generation = generation + 1 WHERE id = $1 RETURNING generation";
const SET_DOMAIN_ID: &str = "UPDATE directories SET domain_id = $1 WHERE id = $2";
const SET_CURSOR: &str = "UPDATE directories SET cursor = $1 WHERE id = $2";
const CLEAR_CURSOR: &str = "UPDATE directories SET cursor = NULL WHERE id = $1";
const INSERT_IMPORT_RUN: &str = "INSERT INTO import_runs \
     (id, directory, kind, started_at, duration_ms, total, added, changed, deleted) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl Store {
    /// Applies one import to `directory` and records `run`, in one transaction, so a failed import
    /// leaves the previous one whole: `upserts` are the new and changed objects, `deleted` the
    /// GUIDs gone. Only what changed is written, so a small delta of a big directory is quick.
    /// Returns the directory's new generation.
    pub async fn apply_import(
        &self,
        directory: DirectoryId,
        domain_id: Option<&str>,
        upserts: Vec<DirectoryObject>,
        deleted: Vec<ObjectGuid>,
        run: &ImportRun,
        cursor: &CursorUpdate,
    ) -> Result<i64> {
        let mut writer = self.begin_import(directory).await?;
        writer.delete(deleted).await?;
        writer.upsert(upserts).await?;
        writer.finish(domain_id, run, cursor).await
    }

    /// Opens the transaction of one import of `directory`: pages of objects go in as they are
    /// read, and [`ImportWriter::finish`] commits them with the run's record.
    pub async fn begin_import(&self, directory: DirectoryId) -> Result<ImportWriter> {
        let inner = match self.sqlite_file() {
            Some(path) => {
                let (steps, received) = tokio::sync::mpsc::channel(2);
                let done = tokio::task::spawn_blocking(move || {
                    let written = write_import_sqlite(&path, directory, received);
                    bulk::release_freed_memory();
                    written
                });
                Inner::Sqlite { steps, done }
            }
            None => {
                Inner::Postgres(bulk::PgLoad::begin(self.pool(), &["directory_objects"]).await?)
            }
        };
        Ok(ImportWriter {
            dir: directory.to_string(),
            inner,
        })
    }

    /// The imports of `directory`, newest first.
    pub async fn import_runs(&self, directory: DirectoryId) -> Result<Vec<ImportRun>> {
        let rows = sqlx::query(
            "SELECT directory, kind, started_at, duration_ms, total, added, changed, deleted FROM import_runs \
             WHERE directory = $1 ORDER BY started_at DESC, id",
        )
        .bind(directory.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ImportRun {
                    directory: parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
                    kind: {
                        let kind: String = row.try_get("kind")?;
                        ImportKind::parse(&kind).ok_or_else(|| {
                            Error::Internal(format!(
                                "stored import kind {:?} is not understood",
                                kind
                            ))
                        })?
                    },
                    started_at: from_ms(row.try_get("started_at")?),
                    duration_ms: row.try_get("duration_ms")?,
                    total: row.try_get("total")?,
                    added: row.try_get("added")?,
                    changed: row.try_get("changed")?,
                    deleted: row.try_get("deleted")?,
                })
            })
            .collect()
    }
}

/// One write of an import, in the order it is made.
enum Step {
    Delete(Vec<ObjectGuid>),
    /// Objects with their digests, worked out before they reach the writer's thread.
    Upsert(Vec<(DirectoryObject, u64)>),
    Finish(Box<Finish>),
}

/// What an import writes last: the directory's domain id and cursor, and the run's record.
struct Finish {
    domain_id: Option<String>,
    run: ImportRun,
    cursor: CursorUpdate,
}

enum Inner {
    /// A thread of its own holds the rusqlite transaction and takes the steps in order.
    Sqlite {
        steps: tokio::sync::mpsc::Sender<Step>,
        done: tokio::task::JoinHandle<Result<i64>>,
    },
    Postgres(bulk::PgLoad),
}

/// One import being written, in one transaction: deleted GUIDs and pages of new and changed
/// objects as they come, then [`ImportWriter::finish`]. Dropped unfinished (an error part way
/// through a read), it writes nothing.
pub struct ImportWriter {
    dir: String,
    inner: Inner,
}

impl ImportWriter {
    /// Removes the objects with these GUIDs (and their messages).
    pub async fn delete(&mut self, guids: Vec<ObjectGuid>) -> Result<()> {
        if guids.is_empty() {
            return Ok(());
        }
        match &mut self.inner {
            Inner::Sqlite { .. } => self.send(Step::Delete(guids)).await,
            Inner::Postgres(bulk::PgLoad { tx, rows, .. }) => {
                *rows += guids.len() as u64;
                for chunk in guids.chunks(PARAMS_PER_BULK_STATEMENT - 1) {
                    for table in ["directory_objects", "object_messages"] {
                        let sql = delete_by_guid_sql(table, chunk.len());
                        let mut query = sqlx::query(&sql).bind(self.dir.clone());
                        for guid in chunk {
                            query = query.bind(guid.to_string());
                        }
                        query.execute(&mut **tx).await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Adds these objects, or replaces the stored ones with their GUIDs.
    pub async fn upsert(&mut self, objects: Vec<DirectoryObject>) -> Result<()> {
        let digested = objects
            .into_iter()
            .map(|o| {
                let digest = o.digest();
                (o, digest)
            })
            .collect();
        self.upsert_digested(digested).await
    }

    /// [`ImportWriter::upsert`] of objects whose digests ([`DirectoryObject::digest`]) the caller
    /// has worked out already: on SQLite the writer's thread, which every statement waits for,
    /// then does not work them out again (5 % of its samples in a first import).
    pub async fn upsert_digested(&mut self, objects: Vec<(DirectoryObject, u64)>) -> Result<()> {
        if objects.is_empty() {
            return Ok(());
        }
        match &mut self.inner {
            Inner::Sqlite { .. } => self.send(Step::Upsert(objects)).await,
            Inner::Postgres(bulk::PgLoad { tx, rows, .. }) => {
                *rows += objects.len() as u64;
                let sql = upsert_objects_sql();
                for chunk in objects.chunks(bulk::PG_ROWS_PER_STATEMENT) {
                    let rows: Vec<ObjectRow<'_>> =
                        chunk.iter().map(|(o, d)| ObjectRow::new(o, *d)).collect();
                    let rows = serde_json::to_string(&rows).map_err(|e| {
                        Error::Internal(format!("objects not written as JSON: {}", e))
                    })?;
                    let query = sqlx::query(&sql).bind(self.dir.clone()).bind(rows);
                    query.execute(&mut **tx).await?;
                }
                Ok(())
            }
        }
    }

    /// Bumps the directory's generation, stores its domain id (when given) and `cursor`, records
    /// `run` and commits; returns the new generation.
    pub async fn finish(
        self,
        domain_id: Option<&str>,
        run: &ImportRun,
        cursor: &CursorUpdate,
    ) -> Result<i64> {
        let finish = Finish {
            domain_id: domain_id.map(str::to_string),
            run: run.clone(),
            cursor: cursor.clone(),
        };
        match self.inner {
            Inner::Sqlite { steps, mut done } => {
                // When the writer has stopped, the send fails and its outcome says why.
                let _ = steps.send(Step::Finish(Box::new(finish))).await;
                drop(steps);
                joined(&mut done).await
            }
            Inner::Postgres(mut load) => {
                let generation = finish_postgres(&mut load.tx, &self.dir, &finish).await?;
                load.commit("directory_objects").await?;
                Ok(generation)
            }
        }
    }

    /// Hands `step` to the SQLite writer; when it has stopped, its error.
    async fn send(&mut self, step: Step) -> Result<()> {
        let Inner::Sqlite { steps, done } = &mut self.inner else {
            return Err(Error::Internal("not a SQLite import".into()));
        };
        if steps.send(step).await.is_ok() {
            return Ok(());
        }
        match joined(done).await {
            Err(e) => Err(e),
            Ok(_) => Err(Error::Internal("the import writer stopped early".into())),
        }
    }
}

/// The outcome of the SQLite writer's thread.
async fn joined(done: &mut tokio::task::JoinHandle<Result<i64>>) -> Result<i64> {
    done.await
        .map_err(|e| Error::Internal(format!("the import writer stopped: {}", e)))?
}

async fn finish_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    dir: &str,
    finish: &Finish,
) -> Result<i64> {
    let generation: i64 = sqlx::query_scalar(BUMP_GENERATION)
        .bind(dir.to_string())
        .fetch_one(&mut **tx)
        .await?;
    if let Some(domain_id) = &finish.domain_id {
        sqlx::query(SET_DOMAIN_ID)
            .bind(domain_id.clone())
            .bind(dir.to_string())
            .execute(&mut **tx)
            .await?;
    }
    match &finish.cursor {
        CursorUpdate::Keep => {}
        CursorUpdate::Set(text) => {
            sqlx::query(SET_CURSOR)
                .bind(text.clone())
                .bind(dir.to_string())
                .execute(&mut **tx)
                .await?;
        }
        CursorUpdate::Clear => {
            sqlx::query(CLEAR_CURSOR)
                .bind(dir.to_string())
                .execute(&mut **tx)
                .await?;
        }
    }
    let run = &finish.run;
    sqlx::query(INSERT_IMPORT_RUN)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(run.directory.to_string())
        .bind(run.kind.as_str())
        .bind(to_ms(run.started_at))
        .bind(run.duration_ms)
        .bind(run.total)
        .bind(run.added)
        .bind(run.changed)
        .bind(run.deleted)
        .execute(&mut **tx)
        .await?;
    Ok(generation)
}

/// At least as many as the rows `directory_objects` holds (its largest row id), read at once.
const ROWS_HELD: &str = "SELECT COALESCE(MAX(rowid), 0) FROM directory_objects";

/// How many objects a directory's first import adds before it drops the indexes of
/// `directory_objects` and builds them at its end (`bulk::Deferred`), when the table held `held`
/// rows before it: at once into an empty table, else once it has added a thirty-second of them.
/// The builds sort every row of the table, the other directories' too: at a million users
/// (`rehome bench directory`, two runs each) the source's import took 11.4–12.1 s with them
/// against 18.8–19.0 s without, the target's, which builds over both directories, 15.8–16.8 s
/// against 21.7–22.7 s. A smaller import, which adds few objects to a big table, keeps
/// inserting them into the indexes.
fn defer_after(held: u64) -> u64 {
    if held == 0 {
        0
    } else {
        (held / 32).max(10_000)
    }
}

/// Whether a directory ($1) has any object stored.
const ANY_OBJECT: &str = "SELECT EXISTS (SELECT 1 FROM directory_objects WHERE directory = $1)";

/// What the trigger `directory_objects_device_insert` (`batch_devices/sqlite.sql`) does for one
/// computer of a directory: lists it in every batch of the directory that selects it.
const LIST_BATCH_DEVICE: &str =
    "INSERT INTO batch_devices SELECT * FROM batch_device_rows WHERE directory = $1 AND computer = $2";

/// Turns the triggers of `conn` off or back on, for the statements it prepares from then on.
fn set_triggers(conn: &rusqlite::Connection, on: bool) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, on)
        .map(|_| ())
        .map_err(bulk::failed)
}

/// Whether any batch is assigned to a directory ($1): only such a batch lists its computers.
const ANY_BATCH_ASSIGNED: &str =
    "SELECT EXISTS (SELECT 1 FROM batch_assignments WHERE directory = $1)";

/// Lists the `computers` a directory's first import stored (once each, as they stand at its end)
/// in the batches that select them, as the trigger would have one at a time; `tx`'s triggers
/// must be on, so the batches' device counts follow. A directory no batch is assigned to, as a
/// new one is, has nothing to list: asking for each computer took 0.4 s of a million-user
/// directory's first import.
fn list_batch_devices(
    tx: &rusqlite::Transaction<'_>,
    dir: &str,
    mut computers: Vec<ObjectGuid>,
) -> Result<()> {
    let assigned: bool = tx
        .query_row(ANY_BATCH_ASSIGNED, params![dir], |row| row.get(0))
        .map_err(bulk::failed)?;
    if !assigned {
        return Ok(());
    }
    computers.sort_unstable();
    computers.dedup();
    let mut list = tx.prepare(LIST_BATCH_DEVICE).map_err(bulk::failed)?;
    for guid in computers {
        list.execute(params![dir, guid.to_string()])
            .map_err(bulk::failed)?;
    }
    Ok(())
}

/// The columns of `directory_objects` that its indexes and triggers read besides its key, in the
/// order of [`OBJECT_COLUMNS`]. An update names only those of them that changed, so SQLite leaves
/// the indexes of the others alone: a rename rewrites the name's index entries, not every
/// search index of the row.
const INDEXED_COLUMNS: [&str; 5] = ["kind", "name", "upn", "sam", "mail"];

/// Reads the stored values of [`INDEXED_COLUMNS`], in their order, of an object of a directory
/// ($1) by GUID ($2).
fn stored_indexed_sql() -> String {
    format!(
        "SELECT {} FROM directory_objects WHERE directory = $1 AND guid = $2",
        INDEXED_COLUMNS.join(", ")
    )
}

/// Updates one stored object: every column of [`OBJECT_COLUMNS`] but its GUID, leaving out the
/// indexed columns whose bit in `unchanged` is set; then the directory and GUID of the row.
fn update_object_sql(unchanged: u8) -> String {
    let set: Vec<String> = object_columns()
        .skip(1)
        .filter(|c| indexed_bit(c).is_none_or(|bit| unchanged & bit == 0))
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE directory_objects SET {} WHERE directory = ${} AND guid = ${}",
        set.join(", "),
        set.len() + 1,
        set.len() + 2
    )
}

/// The names of [`OBJECT_COLUMNS`], in order.
fn object_columns() -> impl Iterator<Item = &'static str> {
    OBJECT_COLUMNS.split(',').map(str::trim)
}

/// The bit of `column` in a set of [`INDEXED_COLUMNS`], if it is one of them.
fn indexed_bit(column: &str) -> Option<u8> {
    INDEXED_COLUMNS
        .iter()
        .position(|c| *c == column)
        .map(|i| 1 << i)
}

/// The values of [`OBJECT_COLUMNS`] of `o`, whose digest is `digest`, in order, borrowed where
/// they are stored as given.
fn object_values(o: &DirectoryObject, digest: u64) -> Vec<ToSqlOutput<'_>> {
    let owned = |v: Option<String>| ToSqlOutput::Owned(v.map_or(Value::Null, Value::Text));
    fn text(v: &Option<String>) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(
            v.as_deref()
                .map_or(ValueRef::Null, |t| ValueRef::Text(t.as_bytes())),
        )
    }
    vec![
        owned(Some(o.guid.to_string())),
        ToSqlOutput::Borrowed(ValueRef::Text(o.kind.as_str().as_bytes())),
        ToSqlOutput::Borrowed(ValueRef::Text(o.name.as_bytes())),
        owned(o.sid.as_ref().map(|s| s.to_string())),
        text(&o.upn),
        text(&o.sam_account_name),
        text(&o.mail),
        text(&o.employee_id),
        text(&o.operating_system),
        text(&o.dn),
        text(&o.given_name),
        text(&o.surname),
        owned(join_spaced(&o.sid_history)),
        owned(join_spaced(&o.members)),
        text(&o.device_id),
        ToSqlOutput::Owned(
            o.enabled
                .map_or(Value::Null, |e| Value::Integer(i64::from(e))),
        ),
        ToSqlOutput::Owned(Value::Integer(digest as i64)),
        owned(o.on_premises_sid.as_ref().map(|s| s.to_string())),
        text(&o.immutable_id),
    ]
}

/// Whether `value` holds the text `stored` (or both are NULL).
fn holds(value: &ToSqlOutput<'_>, stored: Option<&str>) -> bool {
    let value = match value {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => ValueRef::from(v),
        _ => return false,
    };
    match (value, stored) {
        (ValueRef::Text(new), Some(old)) => new == old.as_bytes(),
        (ValueRef::Null, None) => true,
        _ => false,
    }
}

/// Inserts one object: `directory` then every column of [`OBJECT_COLUMNS`]. SQLite's writer
/// inserts only objects it knows to be new (see [`upsert_sqlite`]); a plain insert of one row
/// needs no statement journal when no trigger is on (see [`write_import_sqlite`]), where an
/// upsert copied every page it changed into one.
fn insert_object_sql() -> String {
    format!(
        "INSERT INTO directory_objects (directory, {}) VALUES {}",
        OBJECT_COLUMNS,
        row_placeholders(1, OBJECT_COLUMN_COUNT + 1),
    )
}

/// The stored values of [`INDEXED_COLUMNS`] of the object `guid` of `dir`, if it is stored.
fn stored_indexed(
    read: &mut rusqlite::Statement<'_>,
    dir: &str,
    guid: &ObjectGuid,
) -> Result<Option<[Option<String>; 5]>> {
    read.query_row(params![dir, guid.to_string()], |row| {
        Ok([
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ])
    })
    .optional()
    .map_err(bulk::failed)
}

/// Whether `e` is a constraint's refusal: the row's key is stored already.
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Writes one object of an import into `dir`: inserted with `insert` when new, and when stored,
/// updated with only the indexed columns that changed (see [`INDEXED_COLUMNS`]). `read` reads
/// what is stored of it. A directory's first import (`first`) inserts without reading, as every
/// object is new, unless a source hands the same object over twice: its second insert is refused
/// before it writes anything, and the object is then updated.
fn upsert_sqlite(
    tx: &rusqlite::Transaction<'_>,
    (insert, read): (&mut rusqlite::Statement<'_>, &mut rusqlite::Statement<'_>),
    first: bool,
    dir: &str,
    (o, digest): (&DirectoryObject, u64),
) -> Result<()> {
    let stored = if first {
        None
    } else {
        stored_indexed(read, dir, &o.guid)?
    };
    let dir_value = || ToSqlOutput::Borrowed(ValueRef::Text(dir.as_bytes()));
    let stored = match stored {
        Some(stored) => stored,
        None => {
            let values = std::iter::once(dir_value()).chain(object_values(o, digest));
            match insert.execute(params_from_iter(values)) {
                Ok(_) => return Ok(()),
                Err(e) if first && is_constraint(&e) => {
                    stored_indexed(read, dir, &o.guid)?.ok_or_else(|| bulk::failed(e))?
                }
                Err(e) => return Err(bulk::failed(e)),
            }
        }
    };
    let values = object_values(o, digest);
    let unchanged = object_columns()
        .zip(&values)
        .filter_map(|(column, value)| {
            let bit = indexed_bit(column)?;
            let old = stored.get(bit.trailing_zeros() as usize)?.as_deref();
            holds(value, old).then_some(bit)
        })
        .fold(0u8, |set, bit| set | bit);
    let mut update = tx
        .prepare_cached(&update_object_sql(unchanged))
        .map_err(bulk::failed)?;
    let mut values = values.into_iter();
    let guid = values.next();
    let set = object_columns()
        .skip(1)
        .zip(values)
        .filter(|(column, _)| indexed_bit(column).is_none_or(|bit| unchanged & bit == 0))
        .map(|(_, value)| value);
    update
        .execute(params_from_iter(set.chain([dir_value()]).chain(guid)))
        .map_err(bulk::failed)?;
    Ok(())
}

/// The SQLite writer of one import, on the file at `path`, through rusqlite: takes the steps in
/// order, each statement prepared once (see [`super::bulk`]); rolls back when the steps end
/// without a finish.
fn write_import_sqlite(
    path: &Path,
    directory: DirectoryId,
    mut steps: tokio::sync::mpsc::Receiver<Step>,
) -> Result<i64> {
    let mut conn = bulk::open_deferred(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(bulk::failed)?;
    let dir = directory.to_string();
    // A directory's first import only adds: no row to compare with.
    let stored_before: bool = tx
        .query_row(ANY_OBJECT, params![dir], |row| row.get(0))
        .map_err(bulk::failed)?;
    // It also runs without triggers. An insert into a table with a trigger copies every page it
    // changes into a statement journal, in case the trigger fails after it: 15 % of a first
    // import's time, for a trigger that acts on computers only. Their batch devices are listed
    // at the end instead, from the computers the import stored.
    let mut computers = Vec::new();
    if !stored_before {
        set_triggers(&tx, false)?;
    }
    // And once it has added a large share of the table, its indexes are built at its end.
    let mut deferred = None;
    let mut defer_after = if stored_before {
        u64::MAX
    } else {
        let held: i64 = tx
            .query_row(ROWS_HELD, [], |row| row.get(0))
            .map_err(bulk::failed)?;
        defer_after(u64::try_from(held).unwrap_or(0))
    };
    let finish = loop {
        match steps.blocking_recv() {
            None => {
                return Err(Error::Internal(
                    "the import ended before it was finished; nothing was written".into(),
                ))
            }
            Some(Step::Delete(guids)) => {
                let mut delete_object = tx
                    .prepare_cached(&delete_by_guid_sql("directory_objects", 1))
                    .map_err(bulk::failed)?;
                let mut delete_messages = tx
                    .prepare_cached(&delete_by_guid_sql("object_messages", 1))
                    .map_err(bulk::failed)?;
                for guid in guids {
                    let guid = guid.to_string();
                    delete_object
                        .execute(params![dir, guid])
                        .map_err(bulk::failed)?;
                    delete_messages
                        .execute(params![dir, guid])
                        .map_err(bulk::failed)?;
                }
            }
            Some(Step::Upsert(objects)) => {
                defer_after = defer_after.saturating_sub(objects.len() as u64);
                if defer_after == 0 && deferred.is_none() {
                    deferred = Some(bulk::Deferred::now(&tx, "directory_objects")?);
                }
                let mut insert = tx
                    .prepare_cached(&insert_object_sql())
                    .map_err(bulk::failed)?;
                let mut read = tx
                    .prepare_cached(&stored_indexed_sql())
                    .map_err(bulk::failed)?;
                for (o, digest) in &objects {
                    upsert_sqlite(
                        &tx,
                        (&mut insert, &mut read),
                        !stored_before,
                        &dir,
                        (o, *digest),
                    )?;
                    if !stored_before && o.kind == ObjectKind::Computer {
                        computers.push(o.guid);
                    }
                }
                bulk::drop_elsewhere(objects);
            }
            Some(Step::Finish(finish)) => break finish,
        }
    };
    if let Some(deferred) = deferred {
        deferred.rebuild(&tx)?;
    }
    if !stored_before {
        set_triggers(&tx, true)?;
        list_batch_devices(&tx, &dir, computers)?;
    }
    let generation: i64 = tx
        .query_row(BUMP_GENERATION, params![dir], |row| row.get(0))
        .map_err(bulk::failed)?;
    if let Some(domain_id) = &finish.domain_id {
        tx.execute(SET_DOMAIN_ID, params![domain_id, dir])
            .map_err(bulk::failed)?;
    }
    match &finish.cursor {
        CursorUpdate::Keep => {}
        CursorUpdate::Set(text) => {
            tx.execute(SET_CURSOR, params![text, dir])
                .map_err(bulk::failed)?;
        }
        CursorUpdate::Clear => {
            tx.execute(CLEAR_CURSOR, params![dir])
                .map_err(bulk::failed)?;
        }
    }
    let run = &finish.run;
    tx.execute(
        INSERT_IMPORT_RUN,
        params![
            uuid::Uuid::new_v4().to_string(),
            run.directory.to_string(),
            run.kind.as_str(),
            to_ms(run.started_at),
            run.duration_ms,
            run.total,
            run.added,
            run.changed,
            run.deleted
        ],
    )
    .map_err(bulk::failed)?;
    tx.commit().map_err(bulk::failed)?;
    if stored_before {
        bulk::checkpoint_held(path.to_path_buf());
    } else {
        bulk::checkpoint_later(path.to_path_buf());
    }
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
    use model::ids::{DirectoryId, ObjectGuid};

    use super::{indexed_bit, update_object_sql, CursorUpdate, ImportKind, ImportRun};
    use crate::store::testing::fresh_store;

    #[tokio::test]
    async fn an_object_handed_over_twice_in_a_first_import_is_stored_once_as_last_handed() {
        let (store, _dir) = fresh_store().await;
        let now = chrono::DateTime::<Utc>::from_timestamp(1_796_000_000, 0).expect("a time");
        let directory = Directory {
            id: DirectoryId::new(),
            name: "CONTOSO".into(),
            kind: DirectoryKind::ActiveDirectory,
            domain: "contoso.com".into(),
            domain_id: None,
        };
        store
            .insert_directory(&directory, now)
            .await
            .expect("directory");
        let guid = ObjectGuid::new();
        let mut first = DirectoryObject::new(guid, ObjectKind::User, "Anna Old");
        first.upn = Some("anna.old@contoso.com".into());
        let mut again = DirectoryObject::new(guid, ObjectKind::User, "Anna New");
        again.upn = Some("anna.new@contoso.com".into());
        let other = DirectoryObject::new(ObjectGuid::new(), ObjectKind::Group, "Staff");

        let mut writer = store.begin_import(directory.id).await.expect("begin");
        writer.upsert(vec![first, other]).await.expect("first page");
        writer.upsert(vec![again]).await.expect("second page");
        let run = ImportRun {
            directory: directory.id,
            kind: ImportKind::Full,
            started_at: now,
            duration_ms: 1,
            total: 2,
            added: 2,
            changed: 0,
            deleted: 0,
        };
        writer
            .finish(None, &run, &CursorUpdate::Keep)
            .await
            .expect("the import commits");

        let stored = store.objects(directory.id, None).await.expect("objects");
        assert_eq!(stored.len(), 2, "{stored:?}");
        let anna = store
            .object(directory.id, guid)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(anna.name, "Anna New");
        assert_eq!(anna.upn.as_deref(), Some("anna.new@contoso.com"));
        let found = store
            .search_objects("anna.new*", Some(directory.id), 10)
            .await
            .expect("search");
        assert_eq!(found.len(), 1, "the new UPN is found: {found:?}");
        let gone = store
            .search_objects("anna.old*", Some(directory.id), 10)
            .await
            .expect("search");
        assert!(gone.is_empty(), "the old UPN is not: {gone:?}");
    }

    #[test]
    fn an_update_leaves_out_the_indexed_columns_that_did_not_change() {
        let every = update_object_sql(0);
        assert!(every.starts_with("UPDATE directory_objects SET kind = $1, name = $2, sid = $3,"));
        assert!(every.ends_with("immutable_id = $18 WHERE directory = $19 AND guid = $20"));
        let unchanged = ["kind", "upn", "sam", "mail"]
            .iter()
            .filter_map(|c| indexed_bit(c))
            .fold(0, |set, bit| set | bit);
        let renamed = update_object_sql(unchanged);
        assert!(renamed
            .starts_with("UPDATE directory_objects SET name = $1, sid = $2, employee_id = $3,"));
        let (set, key) = renamed.split_once(" WHERE ").expect("a WHERE clause");
        for column in ["kind", "upn", "sam", "mail", "guid", "directory"] {
            assert!(
                !set.contains(&format!(" {column} = $")),
                "{column} in {set}"
            );
        }
        assert_eq!(key, "directory = $15 AND guid = $16");
    }
}
