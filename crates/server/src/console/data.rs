//! What the console pages show, read through the store's report functions and reduced to plain
//! rows, so a change in the store's types touches only this file.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use model::ids::{AgentId, RunbookId};
use model::plan::JoinState;
use model::status::{AgentStatus, Phase};

use crate::{App, Result};

/// One agent's header facts.
pub struct AgentFacts {
    /// Computer name.
    pub computer_name: String,
    /// Serial number.
    pub serial: String,
    /// Operating system version.
    pub os: String,
    /// Current join state, in words.
    pub join_state: String,
    /// Agent version.
    pub agent_version: String,
    /// First registration.
    pub registered_at: DateTime<Utc>,
    /// Last contact.
    pub last_contact: DateTime<Utc>,
}

/// One runbook's progress on one agent.
pub struct RunLine {
    /// Runbook name (its id when it no longer exists).
    pub runbook: String,
    /// The runbook's id.
    pub runbook_id: model::ids::RunbookId,
    /// Status.
    pub status: AgentStatus,
    /// Current phase.
    pub phase: Option<Phase>,
    /// Current step.
    pub step: Option<String>,
    /// Last update.
    pub last_update: DateTime<Utc>,
    /// Last error reported.
    pub last_error: Option<String>,
}

/// One log line of an agent.
pub struct LogLine {
    /// The agent's sequence number.
    pub seq: u64,
    /// When it happened, by the device's clock.
    pub at: DateTime<Utc>,
    /// Info, Warning or Error.
    pub level: String,
    /// Phase it concerns.
    pub phase: Option<Phase>,
    /// What happened.
    pub message: String,
}

/// One refused or failed agent contact.
pub struct FailedLine {
    /// When.
    pub at: DateTime<Utc>,
    /// The name the device gave, if any.
    pub computer_name: Option<String>,
    /// Where it came from.
    pub remote_address: Option<String>,
    /// Stable reason code.
    pub code: String,
    /// The reason in words.
    pub message: String,
    /// The first of the repeats from this address for this reason.
    pub first_at: DateTime<Utc>,
    /// How many times.
    pub repeats: i64,
}

pub fn join_state_text(state: &JoinState) -> String {
    match state {
        JoinState::Workgroup => "Workgroup".to_string(),
        JoinState::ActiveDirectory { domain } => format!("Active Directory: {domain}"),
        JoinState::Entra { tenant } => format!("Entra: {tenant}"),
    }
}

async fn runbook_names(app: &App) -> Result<HashMap<RunbookId, String>> {
    Ok(app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

fn runbook_name(names: &HashMap<RunbookId, String>, id: RunbookId) -> String {
    names.get(&id).cloned().unwrap_or_else(|| id.to_string())
}

/// One agent's facts and runs; `None` when there is no such agent.
pub async fn agent(app: &App, id: AgentId) -> Result<Option<(AgentFacts, Vec<RunLine>)>> {
    let Some(a) = app.store.agent(id).await? else {
        return Ok(None);
    };
    let names = runbook_names(app).await?;
    let mut runs: Vec<RunLine> = app
        .store
        .runs_of_agent(id)
        .await?
        .into_iter()
        .map(|r| RunLine {
            runbook: runbook_name(&names, r.runbook),
            runbook_id: r.runbook,
            status: r.status,
            phase: r.phase,
            step: r.step,
            last_update: r.last_update,
            last_error: r.last_error,
        })
        .collect();
    runs.sort_by(|a, b| a.runbook.cmp(&b.runbook));
    let facts = AgentFacts {
        computer_name: a.computer_name,
        serial: a.serial,
        os: a.os_version,
        join_state: join_state_text(&a.join_state),
        agent_version: a.agent_version,
        registered_at: a.registered_at,
        last_contact: a.last_contact,
    };
    Ok(Some((facts, runs)))
}

/// Up to `limit` log lines of `id` older than `before` (newest first).
pub async fn logs(app: &App, id: AgentId, before: Option<u64>, limit: u32) -> Result<Vec<LogLine>> {
    Ok(app
        .store
        .events(id, before, limit)
        .await?
        .into_iter()
        .map(|e| LogLine {
            seq: e.seq,
            at: e.at,
            level: e.level.as_str().to_string(),
            phase: e.phase,
            message: e.message,
        })
        .collect())
}

/// A refused source as the console shows it.
pub fn failed_line(s: crate::store::communications::FailedSource) -> FailedLine {
    FailedLine {
        at: s.last.at,
        computer_name: s.last.computer_name,
        remote_address: s.last.remote_address,
        code: s.last.code,
        message: s.last.message,
        first_at: s.first_at,
        repeats: s.repeats,
    }
}
