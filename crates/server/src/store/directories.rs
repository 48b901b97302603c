//! Directories, the objects imported from them, and the record of each import.

use chrono::{DateTime, Utc};
use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{
    from_ms, parse_text, placeholders, row_placeholders, to_ms, Store, ROWS_PER_STATEMENT,
};
use crate::{Error, Result};

/// The record of one import of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRun {
    /// The directory imported.
    pub directory: DirectoryId,
    /// `full` (every object read) or, later, `delta`.
    pub kind: String,
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

const OBJECT_COLUMNS: &str = "guid, kind, name, sid, upn, sam, mail, employee_id, os";

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
    })
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
            "SELECT directory, {} FROM directory_objects WHERE kind = $1 AND LOWER(name) = LOWER($2) ORDER BY directory",
            OBJECT_COLUMNS
        ))
        .bind(ObjectKind::Computer.as_str())
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

    /// Applies one import to `directory` and records `run`, in one transaction, so a failed import
    /// leaves the previous one whole: `upserts` are the new and changed objects, `deleted` the
    /// GUIDs gone. Only what changed is written, so a small delta of a big directory is quick.
    pub async fn apply_import(
        &self,
        directory: DirectoryId,
        domain_id: Option<&str>,
        upserts: &[&DirectoryObject],
        deleted: &[ObjectGuid],
        run: &ImportRun,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let dir = directory.to_string();
        for chunk in deleted.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM directory_objects WHERE directory = $1 AND guid IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(dir.clone());
            for guid in chunk {
                query = query.bind(guid.to_string());
            }
            query.execute(&mut *tx).await?;
        }
        for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO directory_objects (directory, {}) VALUES {} ON CONFLICT (directory, guid) DO UPDATE SET \
                 kind = excluded.kind, name = excluded.name, sid = excluded.sid, upn = excluded.upn, \
                 sam = excluded.sam, mail = excluded.mail, employee_id = excluded.employee_id, os = excluded.os",
                OBJECT_COLUMNS,
                row_placeholders(chunk.len(), 10)
            );
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
                    .bind(o.operating_system.clone());
            }
            query.execute(&mut *tx).await?;
        }
        if let Some(domain_id) = domain_id {
            sqlx::query("UPDATE directories SET domain_id = $1 WHERE id = $2")
                .bind(domain_id)
                .bind(directory.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO import_runs (id, directory, kind, started_at, duration_ms, total, added, changed, deleted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(run.directory.to_string())
        .bind(&run.kind)
        .bind(to_ms(run.started_at))
        .bind(run.duration_ms)
        .bind(run.total)
        .bind(run.added)
        .bind(run.changed)
        .bind(run.deleted)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
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
                    kind: row.try_get("kind")?,
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
