//! Directories and the objects imported from them; writing an import is [`super::imports`].

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use secdesc::Sid;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

pub use super::imports::{CursorUpdate, ImportKind, ImportRun};
use super::{from_ms, parse_text, to_ms, Store};
use crate::{Error, Result};

pub(super) const OBJECT_COLUMNS: &str =
    "guid, kind, name, sid, upn, sam, mail, employee_id, os, dn, given_name, \
                              surname, sid_history, members, device_id, enabled, digest, \
                              on_premises_sid, immutable_id";

/// Columns of [`OBJECT_COLUMNS`], for multi-row inserts.
pub(super) const OBJECT_COLUMN_COUNT: usize = 19;

/// Values separated by spaces, or NULL for none.
pub(super) fn join_spaced<T: std::fmt::Display>(values: &[T]) -> Option<String> {
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

pub(super) fn split_spaced<T: std::str::FromStr>(
    column: &str,
    text: Option<String>,
) -> Result<Vec<T>> {
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
    let on_premises_sid: Option<String> = row.try_get("on_premises_sid")?;
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
        on_premises_sid: on_premises_sid
            .as_deref()
            .map(|s| parse_text("object on_premises_sid", s))
            .transpose()?,
        immutable_id: row.try_get("immutable_id")?,
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
    /// Its on-premises SID (Entra objects synchronised from AD).
    pub on_premises_sid: Option<Sid>,
    /// Its sIDHistory.
    pub sid_history: Vec<Sid>,
    /// The digest of all its attributes.
    pub digest: u64,
    /// name, upn, sam, mail, employee_id, dn, given_name, surname and immutable_id, in that
    /// order.
    pub values: [Option<String>; 9],
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
             sid_history, digest, on_premises_sid, immutable_id FROM directory_objects \
             WHERE directory = $1",
        )
        .bind(directory.to_string())
        .fetch(self.pool());
        while let Some(row) = rows.try_next().await? {
            let kind: String = row.try_get("kind")?;
            let kind = ObjectKind::parse(&kind).ok_or_else(|| {
                Error::Internal(format!("stored object kind {:?} is not understood", kind))
            })?;
            let sid: Option<String> = row.try_get("sid")?;
            let on_premises_sid: Option<String> = row.try_get("on_premises_sid")?;
            let history: Option<String> = row.try_get("sid_history")?;
            let text = |name: &str| -> Result<Option<String>> { Ok(row.try_get(name)?) };
            each(CachedRow {
                guid: parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                kind,
                sid: sid
                    .as_deref()
                    .map(|s| parse_text("object sid", s))
                    .transpose()?,
                on_premises_sid: on_premises_sid
                    .as_deref()
                    .map(|s| parse_text("object on_premises_sid", s))
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
                    text("immutable_id")?,
                ],
            });
        }
        Ok(())
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
        // SQLite's LIKE ignores the case of ASCII letters as its LOWER does, and PostgreSQL's
        // ILIKE ignores case: neither lowers every value of every object first, which took
        // most of a search's time.
        let backend = self.backend();
        let like = match backend {
            super::Backend::Sqlite => "LIKE",
            super::Backend::Postgres => "ILIKE",
        };
        let columns = "directory, guid, kind, name, upn, sam";
        let prefix = super::starts::lowered(search.trim(), backend);
        let prefix = prefix.split('*').next().unwrap_or_default();
        let sql = if prefix.is_empty() {
            // A search that starts with `*` reads every object. On PostgreSQL each value is
            // lowered and matched against the lowered pattern: over every object that took two
            // thirds of the time `ILIKE` did.
            let matches = |c: &str| match backend {
                super::Backend::Sqlite => format!("{c} LIKE $2 ESCAPE '\\'"),
                super::Backend::Postgres => format!("LOWER({c}) LIKE $2 ESCAPE '\\'"),
            };
            format!(
                "SELECT {columns} FROM directory_objects \
                 WHERE ($1 = '' OR directory = $1) AND ({} OR {} OR {} OR {}) \
                 ORDER BY name, guid LIMIT $3",
                matches("name"),
                matches("upn"),
                matches("sam"),
                matches("mail")
            )
        } else {
            // Else each column's index gives the objects it starts with, and only those are
            // matched against the whole pattern; each column's first hits by name are all the
            // answer can hold of it, so no more of them are gathered.
            let arms: Vec<String> = ["name", "upn", "sam", "mail"]
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    format!(
                        "SELECT * FROM (SELECT {columns} FROM directory_objects \
                         WHERE ($1 = '' OR directory = $1) AND {} AND {c} {like} $2 ESCAPE '\\' \
                         ORDER BY name, guid LIMIT $3) a{i}",
                        super::starts::starts_with(c, "$4", "$5", backend)
                    )
                })
                .collect();
            format!(
                "SELECT {columns} FROM ({}) o ORDER BY name, guid LIMIT $3",
                arms.join(" UNION ")
            )
        };
        let (lo, hi) = super::starts::bounds(prefix);
        let mut query = sqlx::query(&sql)
            .bind(directory.map(|d| d.to_string()).unwrap_or_default())
            .bind(pattern)
            .bind(limit);
        if !prefix.is_empty() {
            query = query.bind(lo).bind(hi);
        }
        let rows = query.fetch_all(self.pool()).await?;
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

    /// The devices where a profile of `sid` was harvested: the first 1,000 by computer name, so
    /// a report on a SID found everywhere stays quick.
    pub async fn profiles_of(&self, sid: &secdesc::Sid) -> Result<Vec<ProfileSeen>> {
        let rows = sqlx::query(
            "SELECT a.id, a.computer_name, a.directory, a.computer_guid, p.path, p.last_used \
             FROM harvested_profiles p JOIN agents a ON a.id = p.agent WHERE p.sid = $1 \
             ORDER BY a.computer_name, p.path LIMIT 1000",
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
