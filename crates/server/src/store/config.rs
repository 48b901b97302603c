//! Runbooks and batches, each stored as the JSON of its model type.

use chrono::{DateTime, Utc};
use model::batch::Batch;
use model::ids::{BatchId, RunbookId};
use model::runbook::Runbook;
use sqlx::Row;

use super::agents::is_unique_violation;
use super::{parse_json, to_json, to_ms, Store};
use crate::{Error, Result};

fn name_taken(name: &str) -> Error {
    Error::Conflict(format!("a runbook named {:?} already exists", name.trim()))
}

impl Store {
    /// Adds a runbook; a name already taken (ignoring case) is a conflict.
    pub async fn insert_runbook(&self, runbook: &Runbook, now: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO runbooks (id, name, name_key, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(runbook.id.to_string())
        .bind(runbook.name.trim())
        .bind(runbook.name.trim().to_lowercase())
        .bind(to_json(runbook)?)
        .bind(to_ms(now))
        .execute(self.pool())
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(name_taken(&runbook.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a runbook; false when there is none with its id.
    pub async fn update_runbook(&self, runbook: &Runbook, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE runbooks SET name = $1, name_key = $2, spec = $3, updated_at = $4 WHERE id = $5")
            .bind(runbook.name.trim())
            .bind(runbook.name.trim().to_lowercase())
            .bind(to_json(runbook)?)
            .bind(to_ms(now))
            .bind(runbook.id.to_string())
            .execute(self.pool())
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) if is_unique_violation(&e) => Err(name_taken(&runbook.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// One runbook.
    pub async fn runbook(&self, id: RunbookId) -> Result<Option<Runbook>> {
        let spec: Option<String> = sqlx::query_scalar("SELECT spec FROM runbooks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        spec.as_deref()
            .map(|s| parse_json("runbook", s))
            .transpose()
    }

    /// Every runbook, by name.
    pub async fn runbooks(&self) -> Result<Vec<Runbook>> {
        let rows = sqlx::query("SELECT spec FROM runbooks ORDER BY name_key")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| parse_json("runbook", &row.try_get::<String, _>("spec")?))
            .collect()
    }

    /// Deletes a runbook; false when there was none.
    pub async fn delete_runbook(&self, id: RunbookId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM runbooks WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds a batch.
    pub async fn insert_batch(&self, batch: &Batch, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO batches (id, name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(batch.id.to_string())
            .bind(batch.name.trim())
            .bind(to_json(batch)?)
            .bind(to_ms(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces a batch; false when there is none with its id.
    pub async fn update_batch(&self, batch: &Batch, now: DateTime<Utc>) -> Result<bool> {
        let done =
            sqlx::query("UPDATE batches SET name = $1, spec = $2, updated_at = $3 WHERE id = $4")
                .bind(batch.name.trim())
                .bind(to_json(batch)?)
                .bind(to_ms(now))
                .bind(batch.id.to_string())
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// One batch.
    pub async fn batch(&self, id: BatchId) -> Result<Option<Batch>> {
        let spec: Option<String> = sqlx::query_scalar("SELECT spec FROM batches WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        spec.as_deref().map(|s| parse_json("batch", s)).transpose()
    }

    /// Every batch in batch order (the order they were created), which decides which assignment
    /// a device gets first.
    pub async fn batches(&self) -> Result<Vec<Batch>> {
        let rows = sqlx::query("SELECT spec FROM batches ORDER BY created_at, id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| parse_json("batch", &row.try_get::<String, _>("spec")?))
            .collect()
    }

    /// Deletes a batch; false when there was none.
    pub async fn delete_batch(&self, id: BatchId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
