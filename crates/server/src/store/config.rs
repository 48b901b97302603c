//! Runbooks and batches, each stored as the JSON of its model type; a runbook's passwords, which
//! its JSON never holds, are sealed in `runbook_secrets`.

use chrono::{DateTime, Utc};
use model::batch::Batch;
use model::ids::{BatchId, RunbookId};
use model::runbook::{Runbook, RunbookSecrets, SecretsSet};
use sqlx::Row;
use std::sync::atomic::{AtomicU64, Ordering};

use super::agents::is_unique_violation;
use super::batch_devices::{devices_change, write_batch_devices};
use super::sealing::runbook_aad;
use super::{parse_json, to_json, to_ms, Store};
use crate::{Error, Result};

/// Bumped by every runbook, batch or licence written through this process, so a change whose
/// fingerprint happens to equal the old one (the same millisecond, as with a stopped test clock)
/// is seen too, and seen at once by the agent API's cache.
static WRITES: AtomicU64 = AtomicU64::new(0);

/// How many runbook, batch or licence writes this process has made.
pub fn local_config_writes() -> u64 {
    WRITES.load(Ordering::Relaxed)
}

/// Bumps [`WRITES`] when dropped: once the write it guards has finished (or failed).
pub(super) struct Bump;

impl Drop for Bump {
    fn drop(&mut self) {
        WRITES.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fingerprint of every runbook, batch, directory and licence: it changes when one is added,
/// changed or deleted (or a licence counts a device), here or on another replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigVersion {
    writes: u64,
    rows: [i64; 9],
}

impl ConfigVersion {
    /// The count of this process's writes it was taken at (see [`local_config_writes`]).
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

fn name_taken(name: &str) -> Error {
    Error::Conflict(format!("a runbook named {:?} already exists", name.trim()))
}

impl Store {
    /// The fingerprint of the runbooks and batches now (see [`ConfigVersion`]).
    pub async fn config_version(&self) -> Result<ConfigVersion> {
        let writes = WRITES.load(Ordering::Relaxed);
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM runbooks) AS a, \
             (SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM runbooks) AS b, \
             (SELECT CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM runbooks) AS c, \
             (SELECT COUNT(*) FROM batches) AS d, \
             (SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM batches) AS e, \
             (SELECT CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM batches) AS f, \
             (SELECT COUNT(*) FROM directories) AS g, \
             (SELECT COUNT(*) FROM licences) AS h, \
             (SELECT CAST(COALESCE(SUM(devices_used), 0) AS BIGINT) FROM licences) AS i",
        )
        .fetch_one(self.pool())
        .await?;
        let mut rows = [0i64; 9];
        for (i, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .enumerate()
        {
            rows[i] = row.try_get::<i64, _>(*name)?;
        }
        Ok(ConfigVersion { writes, rows })
    }

    /// Adds a runbook; a name already taken (ignoring case) is a conflict.
    pub async fn insert_runbook(&self, runbook: &Runbook, now: DateTime<Utc>) -> Result<()> {
        let _bump = Bump;
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
            Ok(_) => self.store_runbook_secrets(runbook).await,
            Err(e) if is_unique_violation(&e) => Err(name_taken(&runbook.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Seals the passwords `runbook` gives, replacing the stored ones; a password not given is
    /// kept, unless its section is off (then it is forgotten).
    async fn store_runbook_secrets(&self, runbook: &Runbook) -> Result<()> {
        let id = runbook.id.to_string();
        let sections_on = [
            runbook.startup.admin_fallback.is_some(),
            true,
            runbook.permissions.remote_file_shares.is_some(),
        ];
        for ((name, value), on) in runbook.secrets().entries().into_iter().zip(sections_on) {
            if value.is_some() || !on {
                sqlx::query("DELETE FROM runbook_secrets WHERE runbook = $1 AND name = $2")
                    .bind(&id)
                    .bind(name)
                    .execute(self.pool())
                    .await?;
            }
            if let Some(value) = value {
                sqlx::query(
                    "INSERT INTO runbook_secrets (runbook, name, secret) VALUES ($1, $2, $3)",
                )
                .bind(&id)
                .bind(name)
                .bind(self.secrets().seal_str(&runbook_aad(&id, name), value)?)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// Which of a runbook's passwords are stored, without opening them.
    pub async fn runbook_secrets_set(&self, id: RunbookId) -> Result<SecretsSet> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM runbook_secrets WHERE runbook = $1")
                .bind(id.to_string())
                .fetch_all(self.pool())
                .await?;
        let has = |n: &str| names.iter().any(|m| m == n);
        Ok(SecretsSet {
            admin_fallback_password: has("admin_fallback_password"),
            domain_join_password: has("domain_join_password"),
            remote_file_shares_password: has("remote_file_shares_password"),
        })
    }

    /// A runbook's stored passwords, opened: only for the agent's check-in assignment and for
    /// keeping them across an edit, never for an API answer.
    pub async fn runbook_secrets(&self, id: RunbookId) -> Result<RunbookSecrets> {
        let id = id.to_string();
        let rows = sqlx::query("SELECT name, secret FROM runbook_secrets WHERE runbook = $1")
            .bind(&id)
            .fetch_all(self.pool())
            .await?;
        let mut secrets = RunbookSecrets::default();
        for row in rows {
            let name: String = row.try_get("name")?;
            let value = self.secrets().open_str(
                &runbook_aad(&id, &name),
                &row.try_get::<String, _>("secret")?,
            )?;
            secrets.set(&name, value);
        }
        Ok(secrets)
    }

    /// Replaces a runbook; false when there is none with its id.
    pub async fn update_runbook(&self, runbook: &Runbook, now: DateTime<Utc>) -> Result<bool> {
        let _bump = Bump;
        let done = sqlx::query("UPDATE runbooks SET name = $1, name_key = $2, spec = $3, updated_at = $4 WHERE id = $5")
            .bind(runbook.name.trim())
            .bind(runbook.name.trim().to_lowercase())
            .bind(to_json(runbook)?)
            .bind(to_ms(now))
            .bind(runbook.id.to_string())
            .execute(self.pool())
            .await;
        match done {
            Ok(done) if done.rows_affected() > 0 => {
                self.store_runbook_secrets(runbook).await?;
                Ok(true)
            }
            Ok(_) => Ok(false),
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

    /// Deletes a runbook and its passwords; false when there was none.
    pub async fn delete_runbook(&self, id: RunbookId) -> Result<bool> {
        let _bump = Bump;
        sqlx::query("DELETE FROM runbook_secrets WHERE runbook = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        let done = sqlx::query("DELETE FROM runbooks WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds a batch, with the rows of Runbook Status it makes (see [`super::batch_devices`]).
    pub async fn insert_batch(&self, batch: &Batch, now: DateTime<Utc>) -> Result<()> {
        let _bump = Bump;
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO batches (id, name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(batch.id.to_string())
            .bind(batch.name.trim())
            .bind(to_json(batch)?)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        write_batch_devices(&mut tx, batch.id, Some(batch)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a batch, and its rows of Runbook Status when its computers or runbooks changed;
    /// false when there is none with its id.
    pub async fn update_batch(&self, batch: &Batch, now: DateTime<Utc>) -> Result<bool> {
        let _bump = Bump;
        let mut tx = self.pool().begin().await?;
        let old: Option<String> = sqlx::query_scalar("SELECT spec FROM batches WHERE id = $1")
            .bind(batch.id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(old) = old else {
            return Ok(false);
        };
        let old: Batch = parse_json("batch", &old)?;
        sqlx::query("UPDATE batches SET name = $1, spec = $2, updated_at = $3 WHERE id = $4")
            .bind(batch.name.trim())
            .bind(to_json(batch)?)
            .bind(to_ms(now))
            .bind(batch.id.to_string())
            .execute(&mut *tx)
            .await?;
        if devices_change(&old, batch) {
            write_batch_devices(&mut tx, batch.id, Some(batch)).await?;
        }
        tx.commit().await?;
        Ok(true)
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
        let _bump = Bump;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        write_batch_devices(&mut tx, id, None).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
