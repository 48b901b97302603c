//! Readiness checks, waivers and requests (`0013_readiness.sql`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::readiness::{CheckResult, Verdict};
use sqlx::Row;

use super::{from_ms, parse_text, row_placeholders, to_ms, Store, ROWS_PER_STATEMENT};
use crate::Result;

/// One stored check of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheck {
    /// The device.
    pub agent: AgentId,
    /// The runbook it was taken for.
    pub runbook: RunbookId,
    /// The check as the device sent it.
    pub result: CheckResult,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
}

/// A blocking check let pass for one device and runbook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Waiver {
    /// The check's id.
    pub check: String,
    /// Who waived it.
    pub waived_by: String,
    /// Why, in their words.
    pub reason: String,
    /// When.
    pub waived_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "agent, runbook, batch, check_id, position, verdict, reason, seen, taken_at, received_at";

fn stored_check(row: &sqlx::any::AnyRow) -> Result<StoredCheck> {
    let verdict: String = row.try_get("verdict")?;
    Ok(StoredCheck {
        agent: parse_text("readiness agent", &row.try_get::<String, _>("agent")?)?,
        runbook: parse_text("readiness runbook", &row.try_get::<String, _>("runbook")?)?,
        result: CheckResult {
            check: row.try_get("check_id")?,
            verdict: parse_text::<Verdict>("readiness verdict", &verdict)?,
            reason: row.try_get("reason")?,
            value: row.try_get("seen")?,
            taken_at: from_ms(row.try_get("taken_at")?),
        },
        received_at: from_ms(row.try_get("received_at")?),
    })
}

impl Store {
    /// Replaces the checks `agent` took for `runbook` with `checks`, in one transaction, and
    /// forgets any request to take them again.
    pub async fn replace_readiness(
        &self,
        agent: AgentId,
        batch: BatchId,
        runbook: RunbookId,
        checks: &[CheckResult],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        let (agent_text, runbook_text) = (agent.to_string(), runbook.to_string());
        sqlx::query("DELETE FROM readiness_checks WHERE agent = $1 AND runbook = $2")
            .bind(agent_text.clone())
            .bind(runbook_text.clone())
            .execute(&mut *tx)
            .await?;
        let numbered: Vec<(usize, &CheckResult)> = checks.iter().enumerate().collect();
        for chunk in numbered.chunks(ROWS_PER_STATEMENT) {
            // The domain refuses a report naming one check twice; this keeps the store whole anyway.
            let sql = format!(
                "INSERT INTO readiness_checks ({}) VALUES {} ON CONFLICT (agent, runbook, check_id) DO NOTHING",
                COLUMNS,
                row_placeholders(chunk.len(), 10)
            );
            let mut query = sqlx::query(&sql);
            for (position, c) in chunk {
                query = query
                    .bind(agent_text.clone())
                    .bind(runbook_text.clone())
                    .bind(batch.to_string())
                    .bind(c.check.clone())
                    .bind(*position as i64)
                    .bind(c.verdict.as_str())
                    .bind(c.reason.clone())
                    .bind(c.value.clone())
                    .bind(to_ms(c.taken_at))
                    .bind(to_ms(now));
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM readiness_requests WHERE agent = $1")
            .bind(agent_text)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored check of the devices of `batch`, by device and in the order taken.
    pub async fn readiness_of_batch(&self, batch: BatchId) -> Result<Vec<StoredCheck>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM readiness_checks WHERE batch = $1 ORDER BY agent, runbook, position",
            COLUMNS
        ))
        .bind(batch.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(stored_check).collect()
    }

    /// The stored checks of `agent`, every runbook, in the order taken.
    pub async fn readiness_of_agent(&self, agent: AgentId) -> Result<Vec<StoredCheck>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM readiness_checks WHERE agent = $1 ORDER BY runbook, position",
            COLUMNS
        ))
        .bind(agent.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(stored_check).collect()
    }

    /// Whether `agent` reported checks for `runbook` in `batch`.
    pub async fn has_readiness(
        &self,
        agent: AgentId,
        batch: BatchId,
        runbook: RunbookId,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM readiness_checks WHERE agent = $1 AND runbook = $2 AND batch = $3",
        )
        .bind(agent.to_string())
        .bind(runbook.to_string())
        .bind(batch.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Records a waiver, replacing an earlier one of the same check.
    pub async fn insert_waiver(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        waiver: &Waiver,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO readiness_waivers (agent, runbook, check_id, waived_by, reason, waived_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (agent, runbook, check_id) DO UPDATE SET waived_by = excluded.waived_by, reason = excluded.reason, waived_at = excluded.waived_at",
        )
        .bind(agent.to_string())
        .bind(runbook.to_string())
        .bind(waiver.check.clone())
        .bind(waiver.waived_by.clone())
        .bind(waiver.reason.clone())
        .bind(to_ms(waiver.waived_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The waivers of `agent`, by runbook.
    pub async fn waivers_of_agent(
        &self,
        agent: AgentId,
    ) -> Result<BTreeMap<RunbookId, Vec<Waiver>>> {
        let rows = sqlx::query(
            "SELECT runbook, check_id, waived_by, reason, waived_at FROM readiness_waivers WHERE agent = $1 ORDER BY waived_at",
        )
        .bind(agent.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut out: BTreeMap<RunbookId, Vec<Waiver>> = BTreeMap::new();
        for row in rows {
            let runbook = parse_text("waiver runbook", &row.try_get::<String, _>("runbook")?)?;
            out.entry(runbook).or_default().push(Waiver {
                check: row.try_get("check_id")?,
                waived_by: row.try_get("waived_by")?,
                reason: row.try_get("reason")?,
                waived_at: from_ms(row.try_get("waived_at")?),
            });
        }
        Ok(out)
    }

    /// The waived checks of every device of `batch` (through its stored checks), by device and
    /// runbook.
    pub async fn waivers_of_batch(
        &self,
        batch: BatchId,
    ) -> Result<BTreeMap<(AgentId, RunbookId), BTreeSet<String>>> {
        let rows = sqlx::query(
            "SELECT w.agent, w.runbook, w.check_id FROM readiness_waivers w \
             JOIN readiness_checks c ON c.agent = w.agent AND c.runbook = w.runbook AND c.check_id = w.check_id \
             WHERE c.batch = $1",
        )
        .bind(batch.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut out: BTreeMap<(AgentId, RunbookId), BTreeSet<String>> = BTreeMap::new();
        for row in rows {
            let agent = parse_text("waiver agent", &row.try_get::<String, _>("agent")?)?;
            let runbook = parse_text("waiver runbook", &row.try_get::<String, _>("runbook")?)?;
            out.entry((agent, runbook))
                .or_default()
                .insert(row.try_get("check_id")?);
        }
        Ok(out)
    }

    /// Asks `agent` to take its checks again at its next check-in.
    pub async fn request_readiness(&self, agent: AgentId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO readiness_requests (agent, requested_at) VALUES ($1, $2) \
             ON CONFLICT (agent) DO UPDATE SET requested_at = excluded.requested_at",
        )
        .bind(agent.to_string())
        .bind(to_ms(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether someone asked `agent` to take its checks again since it last sent them.
    pub async fn readiness_requested(&self, agent: AgentId) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM readiness_requests WHERE agent = $1")
            .bind(agent.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
