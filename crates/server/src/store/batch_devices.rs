//! The rows of Runbook Status and the dashboard's counts (`batch_devices` and `device_counts`,
//! `0018_console.sql`): written here with each batch, kept right by triggers as computers are
//! imported, agents register and runs move (whoever writes them), and read a page or a count
//! at a time, so no request reads every run.

use model::batch::{Batch, SelectionMode};
use model::ids::{AgentId, BatchId, ObjectGuid, RunbookId};
use model::status::{AgentStatus, Phase};
use sqlx::{AnyConnection, Executor, Row};

use super::{enum_text, parse_enum, parse_json, parse_text, row_placeholders, Backend, Store};
use crate::Result;

const SQLITE_TRIGGERS: &str = include_str!("batch_devices/sqlite.sql");
const POSTGRES_TRIGGERS: &str = include_str!("batch_devices/postgres.sql");
const SQLITE_INDEXES: &str = include_str!("console_indexes/sqlite.sql");
const POSTGRES_INDEXES: &str = include_str!("console_indexes/postgres.sql");

/// The stored status of a device that has an agent but no run of the runbook yet: Not Available
/// or Not Started, which the assignment's dates decide when it is read.
const WAITING: &str = "Waiting";

/// How many devices of one batch and runbook are in one status and phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCount {
    /// The batch.
    pub batch: BatchId,
    /// The runbook.
    pub runbook: RunbookId,
    /// The status; `None` while waiting for a run (see [`WAITING`]).
    pub status: Option<AgentStatus>,
    /// The phase of the run.
    pub phase: Option<Phase>,
    /// How many.
    pub n: u64,
}

/// One computer of a batch with one runbook assigned to it.
#[derive(Debug, Clone)]
pub struct DeviceRow {
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
    /// The status; `None` while waiting for a run.
    pub status: Option<AgentStatus>,
    /// The phase of the run.
    pub phase: Option<Phase>,
}

/// Which devices: every field optional.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// The batch.
    pub batch: Option<BatchId>,
    /// The runbook.
    pub runbook: Option<RunbookId>,
    /// The status, with the (batch, runbook) pairs whose waiting devices are in it.
    pub status: Option<(AgentStatus, Vec<(BatchId, RunbookId)>)>,
    /// The phase.
    pub phase: Option<Phase>,
    /// The computer name, `*` or `%` as wildcard.
    pub computer: Option<String>,
}

/// A `WHERE` clause built with numbered parameters.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    binds: Vec<String>,
}

impl Conditions {
    /// The placeholder of `value`, bound next.
    fn bind(&mut self, value: String) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

impl DeviceQuery {
    fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        if let Some(batch) = self.batch {
            let p = c.bind(batch.to_string());
            c.clauses.push(format!("batch = {p}"));
        }
        if let Some(runbook) = self.runbook {
            let p = c.bind(runbook.to_string());
            c.clauses.push(format!("runbook = {p}"));
        }
        if let Some((status, waiting)) = &self.status {
            let p = c.bind(status.as_str().to_string());
            let mut any = vec![format!("status = {p}")];
            for (batch, runbook) in waiting {
                let w = c.bind(WAITING.to_string());
                let b = c.bind(batch.to_string());
                let r = c.bind(runbook.to_string());
                any.push(format!("(status = {w} AND batch = {b} AND runbook = {r})"));
            }
            c.clauses.push(format!("({})", any.join(" OR ")));
        }
        if let Some(phase) = self.phase {
            let p = c.bind(enum_text(&phase));
            c.clauses.push(format!("phase = {p}"));
        }
        let computer = self.computer.as_deref().map(str::trim).unwrap_or_default();
        if !computer.is_empty() {
            let p = c.bind(super::fleet_events::like(&computer.to_lowercase(), false));
            c.clauses.push(format!("name_key LIKE {p} ESCAPE '!'"));
        }
        c
    }
}

fn stored_status(text: &str) -> Result<Option<AgentStatus>> {
    if text == WAITING {
        Ok(None)
    } else {
        parse_text("device status", text).map(Some)
    }
}

fn stored_phase(text: Option<String>) -> Result<Option<Phase>> {
    text.as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| parse_enum("phase", p))
        .transpose()
}

/// Replaces the rows of batch `id` with those of `batch` (none when it is deleted), on `conn`,
/// which the caller holds in the transaction that writes the batch itself.
pub(super) async fn write_batch_devices(
    conn: &mut AnyConnection,
    id: BatchId,
    batch: Option<&Batch>,
) -> Result<()> {
    let id_text = id.to_string();
    for table in [
        "batch_devices",
        "batch_assignments",
        "batch_listed",
        "device_counts",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE batch = $1"))
            .bind(&id_text)
            .execute(&mut *conn)
            .await?;
    }
    let Some(batch) = batch else {
        return Ok(());
    };
    let selects_all = i64::from(batch.computers.mode == SelectionMode::AllExcept);
    for a in &batch.assignments {
        sqlx::query(
            "INSERT INTO batch_assignments (batch, runbook, directory, selects_all) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&id_text)
        .bind(a.runbook.to_string())
        .bind(batch.source_directory.to_string())
        .bind(selects_all)
        .execute(&mut *conn)
        .await?;
    }
    for chunk in batch.computers.computers.chunks(super::ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO batch_listed (batch, computer) VALUES {} ON CONFLICT DO NOTHING",
            row_placeholders(chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql);
        for guid in chunk {
            query = query.bind(id_text.clone()).bind(guid.to_string());
        }
        query.execute(&mut *conn).await?;
    }
    sqlx::query("INSERT INTO batch_devices SELECT * FROM batch_device_rows WHERE batch = $1")
        .bind(&id_text)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the rows of a batch change from `old` to `new`: its source, its computers or the
/// runbooks assigned (dates and names change none).
pub(super) fn devices_change(old: &Batch, new: &Batch) -> bool {
    let runbooks = |b: &Batch| {
        let mut r: Vec<RunbookId> = b.assignments.iter().map(|a| a.runbook).collect();
        r.sort();
        r
    };
    old.source_directory != new.source_directory
        || old.computers != new.computers
        || runbooks(old) != runbooks(new)
}

impl Store {
    /// Installs (or replaces) the triggers that keep the device rows and counts, creates the
    /// console's search indexes when missing, and writes the rows of any batch stored before
    /// they were kept.
    pub(super) async fn keep_device_counts(&self) -> Result<()> {
        let (sql, indexes) = match self.backend() {
            Backend::Sqlite => (SQLITE_TRIGGERS, SQLITE_INDEXES),
            Backend::Postgres => (POSTGRES_TRIGGERS, POSTGRES_INDEXES),
        };
        let mut tx = self.pool().begin().await?;
        (&mut *tx).execute(sql).await?;
        (&mut *tx).execute(indexes).await?;
        tx.commit().await?;
        let missing = sqlx::query(
            "SELECT spec FROM batches b WHERE NOT EXISTS \
             (SELECT 1 FROM batch_assignments ba WHERE ba.batch = b.id)",
        )
        .fetch_all(self.pool())
        .await?;
        for row in missing {
            let batch: Batch = parse_json("batch", &row.try_get::<String, _>("spec")?)?;
            if batch.assignments.is_empty() {
                continue;
            }
            let mut tx = self.pool().begin().await?;
            write_batch_devices(&mut tx, batch.id, Some(&batch)).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The device counts of one batch and one runbook, or of all.
    pub async fn device_counts(
        &self,
        batch: Option<BatchId>,
        runbook: Option<RunbookId>,
    ) -> Result<Vec<DeviceCount>> {
        let query = DeviceQuery {
            batch,
            runbook,
            ..DeviceQuery::default()
        };
        let c = query.conditions();
        let filter = match c.sql() {
            s if s.is_empty() => "WHERE n <> 0".to_string(),
            s => format!("{s} AND n <> 0"),
        };
        let sql = format!(
            "SELECT batch, runbook, status, phase, n FROM device_counts {filter} \
             ORDER BY batch, runbook, status, phase"
        );
        let mut q = sqlx::query(&sql);
        for b in &c.binds {
            q = q.bind(b.clone());
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(DeviceCount {
                    batch: parse_text("batch id", &row.try_get::<String, _>("batch")?)?,
                    runbook: parse_text("runbook id", &row.try_get::<String, _>("runbook")?)?,
                    status: stored_status(&row.try_get::<String, _>("status")?)?,
                    phase: stored_phase(row.try_get("phase")?)?,
                    n: u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// How many devices `query` keeps.
    pub async fn device_total(&self, query: &DeviceQuery) -> Result<u64> {
        let c = query.conditions();
        let sql = format!("SELECT COUNT(*) FROM batch_devices {}", c.sql());
        self.count_of(&sql, &c.binds).await
    }

    /// The devices `query` keeps, by computer name, `limit` after `offset`.
    pub async fn device_page(
        &self,
        query: &DeviceQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<DeviceRow>> {
        let c = query.conditions();
        let n = c.binds.len();
        let sql = format!(
            "SELECT batch, runbook, computer, computer_name, agent, status, phase \
             FROM batch_devices {} ORDER BY name_key, computer, batch, runbook \
             LIMIT ${} OFFSET ${}",
            c.sql(),
            n + 1,
            n + 2
        );
        let rows = self.page_of(&sql, &c.binds, offset, limit).await?;
        rows.iter().map(device_row).collect()
    }

    /// The devices `query` keeps, by computer name, `limit` from `seek`.
    pub async fn device_seek(
        &self,
        query: &DeviceQuery,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<DeviceRow>> {
        let c = query.conditions();
        let conditions = match c.sql() {
            s if s.is_empty() => "WHERE 1 = 1".to_string(),
            s => s,
        };
        self.seek_of(
            (
                "batch, runbook, computer, computer_name, agent, status, phase",
                &format!("FROM batch_devices {conditions}"),
            ),
            &c.binds,
            DEVICE_ORDER,
            seek,
            limit,
            device_row,
        )
        .await
    }
}

/// Runbook Status' order: by computer name, then computer, batch and runbook.
const DEVICE_ORDER: super::seek::Order = super::seek::Order {
    columns: &[
        super::seek::KeyColumn("name_key", false),
        super::seek::KeyColumn("computer", false),
        super::seek::KeyColumn("batch", false),
        super::seek::KeyColumn("runbook", false),
    ],
    descending: false,
    lead: 0,
};

fn device_row(row: &sqlx::any::AnyRow) -> Result<DeviceRow> {
    let agent: Option<String> = row.try_get("agent")?;
    Ok(DeviceRow {
        batch: parse_text("batch id", &row.try_get::<String, _>("batch")?)?,
        runbook: parse_text("runbook id", &row.try_get::<String, _>("runbook")?)?,
        computer: parse_text("computer guid", &row.try_get::<String, _>("computer")?)?,
        computer_name: row.try_get("computer_name")?,
        agent: agent
            .as_deref()
            .map(|a| parse_text("agent id", a))
            .transpose()?,
        status: stored_status(&row.try_get::<String, _>("status")?)?,
        phase: stored_phase(row.try_get("phase")?)?,
    })
}
