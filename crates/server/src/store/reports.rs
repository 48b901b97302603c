//! The console's fleet and sync reports, each filtered, counted and paged in SQL: the User
//! Profile Report (every profile the agents harvested), Agent Details (every agent's run of
//! every runbook) and the sync message log (what matching said about each object).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use model::ids::{AgentId, BatchId, DirectoryId, RunbookId};
use model::status::{AgentStatus, Phase};
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::mpsc::Receiver;

use super::fleet_events::like;
use super::{enum_text, from_ms, parse_enum, parse_text, Store};
use crate::Result;

/// A wildcard filter as a `LIKE` pattern (`*` and `%` for any run), empty when not given.
pub(super) fn pattern(text: &Option<String>) -> String {
    let text = text.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        String::new()
    } else {
        like(text, false)
    }
}

fn limit_offset(limit: u64, offset: u64) -> (i64, i64) {
    (
        i64::try_from(limit).unwrap_or(i64::MAX),
        i64::try_from(offset).unwrap_or(i64::MAX),
    )
}

/// Which harvested profiles: every field optional.
#[derive(Debug, Clone, Default)]
pub struct ProfileFilter {
    /// The directory of the agents' computers.
    pub directory: Option<DirectoryId>,
    /// The computer name, with wildcards.
    pub computer: Option<String>,
    /// The user: the profile folder's name or the SID, with wildcards.
    pub user: Option<String>,
}

/// One harvested profile with its computer and, when it is matched, its user's names.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    /// The agent.
    pub agent: AgentId,
    /// Its computer.
    pub computer_name: String,
    /// The computer's directory.
    pub directory: DirectoryId,
    /// The profile owner's SID.
    pub sid: String,
    /// The profile folder.
    pub path: String,
    /// Last use on the device, when known.
    pub last_used: Option<DateTime<Utc>>,
    /// The owner's name in the translation table, when the owner is matched.
    pub user_name: Option<String>,
    /// The owner's UPN there.
    pub user_upn: Option<String>,
}

/// Which runs: every field optional.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// The batch that assigned the run.
    pub batch: Option<BatchId>,
    /// The runbook.
    pub runbook: Option<RunbookId>,
    /// The phase it is in.
    pub phase: Option<Phase>,
    /// Its status.
    pub status: Option<AgentStatus>,
    /// The computer name, with wildcards.
    pub computer: Option<String>,
}

/// One agent's run of one runbook.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// The agent.
    pub agent: AgentId,
    /// Its computer.
    pub computer_name: String,
    /// The runbook.
    pub runbook: RunbookId,
    /// The batch that assigned it.
    pub batch: Option<BatchId>,
    /// Status.
    pub status: AgentStatus,
    /// Phase.
    pub phase: Option<Phase>,
    /// Last update.
    pub last_update: DateTime<Utc>,
    /// Last error.
    pub last_error: Option<String>,
}

/// The runs' rows and filters; `{join}` is [`Store::agents_first`].
const RUN_WHERE: &str = "FROM agents a {join} agent_runs r ON r.agent = a.id \
     WHERE ($1 = '' OR r.batch = $1) AND ($2 = '' OR r.runbook = $2) \
     AND ($3 = '' OR r.phase = $3) AND ($4 = '' OR r.status = $4) \
     AND ($5 = '' OR LOWER(a.computer_name) LIKE LOWER($5) ESCAPE '!')";

/// Agent Details' order: by computer, agent and runbook; the agents' part is `agents_by_name`.
const RUN_ORDER: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("a.computer_name", false),
        super::seek::KeyColumn("a.id", false),
        super::seek::KeyColumn("r.runbook", false),
    ],
    descending: false,
    lead: 2,
};

impl RunFilter {
    fn binds(&self) -> [String; 5] {
        [
            self.batch.map(|b| b.to_string()).unwrap_or_default(),
            self.runbook.map(|r| r.to_string()).unwrap_or_default(),
            self.phase.map(|p| enum_text(&p)).unwrap_or_default(),
            self.status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            pattern(&self.computer),
        ]
    }
}

/// Which sync messages: every field optional.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// The directory of the objects.
    pub directory: Option<DirectoryId>,
    /// The stage: `import`, or `match:` and the target directory.
    pub stage: Option<String>,
    /// `info`, `warning` or `error`.
    pub level: Option<String>,
    /// The object's name, with wildcards.
    pub name: Option<String>,
}

/// One object's latest word from a stage.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// The object's directory.
    pub directory: DirectoryId,
    /// The object.
    pub guid: String,
    /// Its name, when it is still imported.
    pub name: Option<String>,
    /// The stage.
    pub stage: String,
    /// When.
    pub at: DateTime<Utc>,
    /// How much it matters.
    pub level: String,
    /// What was said.
    pub message: String,
}

const MESSAGE_WHERE: &str = "FROM object_messages m LEFT JOIN directory_objects o \
     ON o.directory = m.directory AND o.guid = m.guid \
     WHERE ($1 = '' OR m.directory = $1) AND ($2 = '' OR m.stage = $2) \
     AND ($3 = '' OR m.level = $3) \
     AND ($4 = '' OR LOWER(COALESCE(o.name, '')) LIKE LOWER($4) ESCAPE '!')";

/// The message log's order: newest first (`object_messages_seek`).
const MESSAGE_ORDER: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("m.at", true),
        super::seek::KeyColumn("m.directory", false),
        super::seek::KeyColumn("m.guid", false),
        super::seek::KeyColumn("m.stage", false),
    ],
    descending: true,
    lead: 0,
};

impl MessageFilter {
    fn binds(&self) -> [String; 4] {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
        [
            self.directory.map(|d| d.to_string()).unwrap_or_default(),
            text(&self.stage),
            text(&self.level),
            pattern(&self.name),
        ]
    }
}

/// Which agents: every field optional.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    /// The directory of their computers.
    pub directory: Option<DirectoryId>,
    /// The computer name, with wildcards.
    pub computer: Option<String>,
    /// The agent version, with wildcards.
    pub version: Option<String>,
    /// A status one of its runs is in.
    pub status: Option<AgentStatus>,
}

/// One agent as the Agents report lists it.
#[derive(Debug, Clone)]
pub struct AgentRow {
    /// The agent.
    pub id: AgentId,
    /// Its computer.
    pub computer_name: String,
    /// The computer's directory.
    pub directory: DirectoryId,
    /// What the device is joined to, as last reported.
    pub join_state: model::plan::JoinState,
    /// The agent's version.
    pub agent_version: String,
    /// The Windows version.
    pub os_version: String,
    /// The last contact.
    pub last_contact: DateTime<Utc>,
    /// The statuses of its runs, by runbook.
    pub statuses: Vec<AgentStatus>,
}

const AGENT_WHERE: &str = "FROM agents a WHERE ($1 = '' OR a.directory = $1) \
     AND ($2 = '' OR LOWER(a.computer_name) LIKE LOWER($2) ESCAPE '!') \
     AND ($3 = '' OR LOWER(a.agent_version) LIKE LOWER($3) ESCAPE '!') \
     AND ($4 = '' OR EXISTS (SELECT 1 FROM agent_runs r WHERE r.agent = a.id AND r.status = $4))";

/// The Agents report's order: by computer name (`agents_by_name`).
const AGENT_ORDER: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("a.computer_name", false),
        super::seek::KeyColumn("a.id", false),
    ],
    descending: false,
    lead: 0,
};

fn agent_row(row: &AnyRow) -> Result<AgentRow> {
    Ok(AgentRow {
        id: parse_text("agent id", &row.try_get::<String, _>("id")?)?,
        computer_name: row.try_get("computer_name")?,
        directory: parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
        join_state: super::parse_json("join state", &row.try_get::<String, _>("join_state")?)?,
        agent_version: row.try_get("agent_version")?,
        os_version: row.try_get("os_version")?,
        last_contact: from_ms(row.try_get("last_contact")?),
        statuses: Vec::new(),
    })
}

impl AgentFilter {
    fn binds(&self) -> [String; 4] {
        [
            self.directory.map(|d| d.to_string()).unwrap_or_default(),
            pattern(&self.computer),
            pattern(&self.version),
            self.status
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        ]
    }
}

pub(super) fn profile_row(row: &AnyRow) -> Result<ProfileRow> {
    let last_used: Option<i64> = row.try_get("last_used")?;
    Ok(ProfileRow {
        agent: parse_text("agent id", &row.try_get::<String, _>("agent")?)?,
        computer_name: row.try_get("computer_name")?,
        directory: parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
        sid: row.try_get("sid")?,
        path: row.try_get("path")?,
        last_used: last_used.map(from_ms),
        user_name: row.try_get("user_name")?,
        user_upn: row.try_get("user_upn")?,
    })
}

fn run_row(row: &AnyRow) -> Result<RunRow> {
    let batch: Option<String> = row.try_get("batch")?;
    let phase: Option<String> = row.try_get("phase")?;
    Ok(RunRow {
        agent: parse_text("agent id", &row.try_get::<String, _>("agent")?)?,
        computer_name: row.try_get("computer_name")?,
        runbook: parse_text("runbook id", &row.try_get::<String, _>("runbook")?)?,
        batch: batch
            .as_deref()
            .map(|b| parse_text("batch id", b))
            .transpose()?,
        status: parse_text("status", &row.try_get::<String, _>("status")?)?,
        phase: phase
            .as_deref()
            .map(|p| parse_enum("phase", p))
            .transpose()?,
        last_update: from_ms(row.try_get("last_update")?),
        last_error: row.try_get("last_error")?,
    })
}

fn message_row(row: &AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        directory: parse_text("directory id", &row.try_get::<String, _>("directory")?)?,
        guid: row.try_get("guid")?,
        name: row.try_get("name")?,
        stage: row.try_get("stage")?,
        at: from_ms(row.try_get("at")?),
        level: row.try_get("level")?,
        message: row.try_get("message")?,
    })
}

impl Store {
    /// How many agents are registered.
    pub async fn agent_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// `FROM … WHERE …` of the Agents report. PostgreSQL tests a status through the set of
    /// agents with a run in it, gathered once (a hashed subplan), rather than looking up the
    /// runs of each agent the other filters keep: a count of a common name pattern made
    /// 10,000 such look-ups.
    fn agent_where(&self) -> String {
        match self.backend() {
            super::Backend::Sqlite => AGENT_WHERE.to_string(),
            super::Backend::Postgres => AGENT_WHERE.replace(
                "EXISTS (SELECT 1 FROM agent_runs r WHERE r.agent = a.id AND r.status = $4)",
                "a.id IN (SELECT r.agent FROM agent_runs r WHERE r.status = $4)",
            ),
        }
    }

    /// How many agents `filter` keeps.
    pub async fn agent_report_count(&self, filter: &AgentFilter) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) {}", self.agent_where());
        self.count_of(&sql, &filter.binds()).await
    }

    /// The agents `filter` keeps, by computer name, `limit` after `offset`, each with the
    /// statuses of its runs.
    pub async fn agent_report(
        &self,
        filter: &AgentFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AgentRow>> {
        Ok(self
            .agent_seek(filter, super::seek::Seek::Offset(offset), limit)
            .await?
            .rows)
    }

    /// The agents `filter` keeps, by computer name, `limit` from `seek`, each with the statuses
    /// of its runs.
    pub async fn agent_seek(
        &self,
        filter: &AgentFilter,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<AgentRow>> {
        let mut page = self
            .seek_of(
                (
                    "a.id, a.computer_name, a.directory, a.join_state, a.agent_version, \
                     a.os_version, a.last_contact",
                    &self.agent_where(),
                ),
                &filter.binds(),
                AGENT_ORDER,
                seek,
                limit,
                agent_row,
            )
            .await?;
        for chunk in page.rows.chunks_mut(super::ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT agent, status FROM agent_runs WHERE agent IN ({}) ORDER BY agent, runbook",
                super::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for a in chunk.iter() {
                query = query.bind(a.id.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                let agent: AgentId = parse_text("agent id", &row.try_get::<String, _>("agent")?)?;
                let status: AgentStatus =
                    parse_text("status", &row.try_get::<String, _>("status")?)?;
                if let Some(a) = chunk.iter_mut().find(|a| a.id == agent) {
                    a.statuses.push(status);
                }
            }
        }
        Ok(page)
    }

    /// The rows of `sql` with `binds` for its placeholders, each mapped by `map` and sent as it
    /// is read; the first error is sent last. Reading stops when the receiver is dropped.
    pub(super) fn rows_of<T: Send + 'static>(
        &self,
        sql: String,
        binds: Vec<String>,
        map: fn(&AnyRow) -> Result<T>,
    ) -> Receiver<Result<T>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let pool = self.pool().clone();
        tokio::spawn(async move {
            let mut query = sqlx::query(&sql);
            for b in binds {
                query = query.bind(b);
            }
            let mut rows = query.fetch(&pool);
            while let Some(row) = rows.next().await {
                let item = row.map_err(crate::Error::from).and_then(|r| map(&r));
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        rx
    }

    /// `from` with its `{join}` of agents to their rows: on SQLite a `CROSS JOIN`, which keeps
    /// agents the outer loop, walked in name order by `agents_by_name`, so a page stops after
    /// its rows; without statistics SQLite's planner would otherwise read every row and sort.
    /// PostgreSQL's planner has its statistics and gets a plain `JOIN`.
    pub(super) fn agents_first(&self, from: &str) -> String {
        let join = match self.backend() {
            super::Backend::Sqlite => "CROSS JOIN",
            super::Backend::Postgres => "JOIN",
        };
        from.replace("{join}", join)
    }

    /// How many runs `filter` keeps.
    pub async fn run_report_count(&self, filter: &RunFilter) -> Result<u64> {
        let binds = filter.binds();
        // Without a computer to match, the agents are not needed to count the runs (a run goes
        // with its agent).
        let sql = if binds[4].is_empty() {
            "SELECT COUNT(*) FROM agent_runs r WHERE ($1 = '' OR r.batch = $1) \
             AND ($2 = '' OR r.runbook = $2) AND ($3 = '' OR r.phase = $3) \
             AND ($4 = '' OR r.status = $4) AND ($5 = '')"
                .to_string()
        } else {
            format!("SELECT COUNT(*) {}", self.agents_first(RUN_WHERE))
        };
        self.count_of(&sql, &binds).await
    }

    /// The runs `filter` keeps, by computer, `limit` from `seek`.
    pub async fn run_seek(
        &self,
        filter: &RunFilter,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<RunRow>> {
        self.seek_of(
            (
                "r.agent, a.computer_name, r.runbook, r.batch, r.status, r.phase, \
                 r.last_update, r.last_error",
                &self.agents_first(RUN_WHERE),
            ),
            &filter.binds(),
            RUN_ORDER,
            seek,
            limit,
            run_row,
        )
        .await
    }

    /// How many sync messages `filter` keeps.
    pub async fn message_log_count(&self, filter: &MessageFilter) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) {MESSAGE_WHERE}");
        self.count_of(&sql, &filter.binds()).await
    }

    /// The sync messages `filter` keeps, newest first, `limit` from `seek`.
    pub async fn message_seek(
        &self,
        filter: &MessageFilter,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<MessageRow>> {
        self.seek_of(
            (
                "m.directory, m.guid, o.name, m.stage, m.at, m.level, m.message",
                MESSAGE_WHERE,
            ),
            &filter.binds(),
            MESSAGE_ORDER,
            seek,
            limit,
            message_row,
        )
        .await
    }

    /// The names of the objects `guids` of `directory` that are imported, read by key (a page
    /// names only the computers it shows; the translation table's page finds the targets an
    /// import deleted).
    pub async fn object_names_of(
        &self,
        directory: DirectoryId,
        guids: &[model::ids::ObjectGuid],
    ) -> Result<std::collections::HashMap<model::ids::ObjectGuid, String>> {
        let mut names = std::collections::HashMap::new();
        for chunk in guids.chunks(super::ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT guid, name FROM directory_objects WHERE directory = $1 AND guid IN ({})",
                super::placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(directory.to_string());
            for g in chunk {
                query = query.bind(g.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                names.insert(
                    parse_text("object guid", &row.try_get::<String, _>("guid")?)?,
                    row.try_get("name")?,
                );
            }
        }
        Ok(names)
    }

    /// How many rows `sql`, a `SELECT COUNT(*) FROM …` with `binds` for its placeholders,
    /// counts, no further than one past [`super::seek::COUNT_CAP`] (see
    /// [`Store::capped_count`]).
    pub(super) async fn count_of(&self, sql: &str, binds: &[String]) -> Result<u64> {
        let from_where = sql
            .strip_prefix("SELECT COUNT(*) ")
            .ok_or_else(|| crate::Error::Internal(format!("{sql:?} is not a count of rows")))?;
        self.capped_count(from_where, binds).await
    }

    /// The rows of `sql`, `limit` after `offset`: `binds` fill its placeholders but the last two,
    /// which are its `LIMIT` and `OFFSET`.
    pub(super) async fn page_of(
        &self,
        sql: &str,
        binds: &[String],
        offset: u64,
        limit: u64,
    ) -> Result<Vec<AnyRow>> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(b.clone());
        }
        let (limit, offset) = limit_offset(limit, offset);
        Ok(query
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?)
    }
}
