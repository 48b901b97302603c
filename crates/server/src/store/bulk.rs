//! Bulk writes on SQLite through one prepared statement per table on a connection of their own:
//! a million-object import binds each value once and copies nothing on the way, where going
//! through the pool's generic layer converts and copies every argument several times (five times
//! slower, measured with `rehome bench directory`). PostgreSQL takes the generic path.

use std::path::Path;

use model::directory::DirectoryObject;
use model::ids::{DirectoryId, ObjectGuid};
use rusqlite::{params, Connection, TransactionBehavior};

use super::directories::{CursorUpdate, ImportRun};
use super::to_ms;
use super::translations::MatchWrite;
use crate::{Error, Result};

fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("database: {}", e))
}

fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(failed)?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -131072; \
         PRAGMA temp_store = MEMORY;",
    )
    .map_err(failed)?;
    Ok(conn)
}

fn spaced<T: std::fmt::Display>(values: &[T]) -> Option<String> {
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

/// [`super::Store::apply_import`] on the SQLite file at `path`.
pub fn apply_import(
    path: &Path,
    directory: DirectoryId,
    domain_id: Option<&str>,
    upserts: &[DirectoryObject],
    deleted: &[ObjectGuid],
    run: &ImportRun,
    cursor: &CursorUpdate,
) -> Result<i64> {
    let mut conn = open(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let dir = directory.to_string();
    {
        let mut delete_object = tx
            .prepare("DELETE FROM directory_objects WHERE directory = ?1 AND guid = ?2")
            .map_err(failed)?;
        let mut delete_messages = tx
            .prepare("DELETE FROM object_messages WHERE directory = ?1 AND guid = ?2")
            .map_err(failed)?;
        for guid in deleted {
            let guid = guid.to_string();
            delete_object.execute(params![dir, guid]).map_err(failed)?;
            delete_messages
                .execute(params![dir, guid])
                .map_err(failed)?;
        }
        let mut upsert = tx
            .prepare(
                "INSERT INTO directory_objects (directory, guid, kind, name, sid, upn, sam, mail, employee_id, os, \
                 dn, given_name, surname, sid_history, members, device_id, enabled, digest) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
                 ON CONFLICT (directory, guid) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
                 sid = excluded.sid, upn = excluded.upn, sam = excluded.sam, mail = excluded.mail, \
                 employee_id = excluded.employee_id, os = excluded.os, dn = excluded.dn, \
                 given_name = excluded.given_name, surname = excluded.surname, sid_history = excluded.sid_history, \
                 members = excluded.members, device_id = excluded.device_id, enabled = excluded.enabled, \
                 digest = excluded.digest",
            )
            .map_err(failed)?;
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
                    spaced(&o.sid_history),
                    spaced(&o.members),
                    o.device_id,
                    o.enabled.map(i64::from),
                    o.digest() as i64,
                ])
                .map_err(failed)?;
        }
    }
    let generation: i64 = tx
        .query_row(
            "UPDATE directories SET generation = generation + 1 WHERE id = ?1 RETURNING generation",
            params![dir],
            |row| row.get(0),
        )
        .map_err(failed)?;
    if let Some(domain_id) = domain_id {
        tx.execute(
            "UPDATE directories SET domain_id = ?1 WHERE id = ?2",
            params![domain_id, dir],
        )
        .map_err(failed)?;
    }
    match cursor {
        CursorUpdate::Keep => {}
        CursorUpdate::Set(text) => {
            tx.execute(
                "UPDATE directories SET cursor = ?1 WHERE id = ?2",
                params![text, dir],
            )
            .map_err(failed)?;
        }
        CursorUpdate::Clear => {
            tx.execute(
                "UPDATE directories SET cursor = NULL WHERE id = ?1",
                params![dir],
            )
            .map_err(failed)?;
        }
    }
    tx.execute(
        "INSERT INTO import_runs (id, directory, kind, started_at, duration_ms, total, added, changed, deleted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
    .map_err(failed)?;
    tx.commit().map_err(failed)?;
    Ok(generation)
}

/// [`super::Store::write_match`] on the SQLite file at `path`.
pub fn write_match(
    path: &Path,
    source: DirectoryId,
    target: DirectoryId,
    stage: &str,
    profile: &str,
    write: &MatchWrite,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    let mut conn = open(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let (src, dst) = (source.to_string(), target.to_string());
    {
        let mut delete_row = tx
            .prepare(
                "DELETE FROM translations WHERE source_directory = ?1 AND target_directory = ?2 AND source_guid = ?3",
            )
            .map_err(failed)?;
        for guid in &write.delete_rows {
            delete_row
                .execute(params![src, dst, guid.to_string()])
                .map_err(failed)?;
        }
        let mut insert_row = tx
            .prepare(
                "INSERT INTO translations (kind, source_directory, source_guid, source_sid, source_upn, source_name, \
                 target_directory, target_guid, target_sid, target_upn, target_name, matched_at, rule) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(failed)?;
        for (e, rule) in &write.insert_rows {
            insert_row
                .execute(params![
                    e.kind.as_str(),
                    src,
                    e.source.guid.to_string(),
                    e.source.sid.to_string(),
                    e.source.upn,
                    e.source.name,
                    dst,
                    e.target.guid.to_string(),
                    e.target.sid.to_string(),
                    e.target.upn,
                    e.target.name,
                    to_ms(now),
                    rule,
                ])
                .map_err(failed)?;
        }
        let mut delete_message = tx
            .prepare(
                "DELETE FROM object_messages WHERE directory = ?1 AND stage = ?2 AND guid = ?3",
            )
            .map_err(failed)?;
        for guid in &write.delete_messages {
            delete_message
                .execute(params![src, stage, guid.to_string()])
                .map_err(failed)?;
        }
        let mut upsert_message = tx
            .prepare(
                "INSERT INTO object_messages (directory, guid, stage, at, level, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (directory, guid, stage) DO UPDATE SET at = excluded.at, level = excluded.level, \
                 message = excluded.message",
            )
            .map_err(failed)?;
        for m in &write.upsert_messages {
            upsert_message
                .execute(params![
                    src,
                    m.guid.to_string(),
                    stage,
                    to_ms(m.at),
                    m.level.as_str(),
                    m.message
                ])
                .map_err(failed)?;
        }
    }
    let generation: i64 = tx
        .query_row(
            "INSERT INTO match_pairs (source_directory, target_directory, profile, generation, updated_at) \
             VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (source_directory, target_directory) DO UPDATE SET \
             profile = excluded.profile, generation = match_pairs.generation + 1, updated_at = excluded.updated_at \
             RETURNING generation",
            params![src, dst, profile, to_ms(now)],
            |row| row.get(0),
        )
        .map_err(failed)?;
    tx.commit().map_err(failed)?;
    Ok(generation)
}
