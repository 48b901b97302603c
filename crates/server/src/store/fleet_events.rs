//! The agent logs across the fleet: every agent's events, filtered and paged in SQL so a page
//! answers quickly however many events the fleet has sent.

use model::ids::{AgentId, RunbookId};
use model::protocol::AgentEvent;
use model::status::{EventLevel, Phase};
use sqlx::Row;

use super::{enum_text, parse_text, Store};
use crate::Result;

/// Which events: every field optional.
#[derive(Debug, Clone, Default)]
pub struct FleetEventFilter {
    /// One runbook.
    pub runbook: Option<RunbookId>,
    /// One phase.
    pub phase: Option<Phase>,
    /// One severity.
    pub level: Option<EventLevel>,
    /// The computer name; `*` (or `%`) stands for any run of characters.
    pub computer: Option<String>,
    /// A user name the message names; `*` (or `%`) stands for any run of characters.
    pub user: Option<String>,
}

/// One event with the agent that sent it.
#[derive(Debug, Clone)]
pub struct FleetEvent {
    /// The agent.
    pub agent: AgentId,
    /// Its computer name.
    pub computer_name: String,
    /// The event.
    pub event: AgentEvent,
}

/// A SQL `LIKE` pattern (with `!` as escape) for a wildcard pattern; `contains` puts it inside
/// any text.
pub(super) fn like(pattern: &str, contains: bool) -> String {
    let mut out = String::new();
    if contains {
        out.push('%');
    }
    for c in pattern.trim().chars() {
        match c {
            '*' | '%' => out.push('%'),
            '_' | '!' => {
                out.push('!');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if contains {
        out.push('%');
    }
    out
}

/// The events and their filters; `{join}` is [`Store::agents_first`]'s, here keeping the events
/// the outer loop on SQLite, walked newest first through `agent_events_newest`.
const WHERE: &str = "FROM agent_events e {join} agents a ON a.id = e.agent \
     WHERE ($1 = '' OR e.level = $1) AND ($2 = '' OR e.phase = $2) AND ($3 = '' OR e.runbook = $3) \
     AND ($4 = '' OR LOWER(a.computer_name) LIKE LOWER($4) ESCAPE '!') \
     AND ($5 = '' OR LOWER(e.message) LIKE LOWER($5) ESCAPE '!')";

/// The events and their filters when no computer name is asked for: the agents are not needed.
const EVENTS_ONLY: &str = "FROM agent_events e WHERE ($1 = '' OR e.level = $1) \
     AND ($2 = '' OR e.phase = $2) AND ($3 = '' OR e.runbook = $3) \
     AND ($4 = '') AND ($5 = '' OR LOWER(e.message) LIKE LOWER($5) ESCAPE '!')";

impl FleetEventFilter {
    fn binds(&self) -> [String; 5] {
        let text = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or_default().to_string();
        let computer = text(&self.computer);
        let user = text(&self.user);
        [
            self.level
                .map(|l| l.as_str().to_string())
                .unwrap_or_default(),
            self.phase.map(|p| enum_text(&p)).unwrap_or_default(),
            self.runbook.map(|r| r.to_string()).unwrap_or_default(),
            if computer.is_empty() {
                computer
            } else {
                like(&computer, false)
            },
            if user.is_empty() {
                user
            } else {
                like(&user, true)
            },
        ]
    }
}

/// At most this many events a filter keeps, and they are read first and ordered (the agents
/// whose name matches, then their events; or every event scanned for a message); more are found
/// walking the events newest first, where a page fills soon. Which is found by a count that
/// stops one past it.
const NARROW: u64 = 1_000;

/// How a page of events is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// The events newest first through `agent_events_newest`, each agent looked up, until a
    /// page is full: for filters that many events pass.
    Newest,
    /// The agents whose name matches, then their events through the key, ordered.
    AgentsFirst,
    /// Every event read in the table's order, those whose message matches ordered.
    Scanned,
}

/// Agent Logs' order: newest first (ties by agent and sequence, newest first too).
const ORDER: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("e.at", true),
        super::seek::KeyColumn("e.agent", false),
        super::seek::KeyColumn("e.seq", true),
    ],
    descending: true,
    lead: 0,
};

/// The same order for a plan that reads its few rows first and sorts them: the time is an
/// expression no index holds, so neither store walks `agent_events_newest` for the order
/// (PostgreSQL would, from its estimate of a name pattern or a message, and read every event
/// when few match). Its keys are those of [`ORDER`].
const SORTED: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("e.at + 0", true),
        super::seek::KeyColumn("e.agent", false),
        super::seek::KeyColumn("e.seq", true),
    ],
    descending: true,
    lead: 0,
};

fn fleet_event(row: &sqlx::any::AnyRow) -> Result<FleetEvent> {
    Ok(FleetEvent {
        agent: parse_text("agent id", &row.try_get::<String, _>("agent_id")?)?,
        computer_name: row.try_get("computer_name")?,
        event: super::events::event_from_row(row)?,
    })
}

impl Store {
    /// `FROM … WHERE …` of the events, events first.
    fn fleet_where(&self) -> String {
        self.message_like(&self.agents_first(WHERE))
    }

    /// `sql` with its test of the message as the backend answers it fastest: SQLite's `LIKE`
    /// ignores the case of ASCII letters, as its `LOWER` lowers only those, and PostgreSQL's
    /// `ILIKE` ignores case, so the message is not lowered row by row on either.
    fn message_like(&self, sql: &str) -> String {
        let like = match self.backend() {
            super::Backend::Sqlite => "e.message LIKE $5",
            super::Backend::Postgres => "e.message ILIKE $5",
        };
        sql.replace("LOWER(e.message) LIKE LOWER($5)", like)
    }

    /// The plan of `binds`' page: a computer name or a message that few events have is read
    /// first and ordered, found by counting no further than one past [`NARROW`]. On PostgreSQL
    /// a message alone is always scanned: its count would read every event that a page's scan
    /// reads again (one scan with a top-N sort costs the same however many events match), and
    /// walking the events newest first for a message few events have reads them all by index.
    async fn fleet_plan(&self, binds: &[String; 5]) -> Result<Plan> {
        let (from, plan) = if !binds[3].is_empty() {
            (self.agents_then_events(), Plan::AgentsFirst)
        } else if !binds[4].is_empty() && self.backend() == super::Backend::Postgres {
            return Ok(Plan::Scanned);
        } else if !binds[4].is_empty() {
            (self.message_like(EVENTS_ONLY), Plan::Scanned)
        } else {
            return Ok(Plan::Newest);
        };
        Ok(
            match self.count_up_to(&from, binds, NARROW + 1).await? <= NARROW {
                true => plan,
                false => Plan::Newest,
            },
        )
    }

    /// The events `filter` keeps, newest first, `limit` of them from `seek`.
    pub async fn fleet_event_seek(
        &self,
        filter: &FleetEventFilter,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<FleetEvent>> {
        let binds = filter.binds();
        let (from, order) = match self.fleet_plan(&binds).await? {
            Plan::Newest => (self.fleet_where(), ORDER),
            Plan::AgentsFirst => (self.agents_then_events(), SORTED),
            Plan::Scanned => (self.fleet_where(), SORTED),
        };
        // Without a computer to match, the key of a page typed by number is found in the events
        // alone (`agent_events_newest`), without looking up each one's agent.
        let probe = if binds[3].is_empty() {
            self.message_like(EVENTS_ONLY)
        } else {
            from.clone()
        };
        self.seek_probed(
            (
                "e.agent AS agent_id, a.computer_name, e.seq, e.at, e.level, e.runbook, e.phase, \
                 e.step, e.status, e.message",
                &from,
                &probe,
            ),
            &binds,
            order,
            seek,
            limit,
            fleet_event,
        )
        .await
    }

    /// `FROM … WHERE …` of the events, the agents whose name matches first, then their events
    /// through the key.
    fn agents_then_events(&self) -> String {
        let from = WHERE.replace(
            "FROM agent_events e {join} agents a ON a.id = e.agent",
            "FROM agents a {join} agent_events e ON e.agent = a.id",
        );
        self.message_like(&self.agents_first(&from))
    }

    /// How many events `filter` keeps, no further than one past [`COUNT_CAP`].
    pub async fn fleet_event_count(&self, filter: &FleetEventFilter) -> Result<u64> {
        let binds = filter.binds();
        let from = if binds[3].is_empty() {
            // Without a computer to match, the agents are not needed to count the events.
            self.message_like(EVENTS_ONLY)
        } else {
            self.agents_then_events()
        };
        self.capped_count(&from, &binds).await
    }

    /// The events `filter` keeps, newest first, `limit` of them after skipping `offset`.
    pub async fn fleet_events(
        &self,
        filter: &FleetEventFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<FleetEvent>> {
        Ok(self
            .fleet_event_seek(filter, super::seek::Seek::Offset(offset), limit)
            .await?
            .rows)
    }
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn wildcards_become_like_patterns_and_like_characters_are_escaped() {
        assert_eq!(like("WS-*", false), "WS-%");
        assert_eq!(like("a_b!", false), "a!_b!!");
        assert_eq!(like("alice", true), "%alice%");
    }
}
