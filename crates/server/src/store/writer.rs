//! The agents' writes through one writer per store: every request's nonce, check-in facts, last
//! contact and events are queued to a task that gathers what many requests queued meanwhile into
//! one transaction, and each request is answered only once that transaction has committed.
//!
//! On SQLite this is what keeps a fleet fast: the file takes one writer at a time, and writers
//! racing on several pooled connections wait on SQLite's busy handler, which sleeps 1, 2, 5 …
//! 100 ms between attempts while the lock is held for well under a millisecond. On PostgreSQL a
//! batch costs one commit instead of one per request. Each write is the same statement as when
//! made alone (events keyed by (agent, seq) with `ON CONFLICT DO NOTHING`), so a batch stores each
//! event once however often an upload is retried; a batch that fails is applied again job by job,
//! so one bad write fails only its own request.

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::Backend;
use crate::{Error, Result};

/// Jobs gathered into one transaction at most.
const JOBS_PER_BATCH: usize = 512;
/// Event rows gathered into one transaction at most (a batch always takes at least one job).
const EVENT_ROWS_PER_BATCH: usize = 20_000;
/// Jobs queued before a request waits for room.
const QUEUE: usize = 4096;

/// One event row as stored: agent, seq, at, received_at, level, runbook, phase, step, status,
/// message.
#[derive(Debug, Clone)]
pub(super) struct EventRow {
    pub seq: i64,
    pub at: i64,
    pub level: &'static str,
    pub runbook: Option<String>,
    pub phase: Option<String>,
    pub step: Option<String>,
    pub status: Option<String>,
    pub message: String,
}

/// A write an agent request makes.
#[derive(Debug)]
pub(super) enum Write {
    /// Remember a nonce; 1 when new, 0 when seen before.
    Nonce {
        scope: String,
        nonce: String,
        expires_at: i64,
    },
    /// A check-in's last contact and facts.
    CheckIn {
        agent: String,
        at: i64,
        agent_version: String,
        join_state: String,
        computer_name: Option<String>,
        os_version: Option<String>,
        logged_on_user: Option<String>,
    },
    /// Last contact only.
    Contact { agent: String, at: i64 },
    /// One upload's events; how many were new.
    Events {
        agent: String,
        received_at: i64,
        rows: Vec<EventRow>,
    },
}

impl Write {
    fn event_rows(&self) -> usize {
        match self {
            Write::Events { rows, .. } => rows.len(),
            _ => 0,
        }
    }
}

struct Job {
    write: Write,
    done: oneshot::Sender<Result<u64>>,
}

/// The queue to a store's writer task.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task of `pool` on the current runtime.
    pub(super) fn start(pool: AnyPool, backend: Backend) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, backend, jobs));
        Writer { queue }
    }

    /// Queues `write` and waits until it is committed; applied directly on `pool` when the writer
    /// task is gone (its runtime ended).
    pub(super) async fn write(
        &self,
        pool: &AnyPool,
        backend: Backend,
        write: Write,
    ) -> Result<u64> {
        let (done, answer) = oneshot::channel();
        match self.queue.send(Job { write, done }).await {
            Ok(()) => answer
                .await
                .map_err(|_| Error::Internal("the store's writer stopped".into()))?,
            Err(mpsc::error::SendError(job)) => {
                let mut tx = pool.begin().await?;
                let n = apply(&mut tx, backend, &job.write).await?;
                tx.commit().await?;
                Ok(n)
            }
        }
    }
}

async fn run(pool: AnyPool, backend: Backend, mut queue: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut rows = first.write.event_rows();
        jobs.push(first);
        while jobs.len() < JOBS_PER_BATCH && rows < EVENT_ROWS_PER_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    rows += job.write.event_rows();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        match apply_batch(&pool, backend, &jobs).await {
            Ok(counts) => {
                for (job, n) in jobs.drain(..).zip(counts) {
                    let _ = job.done.send(Ok(n));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, jobs = jobs.len(), "a batch of agent writes failed; writing each on its own");
                for job in jobs.drain(..) {
                    let result = apply_alone(&pool, backend, &job.write).await;
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

async fn apply_batch(pool: &AnyPool, backend: Backend, jobs: &[Job]) -> Result<Vec<u64>> {
    let mut tx = pool.begin().await?;
    let mut counts = Vec::with_capacity(jobs.len());
    for job in jobs {
        counts.push(apply(&mut tx, backend, &job.write).await?);
    }
    tx.commit().await?;
    Ok(counts)
}

async fn apply_alone(pool: &AnyPool, backend: Backend, write: &Write) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let n = apply(&mut tx, backend, write).await?;
    tx.commit().await?;
    Ok(n)
}

/// Event rows per INSERT: few on SQLite, whose binding cost grows with the parameter count (see
/// [`super::ROWS_PER_STATEMENT`]), many on PostgreSQL, where each statement is a round trip.
fn event_rows_per_statement(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => super::ROWS_PER_STATEMENT,
        Backend::Postgres => 1000,
    }
}

const EVENT_COLUMNS: &str =
    "agent, seq, at, received_at, level, runbook, phase, step, status, message";

async fn apply(conn: &mut AnyConnection, backend: Backend, write: &Write) -> Result<u64> {
    match write {
        Write::Nonce {
            scope,
            nonce,
            expires_at,
        } => Ok(sqlx::query(
            "INSERT INTO seen_nonces (scope, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, nonce) DO NOTHING",
        )
        .bind(scope.as_str())
        .bind(nonce.as_str())
        .bind(*expires_at)
        .execute(&mut *conn)
        .await?
        .rows_affected()),
        Write::CheckIn {
            agent,
            at,
            agent_version,
            join_state,
            computer_name,
            os_version,
            logged_on_user,
        } => Ok(sqlx::query(
            "UPDATE agents SET last_contact = $1, agent_version = $2, join_state = $3, \
             computer_name = COALESCE($4, computer_name), os_version = COALESCE($5, os_version), \
             logged_on_user = $6 WHERE id = $7",
        )
        .bind(*at)
        .bind(agent_version.as_str())
        .bind(join_state.as_str())
        .bind(computer_name.clone())
        .bind(os_version.clone())
        .bind(logged_on_user.clone())
        .bind(agent.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()),
        Write::Contact { agent, at } => Ok(sqlx::query(
            "UPDATE agents SET last_contact = $1 WHERE id = $2",
        )
        .bind(*at)
        .bind(agent.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()),
        Write::Events {
            agent,
            received_at,
            rows,
        } => {
            let mut stored = 0;
            for chunk in rows.chunks(event_rows_per_statement(backend)) {
                let sql = format!(
                    "INSERT INTO agent_events ({}) VALUES {} ON CONFLICT (agent, seq) DO NOTHING",
                    EVENT_COLUMNS,
                    super::row_placeholders(chunk.len(), 10)
                );
                let mut query = sqlx::query(&sql);
                for e in chunk {
                    query = query
                        .bind(agent.as_str())
                        .bind(e.seq)
                        .bind(e.at)
                        .bind(*received_at)
                        .bind(e.level)
                        .bind(e.runbook.clone())
                        .bind(e.phase.clone())
                        .bind(e.step.clone())
                        .bind(e.status.clone())
                        .bind(e.message.as_str());
                }
                stored += query.execute(&mut *conn).await?.rows_affected();
            }
            Ok(stored)
        }
    }
}
