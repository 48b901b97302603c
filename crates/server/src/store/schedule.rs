//! The import and match schedule: its settings, its latest cycle, and the pairs a cycle matches.

use chrono::{DateTime, Utc};
use model::ids::DirectoryId;
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::Result;

/// The one row of `sync_schedule`.
const SCHEDULE_ID: &str = "default";

/// The import and match cycle's settings and its latest run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncSchedule {
    /// Whether cycles run on their own.
    pub enabled: bool,
    /// Minutes from the start of one cycle to the start of the next.
    pub interval_minutes: i64,
    /// When the latest cycle started.
    pub last_started: Option<DateTime<Utc>>,
    /// When the latest cycle finished.
    pub last_finished: Option<DateTime<Utc>>,
    /// What went wrong in the latest cycle, one line per directory or pair.
    pub last_error: Option<String>,
}

impl Default for SyncSchedule {
    /// Off, every hour.
    fn default() -> SyncSchedule {
        SyncSchedule {
            enabled: false,
            interval_minutes: 60,
            last_started: None,
            last_finished: None,
            last_error: None,
        }
    }
}

impl Store {
    /// The schedule, or the default (off) when none was ever stored.
    pub async fn sync_schedule(&self) -> Result<SyncSchedule> {
        let row = sqlx::query(
            "SELECT enabled, interval_minutes, last_started, last_finished, last_error \
             FROM sync_schedule WHERE id = $1",
        )
        .bind(SCHEDULE_ID)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(SyncSchedule::default());
        };
        let last_started: Option<i64> = row.try_get("last_started")?;
        let last_finished: Option<i64> = row.try_get("last_finished")?;
        Ok(SyncSchedule {
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            interval_minutes: row.try_get("interval_minutes")?,
            last_started: last_started.map(from_ms),
            last_finished: last_finished.map(from_ms),
            last_error: row.try_get("last_error")?,
        })
    }

    /// Turns the schedule on or off and sets its interval, keeping the record of the last cycle.
    pub async fn set_sync_schedule(&self, enabled: bool, interval_minutes: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO sync_schedule (id, enabled, interval_minutes) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, \
             interval_minutes = excluded.interval_minutes",
        )
        .bind(SCHEDULE_ID)
        .bind(i64::from(enabled))
        .bind(interval_minutes)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that a cycle started at `at`.
    pub async fn sync_cycle_started(&self, at: DateTime<Utc>) -> Result<()> {
        let default = SyncSchedule::default();
        sqlx::query(
            "INSERT INTO sync_schedule (id, enabled, interval_minutes, last_started) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET last_started = excluded.last_started",
        )
        .bind(SCHEDULE_ID)
        .bind(i64::from(default.enabled))
        .bind(default.interval_minutes)
        .bind(to_ms(at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records that a cycle finished at `at`, with what went wrong, if anything.
    pub async fn sync_cycle_finished(&self, at: DateTime<Utc>, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE sync_schedule SET last_finished = $1, last_error = $2 WHERE id = $3")
            .bind(to_ms(at))
            .bind(error)
            .bind(SCHEDULE_ID)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every (source, target) pair with a stored match profile, in a stable order.
    pub async fn match_pairs(&self) -> Result<Vec<(DirectoryId, DirectoryId)>> {
        let rows = sqlx::query(
            "SELECT source_directory, target_directory FROM match_pairs \
             ORDER BY source_directory, target_directory",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    super::parse_text(
                        "source directory",
                        &row.try_get::<String, _>("source_directory")?,
                    )?,
                    super::parse_text(
                        "target directory",
                        &row.try_get::<String, _>("target_directory")?,
                    )?,
                ))
            })
            .collect()
    }
}
