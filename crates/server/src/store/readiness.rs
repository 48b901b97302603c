//! Readiness checks, waivers and requests (`0013_readiness.sql`), and the summary of each device
//! and runbook that a batch's page counts and pages (`0019_readiness.sql`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::readiness::{CheckResult, Verdict};
use sqlx::Row;

use super::writer::{Statement, Value, Write};
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

/// Where one device stands with the checks of one runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// The batch it was last asked for.
    pub batch: BatchId,
    /// When it was first asked (for that batch).
    pub asked_at: DateTime<Utc>,
    /// When its newest report for that batch arrived; none when it has not reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// Someone asked it to take its checks again since it last sent them.
    pub requested: bool,
}

/// Recomputes one device's summary (placeholders: agent, runbook) from its checks and waivers:
/// the worst verdict, a waived block counting as a warning, and the first blocking check that is
/// not waived. `0019_readiness.sql` fills the rows that existed before with the same rule.
const REFRESH_SUMMARY: &str = "UPDATE readiness_devices SET \
     worst = (SELECT CASE MAX(CASE \
             WHEN c.verdict = 'block' AND w.check_id IS NULL THEN 3 \
             WHEN c.verdict IN ('block', 'warn') THEN 2 \
             WHEN c.verdict = 'pass' THEN 0 ELSE 1 END) \
         WHEN 3 THEN 'block' WHEN 2 THEN 'warn' WHEN 1 THEN 'unknown' ELSE 'pass' END \
         FROM readiness_checks c LEFT JOIN readiness_waivers w \
         ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id \
         WHERE c.agent = $1 AND c.runbook = $2), \
     blocking_check = (SELECT c.check_id FROM readiness_checks c LEFT JOIN readiness_waivers w \
         ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id \
         WHERE c.agent = $1 AND c.runbook = $2 AND c.verdict = 'block' AND w.check_id IS NULL \
         ORDER BY c.position LIMIT 1), \
     blocking_reason = (SELECT c.reason FROM readiness_checks c LEFT JOIN readiness_waivers w \
         ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id \
         WHERE c.agent = $1 AND c.runbook = $2 AND c.verdict = 'block' AND w.check_id IS NULL \
         ORDER BY c.position LIMIT 1) \
     WHERE agent = $1 AND runbook = $2 AND reported_at IS NOT NULL";

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
        sqlx::query(
            "INSERT INTO readiness_devices (agent, runbook, batch, asked_at, reported_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (agent, runbook) DO UPDATE \
             SET batch = excluded.batch, reported_at = excluded.reported_at",
        )
        .bind(agent_text.clone())
        .bind(runbook_text.clone())
        .bind(batch.to_string())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(REFRESH_SUMMARY)
            .bind(agent_text.clone())
            .bind(runbook_text)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM readiness_requests WHERE agent = $1")
            .bind(agent_text)
            .execute(&mut *tx)
            .await?;
        let done = tx.commit().await;
        self.device_changed(agent);
        done?;
        Ok(())
    }

    /// Records that a check-in answer asked `agent` for its checks of `runbook` in `batch`: the
    /// first ask is kept, and a device moved to another batch counts as not reported there.
    pub async fn record_readiness_asked(
        &self,
        agent: AgentId,
        batch: BatchId,
        runbook: RunbookId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // Through the writer, like every other write a check-in makes, so it joins their batch
        // instead of racing them for SQLite's lock.
        let done = self.write(Write::Statements(vec![Statement {
            sql: "INSERT INTO readiness_devices (agent, runbook, batch, asked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (agent, runbook) DO UPDATE SET batch = excluded.batch, \
             asked_at = excluded.asked_at, reported_at = NULL, worst = NULL, \
             blocking_check = NULL, blocking_reason = NULL \
             WHERE readiness_devices.batch <> excluded.batch",
            values: vec![
                Value::Text(agent.to_string()),
                Value::Text(runbook.to_string()),
                Value::Text(batch.to_string()),
                Value::Int(to_ms(now)),
            ],
        }]))
        .await;
        self.device_changed(agent);
        done?;
        Ok(())
    }

    /// Where `agent` stands with its checks of `runbook`; none when it was never asked.
    pub async fn readiness_state(
        &self,
        agent: AgentId,
        runbook: RunbookId,
    ) -> Result<Option<DeviceState>> {
        let row = sqlx::query(
            "SELECT batch, asked_at, reported_at, \
             (SELECT COUNT(*) FROM readiness_requests r WHERE r.agent = d.agent) AS requested \
             FROM readiness_devices d WHERE d.agent = $1 AND d.runbook = $2",
        )
        .bind(agent.to_string())
        .bind(runbook.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(DeviceState {
                batch: parse_text("readiness batch", &row.try_get::<String, _>("batch")?)?,
                asked_at: from_ms(row.try_get("asked_at")?),
                reported_at: row.try_get::<Option<i64>, _>("reported_at")?.map(from_ms),
                requested: row.try_get::<i64, _>("requested")? > 0,
            })
        })
        .transpose()
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

    /// Records a waiver, replacing an earlier one of the same check, and the device's summary with it.
    pub async fn insert_waiver(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        waiver: &Waiver,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
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
        .execute(&mut *tx)
        .await?;
        sqlx::query(REFRESH_SUMMARY)
            .bind(agent.to_string())
            .bind(runbook.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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

    /// Asks `agent` to take its checks again at its next check-in.
    pub async fn request_readiness(&self, agent: AgentId, now: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO readiness_requests (agent, requested_at) VALUES ($1, $2) \
             ON CONFLICT (agent) DO UPDATE SET requested_at = excluded.requested_at",
        )
        .bind(agent.to_string())
        .bind(to_ms(now))
        .execute(self.pool())
        .await;
        self.device_changed(agent);
        done?;
        Ok(())
    }
}
