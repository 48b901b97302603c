//! Registered agents, where each stands with each runbook, and the profiles they harvested.

use chrono::{DateTime, Utc};
use model::envelope::{AgentCertificate, PublicKeys};
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::UserProfile;
use model::status::{AgentStatus, Phase};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::certificates::{key_text, public_keys};
use super::writer::{ContactRow, FactsRow, Statement, Value, Write};
use super::ROWS_PER_STATEMENT;
use super::{
    enum_text, from_ms, parse_enum, parse_json, parse_text, row_placeholders, to_json, to_ms, Store,
};
use crate::{Error, Result};

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    /// Its id.
    pub id: AgentId,
    /// The directory its computer was imported from.
    pub directory: DirectoryId,
    /// The computer object's GUID there.
    pub computer_guid: ObjectGuid,
    /// The computer name it registered with.
    pub computer_name: String,
    /// BIOS serial number.
    pub serial: String,
    /// Workstation or server.
    pub os_edition: OsEdition,
    /// Windows version.
    pub os_version: String,
    /// Agent version at the last contact.
    pub agent_version: String,
    /// Join state at the last contact.
    pub join_state: JoinState,
    /// The certificate issued to it.
    pub certificate: AgentCertificate,
    /// Its public keys.
    pub keys: PublicKeys,
    /// When it registered.
    pub registered_at: DateTime<Utc>,
    /// When it last checked in or uploaded.
    pub last_contact: DateTime<Utc>,
    /// The user signed in at the console at the last check-in, if any.
    pub logged_on_user: Option<String>,
}

/// What a check-in says about the device.
#[derive(Debug, Clone, Copy)]
pub struct CheckInFacts<'a> {
    /// The agent's version.
    pub agent_version: &'a str,
    /// What the device is joined to.
    pub join_state: &'a JoinState,
    /// The computer name, when the agent reports it.
    pub computer_name: Option<&'a str>,
    /// The Windows version, when the agent reports it.
    pub os_version: Option<&'a str>,
    /// The user signed in at the console.
    pub logged_on_user: Option<&'a str>,
}

/// Where an agent stands with one runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRun {
    /// The agent.
    pub agent: AgentId,
    /// The runbook.
    pub runbook: RunbookId,
    /// The batch that assigned it, when known.
    pub batch: Option<BatchId>,
    /// Its status.
    pub status: AgentStatus,
    /// The phase it is in or stopped in.
    pub phase: Option<Phase>,
    /// The step id.
    pub step: Option<String>,
    /// When anything of this row last changed.
    pub last_update: DateTime<Utc>,
    /// The last error the agent reported.
    pub last_error: Option<String>,
    /// When the agent made its final check-in for it.
    pub final_check_at: Option<DateTime<Utc>>,
    /// How many times an operator asked to retry it after it failed.
    pub retries: u32,
}

/// A change to an agent's run, folded from events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunUpdate {
    /// New status.
    pub status: Option<AgentStatus>,
    /// New phase.
    pub phase: Option<Phase>,
    /// New step.
    pub step: Option<String>,
    /// New last error.
    pub last_error: Option<String>,
    /// The newest event folded in.
    pub seq: i64,
}

const AGENT_COLUMNS: &str = "id, directory, computer_guid, computer_name, serial, os_edition, os_version, \
                             agent_version, join_state, certificate, sign_key, encrypt_key, registered_at, last_contact, \
                             logged_on_user";
const RUN_COLUMNS: &str =
    "agent, runbook, batch, status, phase, step, last_update, last_error, final_check_at, retries";

fn agent_from_row(row: &AnyRow) -> Result<Agent> {
    Ok(Agent {
        id: parse_text("agent id", &row.try_get::<String, _>("id")?)?,
        directory: parse_text("agent directory", &row.try_get::<String, _>("directory")?)?,
        computer_guid: parse_text("computer guid", &row.try_get::<String, _>("computer_guid")?)?,
        computer_name: row.try_get("computer_name")?,
        serial: row.try_get("serial")?,
        os_edition: parse_enum("os edition", &row.try_get::<String, _>("os_edition")?)?,
        os_version: row.try_get("os_version")?,
        agent_version: row.try_get("agent_version")?,
        join_state: parse_json("join state", &row.try_get::<String, _>("join_state")?)?,
        certificate: parse_json(
            "agent certificate",
            &row.try_get::<String, _>("certificate")?,
        )?,
        keys: public_keys(
            &row.try_get::<String, _>("sign_key")?,
            &row.try_get::<String, _>("encrypt_key")?,
        )?,
        registered_at: from_ms(row.try_get("registered_at")?),
        last_contact: from_ms(row.try_get("last_contact")?),
        logged_on_user: row.try_get("logged_on_user")?,
    })
}

fn run_from_row(row: &AnyRow) -> Result<AgentRun> {
    let batch: Option<String> = row.try_get("batch")?;
    let phase: Option<String> = row.try_get("phase")?;
    let final_check: Option<i64> = row.try_get("final_check_at")?;
    Ok(AgentRun {
        agent: parse_text("agent id", &row.try_get::<String, _>("agent")?)?,
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
        step: row.try_get("step")?,
        last_update: from_ms(row.try_get("last_update")?),
        last_error: row.try_get("last_error")?,
        final_check_at: final_check.map(from_ms),
        retries: u32::try_from(row.try_get::<i64, _>("retries")?).unwrap_or(u32::MAX),
    })
}

/// True when `e` is a unique-key violation, on either backend.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            // SQLite: 2067 (UNIQUE) / 1555 (PRIMARY KEY); PostgreSQL: 23505.
            matches!(
                db.code().as_deref(),
                Some("2067") | Some("1555") | Some("23505")
            ) || db.message().contains("UNIQUE constraint failed")
                || db.message().contains("duplicate key")
        }
        _ => false,
    }
}

impl Store {
    /// Adds an agent. A second agent for the same computer is a conflict.
    pub async fn insert_agent(&self, agent: &Agent) -> Result<()> {
        let sql = format!(
            "INSERT INTO agents ({}) VALUES {}",
            AGENT_COLUMNS,
            row_placeholders(1, 15)
        );
        let done = sqlx::query(&sql)
            .bind(agent.id.to_string())
            .bind(agent.directory.to_string())
            .bind(agent.computer_guid.to_string())
            .bind(&agent.computer_name)
            .bind(&agent.serial)
            .bind(enum_text(&agent.os_edition))
            .bind(&agent.os_version)
            .bind(&agent.agent_version)
            .bind(to_json(&agent.join_state)?)
            .bind(to_json(&agent.certificate)?)
            .bind(key_text(&agent.keys.sign))
            .bind(key_text(&agent.keys.encrypt))
            .bind(to_ms(agent.registered_at))
            .bind(to_ms(agent.last_contact))
            .bind(agent.logged_on_user.clone())
            .execute(self.pool())
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict(
                "this computer already has an agent".to_string(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// One agent.
    pub async fn agent(&self, id: AgentId) -> Result<Option<Agent>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM agents WHERE id = $1",
            AGENT_COLUMNS
        ))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// The agent of a computer, if one registered.
    pub async fn agent_for_computer(
        &self,
        directory: DirectoryId,
        computer: ObjectGuid,
    ) -> Result<Option<Agent>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM agents WHERE directory = $1 AND computer_guid = $2",
            AGENT_COLUMNS
        ))
        .bind(directory.to_string())
        .bind(computer.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Registered agents by computer name (then id), `limit` of them from `seek`
    /// (`agents_by_name`): every agent, read a part at a time.
    pub async fn agents_seek(
        &self,
        seek: super::seek::Seek,
        limit: u64,
    ) -> Result<super::seek::SeekPage<Agent>> {
        const BY_NAME: super::seek::Order = super::seek::Order {
            columns: &[
                super::seek::KeyColumn("computer_name", false),
                super::seek::KeyColumn("id", false),
            ],
            descending: false,
            lead: 0,
        };
        self.seek_of(
            (AGENT_COLUMNS, "FROM agents WHERE 1 = 1"),
            &[],
            BY_NAME,
            seek,
            limit,
            agent_from_row,
        )
        .await
    }

    /// Every agent, by computer name.
    pub async fn agents(&self) -> Result<Vec<Agent>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM agents ORDER BY computer_name, id",
            AGENT_COLUMNS
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// Records the nonce of an authenticated request from `id` until `keep_for` from `now` and,
    /// when it is new, the agent's contact with the facts a check-in reports (a name or Windows
    /// version the agent does not report stays as it was), in one write; false for a replay,
    /// which changes nothing. Waits until the write is committed.
    pub async fn record_agent_request(
        &self,
        id: AgentId,
        nonce: &str,
        facts: Option<&CheckInFacts<'_>>,
        now: DateTime<Utc>,
        keep_for: chrono::Duration,
    ) -> Result<bool> {
        let write = agent_request_write(id, nonce, facts, now, keep_for)?;
        Ok(self.write(write).await? > 0)
    }

    /// Notes the contact of an authenticated request from `id` whose replay is harmless, with the
    /// facts a check-in reports, without waiting: the writer stores each agent's latest contact
    /// with its next batch or within 100 ms (the writer's `CONTACT_FLUSH`), and a
    /// crash loses what it had not stored yet. No nonce is stored (see
    /// `agent_api::AgentRequest::REPLAY_IS_HARMLESS`).
    pub async fn note_agent_contact(
        &self,
        id: AgentId,
        facts: Option<&CheckInFacts<'_>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let row = contact_row(id, facts, now)?;
        self.writer
            .note_contact(&self.pool, self.backend, row)
            .await;
        Ok(())
    }

    /// Stores the contacts noted so far ([`Store::note_agent_contact`]) now, and waits for
    /// their commit.
    pub async fn flush_agent_contacts(&self) -> Result<()> {
        self.writer.flush_contacts(&self.pool, self.backend).await
    }

    /// The run of `agent` for `runbook`, if there is one.
    pub async fn run_of_agent(
        &self,
        agent: AgentId,
        runbook: RunbookId,
    ) -> Result<Option<AgentRun>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM agent_runs WHERE agent = $1 AND runbook = $2",
            RUN_COLUMNS
        ))
        .bind(agent.to_string())
        .bind(runbook.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Marks the run of `agent` for `runbook` to be retried, when it ended in Error: Not Started
    /// again, its last error cleared, its retry count one higher. The new count, or `None` when
    /// the run is not in Error (nothing changed).
    pub async fn retry_run(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>> {
        let done = sqlx::query(
            "UPDATE agent_runs SET status = 'NotStarted', last_error = NULL, retries = retries + 1, \
             last_update = $1 WHERE agent = $2 AND runbook = $3 AND status = 'Error'",
        )
        .bind(to_ms(now))
        .bind(agent.to_string())
        .bind(runbook.to_string())
        .execute(self.pool())
        .await;
        self.device_changed(agent);
        if done?.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(self.run_of_agent(agent, runbook).await?.map(|r| r.retries))
    }

    /// Every run of `agent`, by last update, newest first.
    pub async fn runs_of_agent(&self, agent: AgentId) -> Result<Vec<AgentRun>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM agent_runs WHERE agent = $1 ORDER BY last_update DESC, runbook",
            RUN_COLUMNS
        ))
        .bind(agent.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Every run of every agent.
    pub async fn all_runs(&self) -> Result<Vec<AgentRun>> {
        let rows = sqlx::query(&format!("SELECT {} FROM agent_runs", RUN_COLUMNS))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Creates the run of `agent` for `runbook` with `status` unless it exists; true when created.
    pub async fn create_run(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        batch: BatchId,
        status: AgentStatus,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let created = self
            .write(Write::Statements(vec![Statement {
                sql:
                    "INSERT INTO agent_runs (agent, runbook, batch, status, last_update, last_seq) \
                      VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (agent, runbook) DO NOTHING",
                values: vec![
                    Value::Text(agent.to_string()),
                    Value::Text(runbook.to_string()),
                    Value::Text(batch.to_string()),
                    Value::Text(status.as_str().to_string()),
                    Value::Int(to_ms(now)),
                ],
            }]))
            .await;
        self.device_changed(agent);
        Ok(created? > 0)
    }

    /// Moves a run that has not started between Not Available and Not Started as time passes, and
    /// records which batch assigns it now.
    pub async fn refresh_waiting_run(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        batch: BatchId,
        status: AgentStatus,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let done = self
            .write(Write::Statements(vec![Statement {
                sql: "UPDATE agent_runs SET status = $1, batch = $2, last_update = $3 \
                  WHERE agent = $4 AND runbook = $5 AND status IN ('NotAvailable', 'NotStarted') \
                  AND (status <> $1 OR batch IS NULL OR batch <> $2)",
                values: vec![
                    Value::Text(status.as_str().to_string()),
                    Value::Text(batch.to_string()),
                    Value::Int(to_ms(now)),
                    Value::Text(agent.to_string()),
                    Value::Text(runbook.to_string()),
                ],
            }]))
            .await;
        self.device_changed(agent);
        done?;
        Ok(())
    }

    /// Records the final check-in for a run.
    pub async fn record_final_check(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let done = self
            .write(Write::Statements(vec![Statement {
                sql: "UPDATE agent_runs SET final_check_at = $1, last_update = $1 \
                  WHERE agent = $2 AND runbook = $3",
                values: vec![
                    Value::Int(to_ms(now)),
                    Value::Text(agent.to_string()),
                    Value::Text(runbook.to_string()),
                ],
            }]))
            .await;
        self.device_changed(agent);
        done?;
        Ok(())
    }

    /// Applies a change folded from events, unless newer events were already applied; creates the
    /// run when events arrive for a runbook the server did not see assigned yet.
    pub async fn apply_run_update(
        &self,
        agent: AgentId,
        runbook: RunbookId,
        update: &RunUpdate,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let initial = update.status.unwrap_or(AgentStatus::NotStarted);
        let id = agent;
        let (agent, runbook, now) = (agent.to_string(), runbook.to_string(), to_ms(now));
        let done = self.write(Write::Statements(vec![
            Statement {
                sql: "INSERT INTO agent_runs (agent, runbook, batch, status, last_update, last_seq) \
                      VALUES ($1, $2, NULL, $3, $4, 0) ON CONFLICT (agent, runbook) DO NOTHING",
                values: vec![
                    Value::Text(agent.clone()),
                    Value::Text(runbook.clone()),
                    Value::Text(initial.as_str().to_string()),
                    Value::Int(now),
                ],
            },
            Statement {
                sql: "UPDATE agent_runs SET status = COALESCE($1, status), phase = COALESCE($2, phase), \
                      step = COALESCE($3, step), last_error = COALESCE($4, last_error), \
                      last_update = $5, last_seq = $6 \
                      WHERE agent = $7 AND runbook = $8 AND last_seq < $6",
                values: vec![
                    Value::MaybeText(update.status.map(|s| s.as_str().to_string())),
                    Value::MaybeText(update.phase.map(|p| enum_text(&p))),
                    Value::MaybeText(update.step.clone()),
                    Value::MaybeText(update.last_error.clone()),
                    Value::Int(now),
                    Value::Int(update.seq),
                    Value::Text(agent),
                    Value::Text(runbook),
                ],
            },
        ]))
        .await;
        self.device_changed(id);
        done?;
        Ok(())
    }

    /// Replaces the profiles harvested from `agent`.
    pub async fn replace_profiles(
        &self,
        agent: AgentId,
        profiles: &[UserProfile],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM harvested_profiles WHERE agent = $1")
            .bind(agent.to_string())
            .execute(&mut *tx)
            .await?;
        for chunk in profiles.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO harvested_profiles (agent, sid, path, last_used, harvested_at) VALUES {} \
                 ON CONFLICT (agent, sid) DO NOTHING",
                row_placeholders(chunk.len(), 5)
            );
            let mut query = sqlx::query(&sql);
            for p in chunk {
                query = query
                    .bind(agent.to_string())
                    .bind(p.sid.to_string())
                    .bind(p.path.clone())
                    .bind(p.last_used.map(to_ms))
                    .bind(to_ms(now));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The profiles harvested from `agent`, by path.
    pub async fn profiles(&self, agent: AgentId) -> Result<Vec<UserProfile>> {
        let rows = sqlx::query("SELECT sid, path, last_used FROM harvested_profiles WHERE agent = $1 ORDER BY path, sid")
            .bind(agent.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let last_used: Option<i64> = row.try_get("last_used")?;
                Ok(UserProfile {
                    sid: parse_text("profile sid", &row.try_get::<String, _>("sid")?)?,
                    path: row.try_get("path")?,
                    last_used: last_used.map(from_ms),
                })
            })
            .collect()
    }
}

fn agent_request_write(
    id: AgentId,
    nonce: &str,
    facts: Option<&CheckInFacts<'_>>,
    now: DateTime<Utc>,
    keep_for: chrono::Duration,
) -> Result<Write> {
    Ok(Write::Nonce {
        scope: format!("agent:{}", id),
        nonce: nonce.to_string(),
        expires_at: to_ms(now + keep_for),
        contact: Some(contact_row(id, facts, now)?),
    })
}

fn contact_row(
    id: AgentId,
    facts: Option<&CheckInFacts<'_>>,
    now: DateTime<Utc>,
) -> Result<ContactRow> {
    let facts = match facts {
        Some(f) => Some(FactsRow {
            agent_version: f.agent_version.to_string(),
            join_state: to_json(f.join_state)?,
            computer_name: f.computer_name.map(str::to_string),
            os_version: f.os_version.map(str::to_string),
            logged_on_user: f.logged_on_user.map(str::to_string),
        }),
        None => None,
    };
    Ok(ContactRow {
        agent: id.to_string(),
        at: to_ms(now),
        facts,
    })
}
