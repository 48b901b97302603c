//! Agent events: stored once per (agent, seq) however often an upload is retried.

use chrono::{DateTime, Utc};
use model::ids::{AgentId, RunbookId};
use model::protocol::AgentEvent;
use model::status::{AgentStatus, EventLevel};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::writer::{EventRow, Write};
use super::{enum_text, from_ms, parse_enum, parse_text, to_ms, Store};
use crate::{Error, Result};

const COLUMNS: &str = "agent, seq, at, received_at, level, runbook, phase, step, status, message";

pub(super) fn event_from_row(row: &AnyRow) -> Result<AgentEvent> {
    let seq: i64 = row.try_get("seq")?;
    let runbook: Option<String> = row.try_get("runbook")?;
    let phase: Option<String> = row.try_get("phase")?;
    let status: Option<String> = row.try_get("status")?;
    Ok(AgentEvent {
        seq: u64::try_from(seq)
            .map_err(|_| Error::Internal("a stored event sequence number is negative".into()))?,
        at: from_ms(row.try_get("at")?),
        level: parse_enum::<EventLevel>("event level", &row.try_get::<String, _>("level")?)?,
        runbook: runbook
            .as_deref()
            .map(|r| parse_text::<RunbookId>("runbook id", r))
            .transpose()?,
        phase: phase
            .as_deref()
            .map(|p| parse_enum("phase", p))
            .transpose()?,
        step: row.try_get("step")?,
        status: status
            .as_deref()
            .map(|s| parse_text::<AgentStatus>("status", s))
            .transpose()?,
        message: row.try_get("message")?,
    })
}

impl Store {
    /// Stores the events of one upload in one transaction (shared with other uploads, see
    /// [`super::writer`]), each (agent, seq) once; returns how many were new. Sequence numbers
    /// must fit in a signed 64-bit integer.
    pub async fn insert_events(
        &self,
        agent: AgentId,
        events: &[AgentEvent],
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let rows = events
            .iter()
            .map(|e| {
                Ok(EventRow {
                    seq: i64::try_from(e.seq)
                        .map_err(|_| Error::field("events.seq", "sequence number too large"))?,
                    at: to_ms(e.at),
                    level: e.level.as_str(),
                    runbook: e.runbook.map(|r| r.to_string()),
                    phase: e.phase.map(|p| enum_text(&p)),
                    step: e.step.clone(),
                    status: e.status.map(|s| s.as_str().to_string()),
                    message: e.message.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.write(Write::Events {
            agent: agent.to_string(),
            received_at: to_ms(now),
            rows,
        })
        .await
    }

    /// The highest sequence number stored for `agent`, 0 when none.
    pub async fn last_event_seq(&self, agent: AgentId) -> Result<u64> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM agent_events WHERE agent = $1")
                .bind(agent.to_string())
                .fetch_one(self.pool())
                .await?;
        Ok(max.and_then(|m| u64::try_from(m).ok()).unwrap_or(0))
    }

    /// A page of `agent`'s events, newest first: at most `limit` with seq below `before` (all when None).
    pub async fn events(
        &self,
        agent: AgentId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AgentEvent>> {
        let before = before
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX))
            .unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "SELECT {} FROM agent_events WHERE agent = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
            COLUMNS
        ))
        .bind(agent.to_string())
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// How many events `agent` has stored.
    pub async fn event_count(&self, agent: AgentId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agent_events WHERE agent = $1")
            .bind(agent.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
