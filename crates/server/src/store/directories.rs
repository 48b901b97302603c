//! Directories, the objects imported from them, and the record of each import.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use secdesc::Sid;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use rusqlite::{params, TransactionBehavior};

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

const OBJECT_COLUMNS: &str =
    "guid, kind, name, sid, upn, sam, mail, employee_id, os, dn, given_name, \
                              surname, sid_history, members, device_id, enabled, digest";

/// Columns of [`OBJECT_COLUMNS`], for multi-row inserts.
const OBJECT_COLUMN_COUNT: usize = 17;

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

/// Values separated by spaces, or NULL for none.
fn join_spaced<T: std::fmt::Display>(values: &[T]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    Some(
        values
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn split_spaced<T: std::str::FromStr>(column: &str, text: Option<String>) -> Result<Vec<T>> {
    text.as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(|v| parse_text(column, v))
        .collect()
}

fn directory_from_row(row: &AnyRow) -> Result<Directory> {
    let kind: String = row.try_get("kind")?;
    Ok(Directory {
        id: parse_text("directory id", &row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        kind: DirectoryKind::parse(&kind).ok_or_else(|| {
            Error::Internal(format!(
                "stored directory kind {:?} is not understood",
                kind
            ))
        })?,
        domain: row.try_get("domain")?,
        domain_id: row.try_get("domain_id")?,
    })
}

fn object_from_row(row: &AnyRow) -> Result<DirectoryObject> {
    let kind: String = row.try_get("kind")?;
    let sid: Option<String> = row.try_get("sid")?;
    let enabled: Option<i64> = row.try_get("enabled")?;
    Ok(DirectoryObject {
        guid: parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
        kind: ObjectKind::parse(&kind).ok_or_else(|| {
            Error::Internal(format!("stored object kind {:?} is not understood", kind))
        })?,
        name: row.try_get("name")?,
        sid: sid
            .as_deref()
            .map(|s| parse_text("object sid", s))
            .transpose()?,
        upn: row.try_get("upn")?,
        sam_account_name: row.try_get("sam")?,
        mail: row.try_get("mail")?,
        employee_id: row.try_get("employee_id")?,
        operating_system: row.try_get("os")?,
        dn: row.try_get("dn")?,
        given_name: row.try_get("given_name")?,
        surname: row.try_get("surname")?,
        sid_history: split_spaced("object sid_history", row.try_get("sid_history")?)?,
        members: split_spaced("object members", row.try_get("members")?)?,
        device_id: row.try_get("device_id")?,
        enabled: enabled.map(|e| e != 0),
    })
}

/// One stored object as the in-memory cache of a directory reads it.
#[derive(Debug)]
pub struct CachedRow {
    /// Its GUID.
    pub guid: ObjectGuid,
    /// User, group, computer or contact.
    pub kind: ObjectKind,
    /// Its SID.
    pub sid: Option<Sid>,
    /// Its sIDHistory.
    pub sid_history: Vec<Sid>,
    /// The digest of all its attributes.
    pub digest: u64,
    /// name, upn, sam, mail, employee_id, dn, given_name and surname, in that order.
    pub values: [Option<String>; 8],
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

impl Store {
    /// Adds a directory. A name already taken (ignoring case) is a conflict.
    pub async fn insert_directory(&self, directory: &Directory, now: DateTime<Utc>) -> Result<()> {
        let taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM directories WHERE LOWER(name) = LOWER($1)")
                .bind(&directory.name)
                .fetch_one(self.pool())
                .await?;
        if taken > 0 {
            return Err(Error::Conflict(format!(
                "a directory named {:?} already exists",
                directory.name
            )));
        }
        sqlx::query("INSERT INTO directories (id, name, kind, domain, domain_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(directory.id.to_string())
            .bind(&directory.name)
            .bind(directory.kind.as_str())
            .bind(&directory.domain)
            .bind(&directory.domain_id)
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every directory, by name.
    pub async fn directories(&self) -> Result<Vec<Directory>> {
        let rows =
            sqlx::query("SELECT id, name, kind, domain, domain_id FROM directories ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(directory_from_row).collect()
    }

    /// One directory.
    pub async fn directory(&self, id: DirectoryId) -> Result<Option<Directory>> {
        let row =
            sqlx::query("SELECT id, name, kind, domain, domain_id FROM directories WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(directory_from_row).transpose()
    }

    /// Every object of `directory`, optionally of one kind, in GUID order.
    pub async fn objects(
        &self,
        directory: DirectoryId,
        kind: Option<ObjectKind>,
    ) -> Result<Vec<DirectoryObject>> {
        let rows = match kind {
            Some(kind) => {
                sqlx::query(&format!(
                "SELECT {} FROM directory_objects WHERE directory = $1 AND kind = $2 ORDER BY guid",
                OBJECT_COLUMNS
            ))
                .bind(directory.to_string())
                .bind(kind.as_str())
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {} FROM directory_objects WHERE directory = $1 ORDER BY guid",
                    OBJECT_COLUMNS
                ))
                .bind(directory.to_string())
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(object_from_row).collect()
    }

    /// One object.
    pub async fn object(
        &self,
        directory: DirectoryId,
        guid: ObjectGuid,
    ) -> Result<Option<DirectoryObject>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM directory_objects WHERE directory = $1 AND guid = $2",
            OBJECT_COLUMNS
        ))
        .bind(directory.to_string())
        .bind(guid.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(object_from_row).transpose()
    }

    /// Imported computers named `name` (ignoring case), in every directory.
    pub async fn computers_named(&self, name: &str) -> Result<Vec<(DirectoryId, DirectoryObject)>> {
        let rows = sqlx::query(&format!(
            "SELECT directory, {} FROM directory_objects WHERE kind = 'Computer' AND LOWER(name) = LOWER($1) ORDER BY directory",
            OBJECT_COLUMNS
        ))
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
                    object_from_row(row)?,
                ))
            })
            .collect()
    }

    /// GUID and digest of every object of `directory`: enough to tell what a full import changes.
    pub async fn object_digests(&self, directory: DirectoryId) -> Result<Vec<(ObjectGuid, u64)>> {
        let rows = sqlx::query("SELECT guid, digest FROM directory_objects WHERE directory = $1")
            .bind(directory.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                    row.try_get::<i64, _>("digest")? as u64,
                ))
            })
            .collect()
    }

    /// The number every import of `directory` raises; 0 before the first.
    pub async fn directory_generation(&self, directory: DirectoryId) -> Result<i64> {
        let generation: Option<i64> =
            sqlx::query_scalar("SELECT generation FROM directories WHERE id = $1")
                .bind(directory.to_string())
                .fetch_optional(self.pool())
                .await?;
        generation.ok_or(Error::NotFound("directory"))
    }

    /// Where the next incremental import of `directory` starts, if anywhere.
    pub async fn directory_cursor(&self, directory: DirectoryId) -> Result<Option<String>> {
        let cursor: Option<Option<String>> =
            sqlx::query_scalar("SELECT cursor FROM directories WHERE id = $1")
                .bind(directory.to_string())
                .fetch_optional(self.pool())
                .await?;
        cursor.ok_or(Error::NotFound("directory"))
    }

    /// Hands each stored object of `directory` to `each`, one row at a time, so the cache of a
    /// million objects is built without holding them all twice.
    pub async fn for_each_cached_object(
        &self,
        directory: DirectoryId,
        mut each: impl FnMut(CachedRow),
    ) -> Result<()> {
        let mut rows = sqlx::query(
            "SELECT guid, kind, name, sid, upn, sam, mail, employee_id, dn, given_name, surname, \
             sid_history, digest FROM directory_objects WHERE directory = $1",
        )
        .bind(directory.to_string())
        .fetch(self.pool());
        while let Some(row) = rows.try_next().await? {
            let kind: String = row.try_get("kind")?;
            let kind = ObjectKind::parse(&kind).ok_or_else(|| {
                Error::Internal(format!("stored object kind {:?} is not understood", kind))
            })?;
            let sid: Option<String> = row.try_get("sid")?;
            let history: Option<String> = row.try_get("sid_history")?;
            let text = |name: &str| -> Result<Option<String>> { Ok(row.try_get(name)?) };
            each(CachedRow {
                guid: parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                kind,
                sid: sid
                    .as_deref()
                    .map(|s| parse_text("object sid", s))
                    .transpose()?,
                sid_history: history
                    .as_deref()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(|s| parse_text("object sid_history", s))
                    .collect::<Result<Vec<Sid>>>()?,
                digest: row.try_get::<i64, _>("digest")? as u64,
                values: [
                    Some(row.try_get::<String, _>("name")?),
                    text("upn")?,
                    text("sam")?,
                    text("mail")?,
                    text("employee_id")?,
                    text("dn")?,
                    text("given_name")?,
                    text("surname")?,
                ],
            });
        }
        Ok(())
    }

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
                    .bind(o.digest() as i64);
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

/// An object found by a Single Object Report search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectHit {
    /// Its directory.
    pub directory: DirectoryId,
    /// Its GUID there.
    pub guid: ObjectGuid,
    /// User, group, computer or contact.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// Its UPN.
    pub upn: Option<String>,
    /// Its sAMAccountName.
    pub sam_account_name: Option<String>,
}

/// A device where a user's profile was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSeen {
    /// The device's agent.
    pub agent: model::ids::AgentId,
    /// The computer's name.
    pub computer_name: String,
    /// The computer's directory and GUID.
    pub computer_directory: DirectoryId,
    /// The computer's GUID.
    pub computer_guid: ObjectGuid,
    /// The profile folder.
    pub path: String,
    /// When it was last used, if known.
    pub last_used: Option<DateTime<Utc>>,
}

/// `*` as any run of characters, everything else literal, for `LIKE … ESCAPE '\'`.
pub fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len());
    for c in search.trim().to_lowercase().chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

impl Store {
    /// Objects whose name, UPN, sAMAccountName or mail matches `search` (ignoring case; `*`
    /// stands for any characters), optionally in one directory, by name.
    pub async fn search_objects(
        &self,
        search: &str,
        directory: Option<DirectoryId>,
        limit: i64,
    ) -> Result<Vec<ObjectHit>> {
        let pattern = like_pattern(search);
        let rows = sqlx::query(
            "SELECT directory, guid, kind, name, upn, sam FROM directory_objects \
             WHERE ($1 = '' OR directory = $1) AND (LOWER(name) LIKE $2 ESCAPE '\\' \
             OR LOWER(COALESCE(upn, '')) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(sam, '')) LIKE $2 ESCAPE '\\' \
             OR LOWER(COALESCE(mail, '')) LIKE $2 ESCAPE '\\') ORDER BY name, guid LIMIT $3",
        )
        .bind(directory.map(|d| d.to_string()).unwrap_or_default())
        .bind(pattern)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                Ok(ObjectHit {
                    directory: parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
                    guid: parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                    kind: ObjectKind::parse(&kind).ok_or_else(|| {
                        Error::Internal(format!("stored object kind {:?} is not understood", kind))
                    })?,
                    name: row.try_get("name")?,
                    upn: row.try_get("upn")?,
                    sam_account_name: row.try_get("sam")?,
                })
            })
            .collect()
    }

    /// The devices where a profile of `sid` was harvested.
    pub async fn profiles_of(&self, sid: &secdesc::Sid) -> Result<Vec<ProfileSeen>> {
        let rows = sqlx::query(
            "SELECT a.id, a.computer_name, a.directory, a.computer_guid, p.path, p.last_used \
             FROM harvested_profiles p JOIN agents a ON a.id = p.agent WHERE p.sid = $1 \
             ORDER BY a.computer_name, p.path",
        )
        .bind(sid.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let last_used: Option<i64> = row.try_get("last_used")?;
                Ok(ProfileSeen {
                    agent: parse_text("agent id", &row.try_get::<String, _>("id")?)?,
                    computer_name: row.try_get("computer_name")?,
                    computer_directory: parse_text(
                        "directory id",
                        &row.try_get::<String, _>("directory")?,
                    )?,
                    computer_guid: parse_text(
                        "computer guid",
                        &row.try_get::<String, _>("computer_guid")?,
                    )?,
                    path: row.try_get("path")?,
                    last_used: last_used.map(from_ms),
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
