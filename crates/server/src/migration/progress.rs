//! Progress counts: for every computer a batch takes and every assignment of that batch, the
//! status it is in, per batch and overall; and those devices a page at a time. Both read what the
//! store keeps up to date as batches, computers, agents and runs change
//! ([`crate::store::batch_devices`]); only Not Available against Not Started, which passes with
//! time, is decided here from the assignment's dates.

use std::collections::HashMap;

use model::assignment;
use model::ids::{AgentId, BatchId, ObjectGuid, RunbookId};
use model::status::{AgentStatus, Phase};
use serde::Serialize;

use crate::store::batch_devices::{DeviceQuery, DeviceRow};
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
        self.add_n(status, 1);
    }

    /// Counts `n` more in `status`.
    pub fn add_n(&mut self, status: AgentStatus, n: u64) {
        match status {
            AgentStatus::Error => self.error += n,
            AgentStatus::NoAgent => self.no_agent += n,
            AgentStatus::NotAvailable => self.not_available += n,
            AgentStatus::NotStarted => self.not_started += n,
            AgentStatus::InProgress => self.in_progress += n,
            AgentStatus::Completed => self.completed += n,
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

/// Which devices: every field optional.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// The batch.
    pub batch: Option<BatchId>,
    /// The runbook.
    pub runbook: Option<RunbookId>,
    /// The status.
    pub status: Option<AgentStatus>,
    /// The phase.
    pub phase: Option<Phase>,
    /// The computer name, `*` or `%` as wildcard.
    pub computer: Option<String>,
}

/// Counts of devices chosen by batch and runbook: overall, per batch, and those in progress by
/// phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    /// Every device chosen.
    pub overall: StatusCounts,
    /// Per batch, in batch order, batches with devices only.
    pub batches: Vec<(BatchId, StatusCounts)>,
    /// Devices in progress in each phase.
    pub in_progress: HashMap<Phase, u64>,
}

/// What a device with an agent but no run is in for each (batch, runbook): Not Available before
/// the assignment opens, Not Started after; and the batches in batch order.
async fn waiting(app: &App) -> Result<(HashMap<(BatchId, RunbookId), AgentStatus>, Vec<BatchId>)> {
    let now = app.clock.now();
    let batches = app.store.batches().await?;
    let order = batches.iter().map(|b| b.id).collect();
    let waiting = batches
        .iter()
        .flat_map(|b| {
            b.assignments
                .iter()
                .map(move |a| ((b.id, a.runbook), assignment::waiting_status(a, now)))
        })
        .collect();
    Ok((waiting, order))
}

/// The status shown for a stored one: waiting resolved by the assignment's dates.
fn shown(
    stored: Option<AgentStatus>,
    batch: BatchId,
    runbook: RunbookId,
    waiting: &HashMap<(BatchId, RunbookId), AgentStatus>,
) -> AgentStatus {
    stored.unwrap_or_else(|| {
        waiting
            .get(&(batch, runbook))
            .copied()
            .unwrap_or(AgentStatus::NotStarted)
    })
}

/// The device counts of `batch` and `runbook` (each `None` for all).
pub async fn counts(
    app: &App,
    batch: Option<BatchId>,
    runbook: Option<RunbookId>,
) -> Result<DeviceCounts> {
    let (waiting, order) = waiting(app).await?;
    let rows = app.store.device_counts(batch, runbook).await?;
    let mut out = DeviceCounts::default();
    let mut per_batch: HashMap<BatchId, StatusCounts> = HashMap::new();
    for row in rows {
        // A batch deleted while this was read has no assignment left to count.
        if !waiting.contains_key(&(row.batch, row.runbook)) {
            continue;
        }
        let status = shown(row.status, row.batch, row.runbook, &waiting);
        out.overall.add_n(status, row.n);
        per_batch.entry(row.batch).or_default().add_n(status, row.n);
        if status == AgentStatus::InProgress {
            if let Some(phase) = row.phase {
                *out.in_progress.entry(phase).or_default() += row.n;
            }
        }
    }
    out.batches = order
        .into_iter()
        .filter_map(|b| per_batch.remove(&b).map(|c| (b, c)))
        .collect();
    Ok(out)
}

/// The query the store answers for `filter`: a status of waiting devices becomes the (batch,
/// runbook) pairs whose waiting devices are in it.
fn query(
    filter: &DeviceFilter,
    waiting: &HashMap<(BatchId, RunbookId), AgentStatus>,
) -> DeviceQuery {
    DeviceQuery {
        batch: filter.batch,
        runbook: filter.runbook,
        status: filter.status.map(|status| {
            let mut pairs: Vec<(BatchId, RunbookId)> = waiting
                .iter()
                .filter(|(pair, s)| **s == status && filter.batch.is_none_or(|b| b == pair.0))
                .map(|(pair, _)| *pair)
                .collect();
            pairs.sort();
            (status, pairs)
        }),
        phase: filter.phase,
        computer: filter.computer.clone(),
    }
}

/// How many devices `filter` keeps.
pub async fn device_total(app: &App, filter: &DeviceFilter) -> Result<u64> {
    let (waiting, _) = waiting(app).await?;
    app.store.device_total(&query(filter, &waiting)).await
}

fn device_status(
    r: DeviceRow,
    waiting: &HashMap<(BatchId, RunbookId), AgentStatus>,
) -> DeviceStatus {
    DeviceStatus {
        status: shown(r.status, r.batch, r.runbook, waiting),
        batch: r.batch,
        runbook: r.runbook,
        computer: r.computer,
        computer_name: r.computer_name,
        agent: r.agent,
        phase: r.phase,
    }
}

/// The devices `filter` keeps, by computer name, `limit` after `offset`: No Agent without an
/// agent; Not Available or Not Started (by time) with an agent but no run; else the run's
/// status and phase.
pub async fn devices(
    app: &App,
    filter: &DeviceFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<DeviceStatus>> {
    let (waiting, _) = waiting(app).await?;
    let rows = app
        .store
        .device_page(&query(filter, &waiting), offset, limit)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| device_status(r, &waiting))
        .collect())
}

/// The devices `filter` keeps, as [`devices`] gives them, `limit` from `seek`: a page read by
/// key, with the keys of its first and last rows.
pub async fn devices_seek(
    app: &App,
    filter: &DeviceFilter,
    seek: crate::store::seek::Seek,
    limit: u64,
) -> Result<crate::store::seek::SeekPage<DeviceStatus>> {
    let (waiting, _) = waiting(app).await?;
    let page = app
        .store
        .device_seek(&query(filter, &waiting), seek, limit)
        .await?;
    Ok(page.map(|r| device_status(r, &waiting)))
}

/// Counts, for every computer a batch selects and every assignment of that batch, the status it
/// is in (see [`devices`]).
pub async fn progress(app: &App) -> Result<Progress> {
    let batches = app.store.batches().await?;
    let counts = counts(app, None, None).await?;
    let per_batch: HashMap<BatchId, StatusCounts> = counts.batches.into_iter().collect();
    Ok(Progress {
        overall: counts.overall,
        batches: batches
            .into_iter()
            .map(|b| BatchProgress {
                counts: per_batch.get(&b.id).copied().unwrap_or_default(),
                batch: b.id,
                name: b.name,
            })
            .collect(),
    })
}
