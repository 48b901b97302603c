//! Progress counts: for every computer a batch takes and every assignment of that batch, the
//! status it is in, per batch and overall.

use std::collections::HashMap;

use model::assignment;
use model::directory::ObjectKind;
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::status::AgentStatus;
use serde::Serialize;

use crate::{App, Result};

/// How many (computer, runbook) pairs are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    /// Error.
    pub error: u64,
    /// No Agent.
    pub no_agent: u64,
    /// Not Available.
    pub not_available: u64,
    /// Not Started.
    pub not_started: u64,
    /// In Progress.
    pub in_progress: u64,
    /// Completed.
    pub completed: u64,
}

impl StatusCounts {
    /// Counts one more in `status`.
    pub fn add(&mut self, status: AgentStatus) {
        match status {
            AgentStatus::Error => self.error += 1,
            AgentStatus::NoAgent => self.no_agent += 1,
            AgentStatus::NotAvailable => self.not_available += 1,
            AgentStatus::NotStarted => self.not_started += 1,
            AgentStatus::InProgress => self.in_progress += 1,
            AgentStatus::Completed => self.completed += 1,
        }
    }

    /// The count of `status`.
    pub fn get(&self, status: AgentStatus) -> u64 {
        match status {
            AgentStatus::Error => self.error,
            AgentStatus::NoAgent => self.no_agent,
            AgentStatus::NotAvailable => self.not_available,
            AgentStatus::NotStarted => self.not_started,
            AgentStatus::InProgress => self.in_progress,
            AgentStatus::Completed => self.completed,
        }
    }

    /// All counts together.
    pub fn total(&self) -> u64 {
        AgentStatus::ALL.iter().map(|s| self.get(*s)).sum()
    }
}

/// One batch's counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchProgress {
    /// The batch.
    #[schema(value_type = uuid::Uuid)]
    pub batch: BatchId,
    /// Its name.
    pub name: String,
    /// Its counts.
    pub counts: StatusCounts,
}

/// Progress counts per batch and overall.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    /// Every batch together.
    pub overall: StatusCounts,
    /// Each batch, in batch order.
    pub batches: Vec<BatchProgress>,
}

/// Counts, for every computer a batch selects and every assignment of that batch: No Agent without
/// an agent; Not Available or Not Started (by time) with an agent but no run; else the run's status.
pub async fn progress(app: &App) -> Result<Progress> {
    let now = app.clock.now();
    let batches = app.store.batches().await?;
    let agents: HashMap<(DirectoryId, ObjectGuid), AgentId> = app
        .store
        .agents()
        .await?
        .into_iter()
        .map(|a| ((a.directory, a.computer_guid), a.id))
        .collect();
    let runs: HashMap<(AgentId, RunbookId), AgentStatus> = app
        .store
        .all_runs()
        .await?
        .into_iter()
        .map(|r| ((r.agent, r.runbook), r.status))
        .collect();
    let mut computers: HashMap<DirectoryId, Vec<ObjectGuid>> = HashMap::new();
    let mut overall = StatusCounts::default();
    let mut per_batch = Vec::new();
    for batch in &batches {
        if let std::collections::hash_map::Entry::Vacant(slot) =
            computers.entry(batch.source_directory)
        {
            let objects = app
                .store
                .objects(batch.source_directory, Some(ObjectKind::Computer))
                .await?;
            slot.insert(objects.into_iter().map(|o| o.guid).collect());
        }
        let mut counts = StatusCounts::default();
        let selected = computers
            .get(&batch.source_directory)
            .into_iter()
            .flatten()
            .filter(|g| assignment::batch_takes(batch, batch.source_directory, g));
        for guid in selected {
            let agent = agents.get(&(batch.source_directory, *guid));
            for a in &batch.assignments {
                let status = match agent {
                    None => AgentStatus::NoAgent,
                    Some(agent) => match runs.get(&(*agent, a.runbook)) {
                        Some(status) => *status,
                        None => assignment::waiting_status(a, now),
                    },
                };
                counts.add(status);
                overall.add(status);
            }
        }
        per_batch.push(BatchProgress {
            batch: batch.id,
            name: batch.name.clone(),
            counts,
        });
    }
    Ok(Progress {
        overall,
        batches: per_batch,
    })
}
