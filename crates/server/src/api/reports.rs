//! Reports: agents, an agent's runs and log, failed communications, and progress counts per
//! status for each batch and overall.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use model::directory::ObjectKind;
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::{AgentEvent, UserProfile};
use model::status::{AgentStatus, Phase};
use serde::{Deserialize, Serialize};

use super::parse_id;
use crate::agent_api::assignment;
use crate::auth::{Access, Area, Caller};
use crate::store::agents::{Agent, AgentRun};
use crate::store::communications::FailedSource;
use crate::{App, Error, Result};

/// An agent as the agents report lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentSummary {
    /// Its id.
    #[schema(value_type = uuid::Uuid)]
    pub id: AgentId,
    /// Computer name.
    pub name: String,
    /// The directory its computer is in.
    #[schema(value_type = uuid::Uuid)]
    pub directory: DirectoryId,
    /// That directory's name.
    pub directory_name: String,
    /// Agent version.
    pub version: String,
    /// Windows version.
    pub os: String,
    /// Workstation or server.
    #[schema(value_type = String)]
    pub os_edition: OsEdition,
    /// What it is joined to.
    #[schema(value_type = Object)]
    pub join_state: JoinState,
    /// When it registered.
    pub registered_at: DateTime<Utc>,
    /// When it was last heard from.
    pub last_contact: DateTime<Utc>,
}

async fn summaries(app: &App, agents: Vec<Agent>) -> Result<Vec<AgentSummary>> {
    let names: HashMap<DirectoryId, String> = app
        .store
        .directories()
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    Ok(agents
        .into_iter()
        .map(|a| AgentSummary {
            id: a.id,
            name: a.computer_name,
            directory_name: names.get(&a.directory).cloned().unwrap_or_default(),
            directory: a.directory,
            version: a.agent_version,
            os: a.os_version,
            os_edition: a.os_edition,
            join_state: a.join_state,
            registered_at: a.registered_at,
            last_contact: a.last_contact,
        })
        .collect())
}

/// `GET /agents`.
#[utoipa::path(
    get,
    path = "/agents",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every registered agent.", body = [AgentSummary])
    )
)]
pub async fn agents(caller: Caller, State(app): State<App>) -> Result<Json<Vec<AgentSummary>>> {
    caller.require(Area::Agent, Access::Read)?;
    let agents = app.store.agents().await?;
    Ok(Json(summaries(&app, agents).await?))
}

/// One run as agent details show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// The runbook.
    #[schema(value_type = uuid::Uuid)]
    pub runbook: RunbookId,
    /// Its name, empty when it was deleted.
    pub runbook_name: String,
    /// The batch that assigned it.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub batch: Option<BatchId>,
    /// Phase.
    #[schema(value_type = Option<String>)]
    pub phase: Option<Phase>,
    /// Step id.
    pub step: Option<String>,
    /// Status.
    #[schema(value_type = String)]
    pub status: AgentStatus,
    /// Last change.
    pub last_update: DateTime<Utc>,
    /// Last error reported.
    pub last_error: Option<String>,
}

/// An agent's details.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentDetails {
    /// The agent.
    pub agent: AgentSummary,
    /// Its runs, newest change first.
    pub runs: Vec<RunView>,
    /// The profiles it harvested.
    #[schema(value_type = Vec<crate::api::openapi::schemas::UserProfile>)]
    pub profiles: Vec<UserProfile>,
}

/// An agent's details: its runs with runbook names, and its profiles.
pub async fn agent_details_of(app: &App, id: AgentId) -> Result<AgentDetails> {
    let agent = app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let names: HashMap<RunbookId, String> = app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let runs = app
        .store
        .runs_of_agent(id)
        .await?
        .into_iter()
        .map(|r: AgentRun| RunView {
            runbook_name: names.get(&r.runbook).cloned().unwrap_or_default(),
            runbook: r.runbook,
            batch: r.batch,
            phase: r.phase,
            step: r.step,
            status: r.status,
            last_update: r.last_update,
            last_error: r.last_error,
        })
        .collect();
    let profiles = app.store.profiles(id).await?;
    let agent = summaries(app, vec![agent]).await?.remove(0);
    Ok(AgentDetails {
        agent,
        runs,
        profiles,
    })
}

/// `GET /agents/{id}`.
#[utoipa::path(
    get,
    path = "/agents/{id}",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent, its runs and user profiles.", body = AgentDetails),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_details(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<AgentDetails>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(agent_details_of(&app, parse_id("id", &id)?).await?))
}

/// The paging query of the log routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Only entries older than this sequence number (the `next_before` of the previous page).
    pub before: Option<u64>,
    /// Page size, 1 to 1000; 100 by default.
    pub limit: Option<u32>,
}

fn limit(page: &Page) -> Result<u32> {
    match page.limit {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(Error::field("limit", "between 1 and 1000")),
    }
}

/// A page of an agent's log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// Events, newest first.
    #[schema(value_type = Vec<crate::api::openapi::schemas::AgentEvent>)]
    pub events: Vec<AgentEvent>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<u64>,
    /// Events stored for this agent in all.
    pub total: u64,
}

/// `GET /agents/{id}/events?before=&limit=`.
#[utoipa::path(
    get,
    path = "/agents/{id}/events",
    tag = "agents",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The agent's id."), Page),
    responses(
        (status = 200, description = "A page of the agent's log, newest first.", body = EventPage),
        (status = 404, description = "No such agent.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn agent_events(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Json<EventPage>> {
    caller.require(Area::Agent, Access::Read)?;
    let id: AgentId = parse_id("id", &id)?;
    app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let limit = limit(&page)?;
    let events = app.store.events(id, page.before, limit).await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(EventPage {
        events,
        next_before,
        total: app.store.event_count(id).await?,
    }))
}

/// `GET /failed-communications?limit=`: newest first.
#[utoipa::path(
    get,
    path = "/failed-communications",
    tag = "reports",
    description = crate::api::openapi::access::AGENT_READ,
    params(Page),
    responses(
        (status = 200, description = "Refused agent requests, newest first; repeats from one address for one reason are one entry with `first_at` and `repeats`.", body = [crate::api::openapi::schemas::FailedCommunication]),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn failed_communications(
    caller: Caller,
    State(app): State<App>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<FailedSource>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(app.store.failed_sources(limit(&page)?).await?))
}

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

/// `GET /progress`.
#[utoipa::path(
    get,
    path = "/progress",
    tag = "reports",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Migration status counts, overall and per batch.", body = Progress)
    )
)]
pub async fn progress_route(caller: Caller, State(app): State<App>) -> Result<Json<Progress>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(progress(&app).await?))
}
