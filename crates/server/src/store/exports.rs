//! Sync profiles, export runs and the messages an export leaves on each source object.

use chrono::{DateTime, Utc};
use model::ids::{DirectoryId, ObjectGuid};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::translations::{MessageLevel, ObjectMessage};
use super::{from_ms, parse_json, parse_text, to_json, to_ms, Store};
use crate::directory::export::profile::{SyncProfile, SyncProfileId};
use crate::directory::export::ExportRun;
use crate::{Error, Result};

fn profile_from_row(row: &AnyRow) -> Result<SyncProfile> {
    let body: String = row.try_get("body")?;
    parse_json("sync profile", &body)
}

const RUN_COLUMNS: &str = "id, source_directory, target_directory, started_at, finished_at, created, updated, moved, disabled, memberships, refused, unchanged, operations, error";

fn run_from_row(row: &AnyRow) -> Result<ExportRun> {
    let count = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
    Ok(ExportRun {
        id: parse_text("export run id", &row.try_get::<String, _>("id")?)?,
        source: parse_text("source", &row.try_get::<String, _>("source_directory")?)?,
        target: parse_text("target", &row.try_get::<String, _>("target_directory")?)?,
        started_at: from_ms(row.try_get("started_at")?),
        finished_at: from_ms(row.try_get("finished_at")?),
        created: count("created")?,
        updated: count("updated")?,
        moved: count("moved")?,
        disabled: count("disabled")?,
        memberships: count("memberships")?,
        refused: count("refused")?,
        unchanged: count("unchanged")?,
        operations: count("operations")?,
        error: row.try_get("error")?,
    })
}

impl Store {
    /// Every sync profile, by name.
    pub async fn sync_profiles(&self) -> Result<Vec<SyncProfile>> {
        let rows = sqlx::query("SELECT body FROM sync_profiles ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(profile_from_row).collect()
    }

    /// One sync profile.
    pub async fn sync_profile(&self, id: SyncProfileId) -> Result<Option<SyncProfile>> {
        let row = sqlx::query("SELECT body FROM sync_profiles WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(profile_from_row).transpose()
    }

    /// Adds or replaces a profile. A second profile for the same pair and kind, or with the
    /// same name, is a conflict.
    pub async fn put_sync_profile(&self, profile: &SyncProfile, now: DateTime<Utc>) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO sync_profiles (id, name, source_directory, target_directory, kind, mode, body, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, source_directory = excluded.source_directory, \
             target_directory = excluded.target_directory, kind = excluded.kind, mode = excluded.mode, \
             body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(profile.id.to_string())
        .bind(&profile.name)
        .bind(profile.source.to_string())
        .bind(profile.target.to_string())
        .bind(profile.kind.as_str())
        .bind(profile.mode.as_str())
        .bind(to_json(profile)?)
        .bind(to_ms(now))
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::Conflict(
                "another sync profile has this name, or covers the same kind for this source and target"
                    .into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a profile; false when there was none.
    pub async fn delete_sync_profile(&self, id: SyncProfileId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sync_profiles WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The pairs with at least one Create-or-Update profile.
    pub async fn export_pairs(&self) -> Result<Vec<(DirectoryId, DirectoryId)>> {
        let rows = sqlx::query(
            "SELECT DISTINCT source_directory, target_directory FROM sync_profiles WHERE mode = 'create_or_update' \
             ORDER BY source_directory, target_directory",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_text("source", &r.try_get::<String, _>("source_directory")?)?,
                    parse_text("target", &r.try_get::<String, _>("target_directory")?)?,
                ))
            })
            .collect()
    }

    /// Records an export run.
    pub async fn insert_export_run(&self, run: &ExportRun) -> Result<()> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(&format!(
            "INSERT INTO export_runs ({}, recorded) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             COALESCE(MAX(recorded), 0) + 1 FROM export_runs",
            RUN_COLUMNS
        ))
        .bind(run.id.to_string())
        .bind(run.source.to_string())
        .bind(run.target.to_string())
        .bind(to_ms(run.started_at))
        .bind(to_ms(run.finished_at))
        .bind(n(run.created))
        .bind(n(run.updated))
        .bind(n(run.moved))
        .bind(n(run.disabled))
        .bind(n(run.memberships))
        .bind(n(run.refused))
        .bind(n(run.unchanged))
        .bind(n(run.operations))
        .bind(run.error.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest `limit` export runs of a pair, newest first.
    pub async fn export_runs(
        &self,
        source: DirectoryId,
        target: DirectoryId,
        limit: i64,
    ) -> Result<Vec<ExportRun>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM export_runs WHERE source_directory = $1 AND target_directory = $2 \
             ORDER BY recorded DESC LIMIT $3",
            RUN_COLUMNS
        ))
        .bind(source.to_string())
        .bind(target.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Sets the message of `stage` on source objects of `directory`, replacing earlier ones.
    pub async fn put_object_messages(
        &self,
        directory: DirectoryId,
        stage: &str,
        messages: &[ObjectMessage],
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        for m in messages {
            sqlx::query(
                "INSERT INTO object_messages (directory, guid, stage, at, level, message) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (directory, guid, stage) DO UPDATE SET at = excluded.at, level = excluded.level, message = excluded.message",
            )
            .bind(directory.to_string())
            .bind(m.guid.to_string())
            .bind(stage)
            .bind(to_ms(m.at))
            .bind(m.level.as_str())
            .bind(&m.message)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A message for [`Store::put_object_messages`].
pub fn message(
    guid: ObjectGuid,
    level: MessageLevel,
    text: String,
    at: DateTime<Utc>,
) -> ObjectMessage {
    ObjectMessage {
        guid,
        level,
        message: text,
        at,
    }
}
