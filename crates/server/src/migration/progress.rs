//! Progress counts: for every computer a batch takes and every assignment of that batch, the
//! status it is in, per batch and overall.

use std::collections::HashMap;

use model::assignment;
use model::directory::ObjectKind;
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::status::{AgentStatus, Phase};
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

/// One computer of a batch and one runbook assigned to it, with the status it is in.
#[derive(Debug, Clone)]
pub struct DeviceStatus {
    /// The batch.
    pub batch: BatchId,
    /// The runbook.
    pub runbook: RunbookId,
    /// The computer's GUID in the batch's source directory.
    pub computer: ObjectGuid,
    /// The computer's name as imported.
    pub computer_name: String,
    /// Its agent, once registered.
    pub agent: Option<AgentId>,
    /// The status.
    pub status: AgentStatus,
    /// The phase a run in progress is in.
    pub phase: Option<Phase>,
}

/// Every (computer, runbook) pair of every batch with its status, in batch order and by computer
/// name within a batch: No Agent without an agent; Not Available or Not Started (by time) with
/// an agent but no run; else the run's status and phase.
pub async fn devices(app: &App) -> Result<Vec<DeviceStatus>> {
    let now = app.clock.now();
    let batches = app.store.batches().await?;
    let agents: HashMap<(DirectoryId, ObjectGuid), AgentId> = app
        .store
        .agent_computers()
        .await?
        .into_iter()
        .map(|(id, directory, computer)| ((directory, computer), id))
        .collect();
    let runs: HashMap<(AgentId, RunbookId), (AgentStatus, Option<Phase>)> = app
        .store
        .all_runs()
        .await?
        .into_iter()
        .map(|r| ((r.agent, r.runbook), (r.status, r.phase)))
        .collect();
    let mut computers: HashMap<DirectoryId, Vec<(ObjectGuid, String)>> = HashMap::new();
    let mut out = Vec::new();
    for batch in &batches {
        if let std::collections::hash_map::Entry::Vacant(slot) =
            computers.entry(batch.source_directory)
        {
            // The directory's objects as this replica holds them in memory, read again only
            // after an import changed them: a page of 100,000 devices reads no rows here.
            // A batch whose source directory was deleted takes no computer.
            let mut names: Vec<(ObjectGuid, String)> =
                if app.store.directory(batch.source_directory).await?.is_none() {
                    Vec::new()
                } else {
                    let cache = app
                        .caches
                        .current(&app.store, batch.source_directory)
                        .await?;
                    let cache = cache.read().await;
                    cache
                        .objects()
                        .filter(|o| o.kind == ObjectKind::Computer)
                        .map(|o| (o.guid, o.name().to_string()))
                        .collect()
                };
            names.sort_by_cached_key(|(_, name)| name.to_lowercase());
            slot.insert(names);
        }
        let selected = computers
            .get(&batch.source_directory)
            .into_iter()
            .flatten()
            .filter(|(g, _)| assignment::batch_takes(batch, batch.source_directory, g));
        for (guid, name) in selected {
            let agent = agents.get(&(batch.source_directory, *guid)).copied();
            for a in &batch.assignments {
                let (status, phase) = match agent {
                    None => (AgentStatus::NoAgent, None),
                    Some(agent) => match runs.get(&(agent, a.runbook)) {
                        Some((status, phase)) => (*status, *phase),
                        None => (assignment::waiting_status(a, now), None),
                    },
                };
                out.push(DeviceStatus {
                    batch: batch.id,
                    runbook: a.runbook,
                    computer: *guid,
                    computer_name: name.clone(),
                    agent,
                    status,
                    phase,
                });
            }
        }
    }
    Ok(out)
}

/// Counts, for every computer a batch selects and every assignment of that batch, the status it
/// is in (see [`devices`]).
pub async fn progress(app: &App) -> Result<Progress> {
    let batches = app.store.batches().await?;
    let mut overall = StatusCounts::default();
    let mut per_batch: Vec<BatchProgress> = batches
        .iter()
        .map(|b| BatchProgress {
            batch: b.id,
            name: b.name.clone(),
            counts: StatusCounts::default(),
        })
        .collect();
    let index: HashMap<BatchId, usize> =
        batches.iter().enumerate().map(|(i, b)| (b.id, i)).collect();
    for device in devices(app).await? {
        overall.add(device.status);
        if let Some(i) = index.get(&device.batch) {
            per_batch[*i].counts.add(device.status);
        }
    }
    Ok(Progress {
        overall,
        batches: per_batch,
    })
}
