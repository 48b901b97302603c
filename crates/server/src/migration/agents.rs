//! The agents report: every registered agent, one agent's runs and harvested profiles, its log a
//! page at a time, and the agent requests that were refused.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, DirectoryId, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::{AgentEvent, UserProfile};
use model::status::{AgentStatus, Phase};
use serde::Serialize;

use crate::store::agents::{Agent, AgentRun};
use crate::store::communications::FailedSource;
use crate::{App, Error, Result};

/// A log page holds this many entries unless asked for another size.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// A log page holds at most this many entries.
pub const MAX_PAGE_SIZE: u32 = 1000;

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
    #[schema(value_type = crate::api::openapi::schemas::OsEdition)]
    pub os_edition: OsEdition,
    /// What it is joined to.
    #[schema(value_type = crate::api::openapi::schemas::JoinState)]
    pub join_state: JoinState,
    /// When it registered.
    pub registered_at: DateTime<Utc>,
    /// When it was last heard from.
    pub last_contact: DateTime<Utc>,
    /// The user signed in at the device at its last check-in, if any.
    pub logged_on_user: Option<String>,
}

async fn summaries(app: &App, agents: Vec<Agent>) -> Result<Vec<AgentSummary>> {
    let names = directory_names(app).await?;
    Ok(agents.into_iter().map(|a| summary(&names, a)).collect())
}

/// Every directory's name by id.
async fn directory_names(app: &App) -> Result<HashMap<DirectoryId, String>> {
    Ok(app
        .store
        .directories()
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

/// `a` as the agents report lists it, its directory named from `names`.
fn summary(names: &HashMap<DirectoryId, String>, a: Agent) -> AgentSummary {
    AgentSummary {
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
        logged_on_user: a.logged_on_user,
    }
}

/// Every registered agent.
pub async fn list(app: &App) -> Result<Vec<AgentSummary>> {
    let agents = app.store.agents().await?;
    summaries(app, agents).await
}

/// Every registered agent by computer name, as [`list`] gives them, read [`LIST_CHUNK`] at a
/// time and sent as they are read: a fleet of 100,000 agents is never held whole.
pub async fn listed(app: &App) -> Result<tokio::sync::mpsc::Receiver<Result<AgentSummary>>> {
    let names = directory_names(app).await?;
    let app = app.clone();
    Ok(crate::csv_export::chunked(
        LIST_CHUNK,
        move |seek, limit| {
            let (app, names) = (app.clone(), names.clone());
            async move {
                let page = app.store.agents_seek(seek, limit).await?;
                Ok(crate::store::seek::SeekPage {
                    rows: page.rows.into_iter().map(|a| summary(&names, a)).collect(),
                    first: page.first,
                    last: page.last,
                    previous: page.previous,
                    next: page.next,
                })
            }
        },
    ))
}

/// Agents [`listed`] reads at once.
const LIST_CHUNK: u64 = 5_000;

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
    #[schema(value_type = Option<crate::api::openapi::schemas::Phase>)]
    pub phase: Option<Phase>,
    /// Step id.
    pub step: Option<String>,
    /// Status.
    #[schema(value_type = crate::api::openapi::schemas::AgentStatus)]
    pub status: AgentStatus,
    /// Last change.
    pub last_update: DateTime<Utc>,
    /// Last error reported.
    pub last_error: Option<String>,
    /// How many times an operator retried it after it failed.
    pub retries: u32,
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
pub async fn details(app: &App, id: AgentId) -> Result<AgentDetails> {
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
        .map(|r| run_view(r, &names))
        .collect();
    let profiles = app.store.profiles(id).await?;
    let agent = summaries(app, vec![agent]).await?.remove(0);
    Ok(AgentDetails {
        agent,
        runs,
        profiles,
    })
}

fn run_view(r: AgentRun, names: &HashMap<RunbookId, String>) -> RunView {
    RunView {
        runbook_name: names.get(&r.runbook).cloned().unwrap_or_default(),
        runbook: r.runbook,
        batch: r.batch,
        phase: r.phase,
        step: r.step,
        status: r.status,
        last_update: r.last_update,
        last_error: r.last_error,
        retries: r.retries,
    }
}

/// Retries the run of `runbook` on agent `id` that ended in Error: the device runs it again at
/// its next check-in, on the batch's schedule, going on from the steps its journal recorded done
/// rather than starting over. A run that is not in Error is a conflict, and nothing changes.
pub async fn retry(app: &App, id: AgentId, runbook: RunbookId) -> Result<RunView> {
    app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let run = app
        .store
        .run_of_agent(id, runbook)
        .await?
        .ok_or(Error::NotFound("run of this runbook on this agent"))?;
    if run.status != AgentStatus::Error {
        return Err(Error::Conflict(format!(
            "only a run that ended in Error can be retried; this one is {}",
            run.status
        )));
    }
    if app
        .store
        .retry_run(id, runbook, app.clock.now())
        .await?
        .is_none()
    {
        // Its status changed between the read and the update.
        return Err(Error::Conflict(
            "the run is no longer in Error; reload the agent and try again".to_string(),
        ));
    }
    let run = app
        .store
        .run_of_agent(id, runbook)
        .await?
        .ok_or(Error::NotFound("run of this runbook on this agent"))?;
    let names: HashMap<RunbookId, String> = app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    Ok(run_view(run, &names))
}

/// The page size asked for, or the default; outside 1 to 1000 it is an error naming `limit`.
pub fn page_size(limit: Option<u32>) -> Result<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
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

/// A page of the log of agent `id`, newest first: entries older than `before`, `limit` at most.
pub async fn events(
    app: &App,
    id: AgentId,
    before: Option<u64>,
    limit: Option<u32>,
) -> Result<EventPage> {
    app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let limit = page_size(limit)?;
    let events = app.store.events(id, before, limit).await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(EventPage {
        events,
        next_before,
        total: app.store.event_count(id).await?,
    })
}

/// Refused agent requests, newest first, `limit` at most.
pub async fn failed_communications(app: &App, limit: Option<u32>) -> Result<Vec<FailedSource>> {
    app.store.failed_sources(page_size(limit)?).await
}

/// Where an agent registered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationAddress {
    /// The address, when it was known.
    pub address: Option<String>,
    /// Whether agent requests from that address had been refused before the agent registered: a
    /// sign of someone trying PSKs or computer names.
    pub refused_before: bool,
}

/// Where `agent`, registered at `registered_at`, registered from.
pub async fn registration_address(
    app: &App,
    agent: AgentId,
    registered_at: DateTime<Utc>,
) -> Result<RegistrationAddress> {
    let address = app.store.registered_from(agent).await?;
    let refused_before = match &address {
        Some(address) => app.store.was_refused_before(address, registered_at).await?,
        None => false,
    };
    Ok(RegistrationAddress {
        address,
        refused_before,
    })
}
