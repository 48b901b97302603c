//! Writing an import: the objects that changed, the directory's generation, cursor and domain id,
//! and the record of the run, in one transaction, through sqlx on PostgreSQL and through rusqlite
//! on a SQLite file (see [`super::bulk`]).

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use model::directory::DirectoryObject;
use model::ids::{DirectoryId, ObjectGuid};
use rusqlite::{params, TransactionBehavior};
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

/// Inserts or replaces `rows` objects: `directory` then every column of [`OBJECT_COLUMNS`].
fn upsert_objects_sql(rows: usize) -> String {
    let updates: Vec<String> = OBJECT_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "guid")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO directory_objects (directory, {}) VALUES {} \
         ON CONFLICT (directory, guid) DO UPDATE SET {}",
        OBJECT_COLUMNS,
        row_placeholders(rows, OBJECT_COLUMN_COUNT + 1),
        updates.join(", ")
    )
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
        upserts: Arc<Vec<DirectoryObject>>,
        deleted: Arc<Vec<ObjectGuid>>,
        run: &ImportRun,
        cursor: &CursorUpdate,
    ) -> Result<i64> {
        if let Some(path) = self.sqlite_file() {
            let (domain_id, run, cursor) =
                (domain_id.map(str::to_string), run.clone(), cursor.clone());
            return tokio::task::spawn_blocking(move || {
                apply_import_sqlite(
                    &path,
                    directory,
                    domain_id.as_deref(),
                    &upserts,
                    &deleted,
                    &run,
                    &cursor,
                )
            })
            .await
            .map_err(|e| Error::Internal(format!("the import writer stopped: {}", e)))?;
        }
        let mut tx = self.pool().begin().await?;
        let dir = directory.to_string();
        for chunk in deleted.chunks(PARAMS_PER_BULK_STATEMENT - 1) {
            let sql = delete_by_guid_sql("directory_objects", chunk.len());
            let mut query = sqlx::query(&sql).bind(dir.clone());
            for guid in chunk {
                query = query.bind(guid.to_string());
            }
            query.execute(&mut *tx).await?;
            let sql = delete_by_guid_sql("object_messages", chunk.len());
            let mut query = sqlx::query(&sql).bind(dir.clone());
            for guid in chunk {
                query = query.bind(guid.to_string());
            }
            query.execute(&mut *tx).await?;
        }
        let rows_per_statement = PARAMS_PER_BULK_STATEMENT / (OBJECT_COLUMN_COUNT + 1);
        for chunk in upserts.chunks(rows_per_statement) {
            let sql = upsert_objects_sql(chunk.len());
            let mut query = sqlx::query(&sql);
            for o in chunk {
                query = query
                    .bind(dir.clone())
                    .bind(o.guid.to_string())
                    .bind(o.kind.as_str())
                    .bind(o.name.clone())
                    .bind(o.sid.as_ref().map(|s| s.to_string()))
                    .bind(o.upn.clone())
                    .bind(o.sam_account_name.clone())
                    .bind(o.mail.clone())
                    .bind(o.employee_id.clone())
                    .bind(o.operating_system.clone())
                    .bind(o.dn.clone())
                    .bind(o.given_name.clone())
                    .bind(o.surname.clone())
                    .bind(join_spaced(&o.sid_history))
                    .bind(join_spaced(&o.members))
                    .bind(o.device_id.clone())
                    .bind(o.enabled.map(i64::from))
                    .bind(o.digest() as i64)
                    .bind(o.on_premises_sid.as_ref().map(|s| s.to_string()))
                    .bind(o.immutable_id.clone());
            }
            query.execute(&mut *tx).await?;
        }
        let generation: i64 = sqlx::query_scalar(BUMP_GENERATION)
            .bind(dir.clone())
            .fetch_one(&mut *tx)
            .await?;
        if let Some(domain_id) = domain_id {
            sqlx::query(SET_DOMAIN_ID)
                .bind(domain_id)
                .bind(dir.clone())
                .execute(&mut *tx)
                .await?;
        }
        match cursor {
            CursorUpdate::Keep => {}
            CursorUpdate::Set(text) => {
                sqlx::query(SET_CURSOR)
                    .bind(text.clone())
                    .bind(dir.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            CursorUpdate::Clear => {
                sqlx::query(CLEAR_CURSOR)
                    .bind(dir.clone())
                    .execute(&mut *tx)
                    .await?;
            }
        }
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
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(generation)
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

/// [`Store::apply_import`] on the SQLite file at `path`, through rusqlite: one prepared
/// statement per table binds each value once (see [`super::bulk`]).
fn apply_import_sqlite(
    path: &Path,
    directory: DirectoryId,
    domain_id: Option<&str>,
    upserts: &[DirectoryObject],
    deleted: &[ObjectGuid],
    run: &ImportRun,
    cursor: &CursorUpdate,
) -> Result<i64> {
    let mut conn = bulk::open(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(bulk::failed)?;
    let dir = directory.to_string();
    {
        let mut delete_object = tx
            .prepare(&delete_by_guid_sql("directory_objects", 1))
            .map_err(bulk::failed)?;
        let mut delete_messages = tx
            .prepare(&delete_by_guid_sql("object_messages", 1))
            .map_err(bulk::failed)?;
        for guid in deleted {
            let guid = guid.to_string();
            delete_object
                .execute(params![dir, guid])
                .map_err(bulk::failed)?;
            delete_messages
                .execute(params![dir, guid])
                .map_err(bulk::failed)?;
        }
        let mut upsert = tx.prepare(&upsert_objects_sql(1)).map_err(bulk::failed)?;
        for o in upserts {
            upsert
                .execute(params![
                    dir,
                    o.guid.to_string(),
                    o.kind.as_str(),
                    o.name,
                    o.sid.as_ref().map(|s| s.to_string()),
                    o.upn,
                    o.sam_account_name,
                    o.mail,
                    o.employee_id,
                    o.operating_system,
                    o.dn,
                    o.given_name,
                    o.surname,
                    join_spaced(&o.sid_history),
                    join_spaced(&o.members),
                    o.device_id,
                    o.enabled.map(i64::from),
                    o.digest() as i64,
                    o.on_premises_sid.as_ref().map(|s| s.to_string()),
                    o.immutable_id,
                ])
                .map_err(bulk::failed)?;
        }
    }
    let generation: i64 = tx
        .query_row(BUMP_GENERATION, params![dir], |row| row.get(0))
        .map_err(bulk::failed)?;
    if let Some(domain_id) = domain_id {
        tx.execute(SET_DOMAIN_ID, params![domain_id, dir])
            .map_err(bulk::failed)?;
    }
    match cursor {
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
    Ok(generation)
}
