//! Each agent's runs and readiness state, kept in memory per store (per replica), so that a
//! steady check-in reads nothing.
//!
//! - Filled from the store at an agent's first request, and again after a change.
//! - Every write this store makes to an agent's runs or readiness forgets that agent's entry
//!   once the write returns, so this replica's next request reads the change.
//! - A change made through another store (another replica on one PostgreSQL) is found by one
//!   query every [`DEVICE_STATE_BOUND_MS`] of the callers' clock: the agents whose runs or
//!   readiness rows were stamped since the last look (less [`CHANGE_MARGIN_MS`], for writes
//!   committed after the time they were stamped with and for clocks a little apart), whose
//!   entries are then forgotten unless they were filled well after the change. So a run assigned,
//!   retried or moved on another replica reaches the agent within that bound of its commit.
//!
//! An entry is written only by a fill that started after the agent's last change here (each
//! entry counts its changes), so a read racing a write never keeps the state before the write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use model::ids::{AgentId, RunbookId};
use sqlx::Row;

use super::agents::AgentRun;
use super::readiness::DeviceState;
use super::{from_ms, parse_text, to_ms, Store};
use crate::Result;

/// How long a change made on another replica may go unseen by this one (milliseconds).
pub const DEVICE_STATE_BOUND_MS: i64 = 2_000;
/// How far before the last look the next one starts (milliseconds): a write is stamped with its
/// request's time and commits a little later, and replicas' clocks differ a little.
pub const CHANGE_MARGIN_MS: i64 = 5_000;
/// Agents kept at most; past it, every entry goes and is read again when needed.
const KEPT: usize = 200_000;

/// What a check-in needs of one agent's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceView {
    /// Every run of the agent, newest update first.
    pub runs: Vec<AgentRun>,
    /// Its readiness state per runbook it was asked for.
    pub readiness: Vec<(RunbookId, DeviceState)>,
}

impl DeviceView {
    /// The readiness state for `runbook`; none when the agent was never asked for it.
    pub fn readiness_of(&self, runbook: RunbookId) -> Option<&DeviceState> {
        self.readiness
            .iter()
            .find(|(r, _)| *r == runbook)
            .map(|(_, s)| s)
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Changes made here since the entry was made.
    changes: u64,
    /// When the view was read (callers' clock, milliseconds).
    filled_at: i64,
    view: Option<Arc<DeviceView>>,
}

/// The per-store memory; see the module documentation.
#[derive(Debug, Default)]
pub(super) struct DeviceStates {
    entries: Mutex<HashMap<AgentId, Entry>>,
    /// When the store was last asked for other replicas' changes (callers' clock, milliseconds;
    /// 0 before the first look), read without a lock by every request.
    looked_at: AtomicI64,
    /// Held by the one request that looks.
    looking: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeviceStates {
    /// Forgets `agent`'s entry: this store changed its rows.
    pub(super) fn changed(&self, agent: AgentId) {
        if let Some(entry) = lock(&self.entries).get_mut(&agent) {
            entry.changes += 1;
            entry.view = None;
        }
    }

    fn cached(&self, agent: AgentId) -> Option<Arc<DeviceView>> {
        lock(&self.entries).get(&agent).and_then(|e| e.view.clone())
    }

    /// Starts a fill: the entry's change count now.
    fn begin_fill(&self, agent: AgentId) -> u64 {
        let mut entries = lock(&self.entries);
        if entries.len() >= KEPT && !entries.contains_key(&agent) {
            entries.clear();
        }
        entries.entry(agent).or_default().changes
    }

    /// Keeps `view` unless the agent changed (or the entry went) since the fill began.
    fn end_fill(&self, agent: AgentId, changes: u64, view: Arc<DeviceView>, now: i64) {
        if let Some(entry) = lock(&self.entries).get_mut(&agent) {
            if entry.changes == changes {
                entry.view = Some(view);
                entry.filled_at = now;
            }
        }
    }

    /// Forgets the entries that changes stamped `at` (by agent) may postdate.
    fn forget_changed(&self, changes: &HashMap<AgentId, i64>) {
        let mut entries = lock(&self.entries);
        for (agent, at) in changes {
            if let Some(entry) = entries.get_mut(agent) {
                if entry.filled_at <= at + CHANGE_MARGIN_MS {
                    entry.changes += 1;
                    entry.view = None;
                }
            }
        }
    }
}

const CHANGED_SINCE: &str =
    "SELECT agent, last_update AS at FROM agent_runs WHERE last_update > $1 \
     UNION ALL SELECT agent, asked_at AS at FROM readiness_devices WHERE asked_at > $1 \
     UNION ALL SELECT agent, reported_at AS at FROM readiness_devices WHERE reported_at > $1 \
     UNION ALL SELECT agent, requested_at AS at FROM readiness_requests WHERE requested_at > $1";

impl Store {
    /// `agent`'s runs and readiness state: from memory in the steady state, from the store after
    /// a change (see the module documentation for how fresh).
    pub async fn device_view(&self, agent: AgentId, now: DateTime<Utc>) -> Result<Arc<DeviceView>> {
        self.look_for_other_changes(now).await?;
        if let Some(view) = self.device_states.cached(agent) {
            return Ok(view);
        }
        let changes = self.device_states.begin_fill(agent);
        let view = Arc::new(DeviceView {
            runs: self.runs_of_agent(agent).await?,
            readiness: self.readiness_states(agent).await?,
        });
        self.device_states
            .end_fill(agent, changes, view.clone(), to_ms(now));
        Ok(view)
    }

    /// Records that this store changed `agent`'s runs or readiness rows.
    pub(super) fn device_changed(&self, agent: AgentId) {
        self.device_states.changed(agent);
    }

    /// At most once per [`DEVICE_STATE_BOUND_MS`]: forgets the agents whose rows another store
    /// changed since the last look.
    async fn look_for_other_changes(&self, now: DateTime<Utc>) -> Result<()> {
        let now = to_ms(now);
        let recent = |at: i64| at != 0 && now >= at && now - at < DEVICE_STATE_BOUND_MS;
        let states = &self.device_states;
        if recent(states.looked_at.load(Ordering::Acquire)) {
            return Ok(());
        }
        let _looking = states.looking.lock().await;
        let since = match states.looked_at.load(Ordering::Acquire) {
            at if recent(at) => return Ok(()),
            // Nothing was kept before the first look.
            0 => {
                states.looked_at.store(now, Ordering::Release);
                return Ok(());
            }
            at => at.min(now) - CHANGE_MARGIN_MS,
        };
        let rows = sqlx::query(CHANGED_SINCE)
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        let mut changed: HashMap<AgentId, i64> = HashMap::new();
        for row in rows {
            let agent: AgentId = parse_text("agent", &row.try_get::<String, _>("agent")?)?;
            let at: i64 = row.try_get("at")?;
            let newest = changed.entry(agent).or_insert(at);
            *newest = (*newest).max(at);
        }
        states.forget_changed(&changed);
        states.looked_at.store(now, Ordering::Release);
        Ok(())
    }

    /// Every readiness state of `agent`, by runbook.
    async fn readiness_states(&self, agent: AgentId) -> Result<Vec<(RunbookId, DeviceState)>> {
        let rows = sqlx::query(
            "SELECT runbook, batch, asked_at, reported_at, \
             (SELECT COUNT(*) FROM readiness_requests r WHERE r.agent = d.agent) AS requested \
             FROM readiness_devices d WHERE d.agent = $1",
        )
        .bind(agent.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_text("readiness runbook", &row.try_get::<String, _>("runbook")?)?,
                    DeviceState {
                        batch: parse_text("readiness batch", &row.try_get::<String, _>("batch")?)?,
                        asked_at: from_ms(row.try_get("asked_at")?),
                        reported_at: row.try_get::<Option<i64>, _>("reported_at")?.map(from_ms),
                        requested: row.try_get::<i64, _>("requested")? > 0,
                    },
                ))
            })
            .collect()
    }
}

#[cfg(feature = "testing")]
impl Store {
    /// This store as another replica on the same database sees it: the same database, a writer
    /// of its own, nothing of this one's memory of agents or of the contacts it noted.
    pub fn as_another_replica(&self) -> Store {
        Store(Arc::new(super::StoreParts {
            device_states: Arc::default(),
            writer: super::writer::Writer::start(
                self.pool.clone(),
                self.backend,
                self.sqlite_file.as_deref(),
            ),
            pool: self.pool.clone(),
            backend: self.backend,
            sqlite_file: self.sqlite_file.clone(),
            secrets: self.secrets.clone(),
        }))
    }
}
