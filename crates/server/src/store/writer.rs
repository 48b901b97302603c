//! The agents' writes through one writer per store: every request's nonce, check-in facts, last
//! contact and events are queued to a writer task that gathers what many requests queued
//! meanwhile into one transaction, and each request is answered only once that transaction has
//! committed; so do the writes to its runs (created, moved, folded from events). The contact
//! times and facts of requests whose replay is harmless (check-ins, uploads) are not queued: they
//! are folded into a map per agent ([`Contacts`], the latest wins) that every batch of the writer
//! takes along, and that the writer flushes on its own at most [`CONTACT_FLUSH`] after the first
//! contact noted when nothing else is queued. One task makes every write but events; events have
//! tasks of their own (see [`event_writer_tasks`] and [`run_sqlite_events`]).
//!
//! On SQLite this is what keeps a fleet fast: the file takes one writer at a time, and writers
//! racing on several pooled connections wait on SQLite's busy handler, which sleeps 1, 2, 5 …
//! 100 ms between attempts while the lock is held for well under a millisecond. On PostgreSQL a
//! batch costs one commit instead of one per request, and an upload's events go in one statement
//! with the rows as one JSON parameter. Events are keyed by (agent, seq) with `ON CONFLICT DO
//! NOTHING`, so a batch stores each event once however often an upload is retried; a batch that
//! fails is applied again job by job, so one bad write fails only its own request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::path::Path;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::{bulk, Backend};
use crate::{Error, Result};

/// Jobs gathered into one transaction at most.
const JOBS_PER_BATCH: usize = 512;
/// Event rows gathered into one transaction at most (a batch always takes at least one job).
const EVENT_ROWS_PER_BATCH: usize = 20_000;
/// Jobs queued before a request waits for room.
const QUEUE: usize = 4096;
/// How long a noted contact waits at most for the writer to take it when nothing else is
/// written: what another replica may lag behind this one's contact times and facts.
pub const CONTACT_FLUSH: Duration = Duration::from_millis(100);

/// Tasks that store events on PostgreSQL, besides the one that makes every other write. Events
/// touch no row another write touches (no trigger reads them) and each upload's rows go in in
/// the order of (agent, seq), so these tasks cannot deadlock one another or the other task; the
/// writes that move the dashboard's per-status counts (runs created, moved, folded from events)
/// stay on one task, which takes those few hot rows in one order. SQLite takes one writer at a
/// time: there events have one task on a connection of its own ([`run_sqlite_events`]), taking
/// turns with the other.
fn event_writer_tasks(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 0,
        Backend::Postgres => 4,
    }
}

/// One event row as stored: agent, seq, at, received_at, level, runbook, phase, step, status,
/// message (the agent and received_at are the upload's).
#[derive(Debug, Clone, serde::Serialize)]
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

/// What a check-in reports about the device, as stored.
#[derive(Debug, Clone)]
pub(super) struct FactsRow {
    pub agent_version: String,
    pub join_state: String,
    pub computer_name: Option<String>,
    pub os_version: Option<String>,
    pub logged_on_user: Option<String>,
}

impl FactsRow {
    /// What storing `older` then `newer` leaves: the newer facts, with the computer name and
    /// Windows version it does not report kept from the older (as the stored row keeps them).
    fn newest(older: Option<FactsRow>, newer: Option<FactsRow>) -> Option<FactsRow> {
        match (older, newer) {
            (Some(older), Some(newer)) => Some(FactsRow {
                computer_name: newer.computer_name.or(older.computer_name),
                os_version: newer.os_version.or(older.os_version),
                ..newer
            }),
            (older, newer) => newer.or(older),
        }
    }
}

/// An agent's last contact, with what it reported when the request was a check-in.
#[derive(Debug, Clone)]
pub(super) struct ContactRow {
    pub agent: String,
    pub at: i64,
    pub facts: Option<FactsRow>,
}

/// A value bound to a [`Statement`].
#[derive(Debug, Clone)]
pub(super) enum Value {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
}

/// One statement with its values, in the order of its `$n` parameters.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    pub sql: &'static str,
    pub values: Vec<Value>,
}

/// A write an agent request makes.
#[derive(Debug)]
pub(super) enum Write {
    /// Statements applied in order (a run created or moved); the rows the first changed.
    Statements(Vec<Statement>),
    /// Remember a nonce; 1 when new, 0 when seen before. When new, the contact (if any) is
    /// recorded in the same transaction, so an authenticated request costs one write.
    Nonce {
        scope: String,
        nonce: String,
        expires_at: i64,
        contact: Option<ContactRow>,
    },
    /// The contacts noted since the last batch (see [`Contacts`]); how many.
    Contacts(Vec<ContactRow>),
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

    /// Where an upload sorts in a batch: by agent, then its first number; other writes keep
    /// their order (the sort is stable, and they sort first).
    fn event_order(&self) -> Option<(&str, i64)> {
        match self {
            Write::Events { agent, rows, .. } => {
                Some((agent.as_str(), rows.first().map_or(0, |r| r.seq)))
            }
            _ => None,
        }
    }
}

struct Job {
    write: Write,
    /// Where the outcome goes; none for a write queued without waiting (see [`Writer::queue`]).
    done: Option<oneshot::Sender<Result<u64>>>,
}

impl Job {
    fn answer(self, result: Result<u64>) {
        match self.done {
            Some(done) => {
                let _ = done.send(result);
            }
            None => unanswered(&self.write, result),
        }
    }
}

/// What becomes of a write nobody waits for (the noted contacts): a failure is logged.
fn unanswered(_write: &Write, result: Result<u64>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "agents' contacts could not be stored; each is recorded again at the agent's next request");
    }
}

/// The contact times and facts noted since the writer last took them, one row per agent (the
/// latest wins), so the map is bounded by the number of agents however often they call.
#[derive(Default)]
pub(super) struct Contacts {
    pending: Mutex<PendingContacts>,
    /// Wakes the writer when the first contact is noted into an empty map.
    noted: tokio::sync::Notify,
}

#[derive(Default)]
struct PendingContacts {
    rows: HashMap<String, ContactRow>,
    /// When the first row of `rows` was noted.
    since: Option<tokio::time::Instant>,
}

impl Contacts {
    fn note(&self, row: ContactRow) {
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let first = pending.rows.is_empty();
            if first {
                pending.since = Some(tokio::time::Instant::now());
            }
            match pending.rows.get_mut(&row.agent) {
                Some(kept) if row.at >= kept.at => {
                    let facts = FactsRow::newest(kept.facts.take(), row.facts);
                    *kept = ContactRow { facts, ..row };
                }
                // An older request answered late: its facts only fill what no newer one said.
                Some(kept) => kept.facts = FactsRow::newest(row.facts, kept.facts.take()),
                None => {
                    pending.rows.insert(row.agent.clone(), row);
                }
            }
            first
        };
        if first {
            self.noted.notify_one();
        }
    }

    /// Returns once the oldest noted contact has waited [`CONTACT_FLUSH`].
    async fn due(&self) {
        loop {
            let since = self.pending.lock().unwrap_or_else(|e| e.into_inner()).since;
            if let Some(since) = since {
                tokio::time::sleep_until(since + CONTACT_FLUSH).await;
                return;
            }
            self.noted.notified().await;
        }
    }

    /// Everything noted, as one job nobody waits for.
    fn take(&self) -> Option<Job> {
        let rows = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.since = None;
            std::mem::take(&mut pending.rows)
        };
        (!rows.is_empty()).then(|| Job {
            write: Write::Contacts(rows.into_values().collect()),
            done: None,
        })
    }
}

/// The queues to a store's writer tasks.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
    /// Events, on PostgreSQL: to tasks of their own.
    events: Option<mpsc::Sender<Job>>,
    /// Batches that failed and were written again job by job (a deadlock would show here).
    failed_batches: Arc<AtomicU64>,
    /// Contacts noted, taken by the task of `queue` with each batch.
    contacts: Arc<Contacts>,
}

impl Writer {
    /// Starts the writer tasks of `pool` on the current runtime; on SQLite, events are stored
    /// through a connection of their own to `sqlite_file` (see [`run_sqlite_events`]).
    pub(super) fn start(pool: AnyPool, backend: Backend, sqlite_file: Option<&Path>) -> Writer {
        let failed_batches = Arc::new(AtomicU64::new(0));
        // SQLite takes one writer at a time: its two writer tasks take turns through this lock
        // rather than in SQLite's busy handler, which sleeps milliseconds between attempts.
        let sqlite_events = match sqlite_file.map(bulk::open) {
            Some(Ok(conn)) => Some(conn),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "events go through the pool: cannot open their own connection");
                None
            }
            None => None,
        };
        let file_lock = sqlite_events
            .as_ref()
            .map(|_| Arc::new(tokio::sync::Mutex::new(())));
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
        let contacts = Arc::new(Contacts::default());
        tokio::spawn(run(
            pool.clone(),
            backend,
            jobs,
            1,
            failed_batches.clone(),
            Some(contacts.clone()),
            file_lock.clone(),
        ));
        let events = match (event_writer_tasks(backend), sqlite_events, file_lock) {
            (_, Some(conn), Some(file_lock)) => {
                let (events, jobs) = mpsc::channel(QUEUE);
                tokio::spawn(run_sqlite_events(
                    conn,
                    jobs,
                    file_lock,
                    failed_batches.clone(),
                ));
                Some(events)
            }
            (0, _, _) => None,
            (tasks, _, _) => {
                let (events, jobs) = mpsc::channel(QUEUE);
                let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
                for _ in 0..tasks {
                    tokio::spawn(run(
                        pool.clone(),
                        backend,
                        jobs.clone(),
                        tasks,
                        failed_batches.clone(),
                        None,
                        None,
                    ));
                }
                Some(events)
            }
        };
        Writer {
            queue,
            events,
            failed_batches,
            contacts,
        }
    }

    /// Batches that failed as a whole since the store opened, each then written job by job.
    pub(super) fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    fn queue_for(&self, write: &Write) -> &mpsc::Sender<Job> {
        match (write, &self.events) {
            (Write::Events { .. }, Some(events)) => events,
            _ => &self.queue,
        }
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
        let queue = self.queue_for(&write).clone();
        let job = Job {
            write,
            done: Some(done),
        };
        match queue.send(job).await {
            Ok(()) => answer
                .await
                .map_err(|_| Error::Internal("the store's writer stopped".into()))?,
            Err(mpsc::error::SendError(job)) => apply_alone(pool, backend, &job.write).await,
        }
    }

    /// Notes an agent's contact without waiting for anything: it is stored with the writer's next
    /// batch, which a waited write queued after it joins, or at most [`CONTACT_FLUSH`] later; it
    /// is lost if the process dies first. Written directly when the writer task is gone.
    pub(super) async fn note_contact(&self, pool: &AnyPool, backend: Backend, row: ContactRow) {
        if self.queue.is_closed() {
            let write = Write::Contacts(vec![row]);
            let result = apply_alone(pool, backend, &write).await;
            unanswered(&write, result);
        } else {
            self.contacts.note(row);
        }
    }

    /// Stores the contacts noted so far now, and waits for their commit.
    pub(super) async fn flush_contacts(&self, pool: &AnyPool, backend: Backend) -> Result<()> {
        // An empty job: its batch takes every contact noted before it was queued.
        self.write(pool, backend, Write::Statements(Vec::new()))
            .await
            .map(|_| ())
    }
}

/// Gathers the next batch: waits for one job, then takes what else is queued, up to the limits
/// and to an even share of the queue among the `tasks` that read it: the uploads waiting for
/// their commit are not queued again until it comes, so one task taking the whole queue would
/// leave the others idle and the batches one after the other. The task with `contacts` also
/// wakes when the noted contacts are due, and puts them first in every batch, taken after the
/// batch's jobs: a waited write queued after a contact was noted commits with it or later.
async fn gather(
    queue: &tokio::sync::Mutex<mpsc::Receiver<Job>>,
    tasks: usize,
    contacts: Option<&Contacts>,
    jobs: &mut Vec<Job>,
) -> bool {
    let mut queue = queue.lock().await;
    let first = match contacts {
        Some(contacts) => tokio::select! {
            job = queue.recv() => job,
            () = contacts.due() => None,
        },
        None => queue.recv().await,
    };
    let first = match first {
        Some(job) => Some(job),
        None if contacts.is_some() && !queue.is_closed() => None,
        None => return false,
    };
    if let Some(first) = first {
        let share = (queue.len() + 1).div_ceil(tasks.max(1));
        let most = JOBS_PER_BATCH.min(share);
        let mut rows = first.write.event_rows();
        jobs.push(first);
        while jobs.len() < most && rows < EVENT_ROWS_PER_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    rows += job.write.event_rows();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
    }
    if let Some(noted) = contacts.and_then(Contacts::take) {
        jobs.insert(0, noted);
    }
    true
}

async fn run(
    pool: AnyPool,
    backend: Backend,
    queue: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    tasks: usize,
    failed_batches: Arc<AtomicU64>,
    contacts: Option<Arc<Contacts>>,
    file_lock: Option<Arc<tokio::sync::Mutex<()>>>,
) {
    let mut jobs: Vec<Job> = Vec::new();
    while gather(&queue, tasks, contacts.as_deref(), &mut jobs).await {
        if jobs.is_empty() {
            continue;
        }
        // Uploads in the order of their agents and first numbers, so that two tasks storing
        // copies of the same upload take its rows in one order.
        jobs.sort_by(|a, b| a.write.event_order().cmp(&b.write.event_order()));
        let _turn = match &file_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        let outcome = apply_batch(&pool, backend, &jobs).await;
        answer_batch(&pool, backend, &mut jobs, outcome, &failed_batches).await;
    }
}

/// Answers each of a batch's jobs with what it wrote; when the batch failed as a whole, applies
/// each job on its own, so that one bad write fails only its own request.
async fn answer_batch(
    pool: &AnyPool,
    backend: Backend,
    jobs: &mut Vec<Job>,
    outcome: Result<Vec<u64>>,
    failed_batches: &AtomicU64,
) {
    match outcome {
        Ok(counts) => {
            for (job, n) in jobs.drain(..).zip(counts) {
                job.answer(Ok(n));
            }
        }
        Err(e) => {
            failed_batches.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, jobs = jobs.len(), "a batch of agent writes failed; writing each on its own");
            for job in jobs.drain(..) {
                let result = apply_alone(pool, backend, &job.write).await;
                job.answer(result);
            }
        }
    }
}

/// The events' task on SQLite: each batch in one transaction on a connection of its own through
/// rusqlite, in one trip to a blocking thread, one prepared statement executed per row (binding
/// each value once); through the pool, every statement was a trip to the connection's worker
/// thread and back, and an upload's rows were read back out of JSON. The rows are the same
/// (`ON CONFLICT (agent, seq) DO NOTHING`), so each is stored once however the uploads overlap;
/// a batch that fails is applied again upload by upload, each in a transaction of its own.
async fn run_sqlite_events(
    conn: rusqlite::Connection,
    queue: mpsc::Receiver<Job>,
    file_lock: Arc<tokio::sync::Mutex<()>>,
    failed_batches: Arc<AtomicU64>,
) {
    let queue = tokio::sync::Mutex::new(queue);
    let mut conn = Some(conn);
    let mut jobs: Vec<Job> = Vec::new();
    while gather(&queue, 1, None, &mut jobs).await {
        jobs.sort_by(|a, b| a.write.event_order().cmp(&b.write.event_order()));
        let Some(mut c) = conn.take() else { return };
        let batch = std::mem::take(&mut jobs);
        let failed = failed_batches.clone();
        let turn = file_lock.lock().await;
        let done = tokio::task::spawn_blocking(move || {
            store_sqlite_batch(&mut c, batch, &failed);
            c
        })
        .await;
        drop(turn);
        match done {
            Ok(c) => conn = Some(c),
            // The batch's requests hear that the writer stopped; later uploads go through the
            // pool once this queue is closed.
            Err(e) => {
                tracing::error!(error = %e, "the events' writer stopped");
                return;
            }
        }
    }
}

/// Stores `jobs` (uploads of events) in one transaction and answers each; when that fails, each
/// in a transaction of its own.
fn store_sqlite_batch(conn: &mut rusqlite::Connection, jobs: Vec<Job>, failed: &AtomicU64) {
    let batch = (|| {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(bulk::failed)?;
        let mut counts = Vec::with_capacity(jobs.len());
        for job in &jobs {
            counts.push(store_sqlite_upload(&tx, &job.write)?);
        }
        tx.commit().map_err(bulk::failed)?;
        Ok::<_, Error>(counts)
    })();
    match batch {
        Ok(counts) => {
            for (job, n) in jobs.into_iter().zip(counts) {
                job.answer(Ok(n));
            }
        }
        Err(e) => {
            failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, jobs = jobs.len(), "a batch of events failed; storing each upload on its own");
            for job in jobs {
                let alone = (|| {
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(bulk::failed)?;
                    let n = store_sqlite_upload(&tx, &job.write)?;
                    tx.commit().map_err(bulk::failed)?;
                    Ok(n)
                })();
                job.answer(alone);
            }
        }
    }
}

/// One upload's rows through the connection's prepared statement; how many were new.
fn store_sqlite_upload(conn: &rusqlite::Connection, write: &Write) -> Result<u64> {
    let Write::Events {
        agent,
        received_at,
        rows,
    } = write
    else {
        return Err(Error::Internal(
            "only events are written on the events' connection".into(),
        ));
    };
    let mut insert = conn
        .prepare_cached(SQLITE_EVENT_ROW)
        .map_err(bulk::failed)?;
    let mut new = 0;
    for r in rows {
        new += insert
            .execute(rusqlite::params![
                agent,
                r.seq,
                r.at,
                received_at,
                r.level,
                r.runbook,
                r.phase,
                r.step,
                r.status,
                r.message
            ])
            .map_err(bulk::failed)? as u64;
    }
    Ok(new)
}

const SQLITE_EVENT_ROW: &str = "INSERT INTO agent_events (agent, seq, at, received_at, level, runbook, phase, step, status, message) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (agent, seq) DO NOTHING";

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

async fn apply(conn: &mut AnyConnection, backend: Backend, write: &Write) -> Result<u64> {
    match write {
        Write::Statements(statements) => {
            let mut first = None;
            for statement in statements {
                let mut query = sqlx::query(statement.sql);
                for value in &statement.values {
                    query = match value {
                        Value::Text(t) => query.bind(t.as_str()),
                        Value::MaybeText(t) => query.bind(t.clone()),
                        Value::Int(n) => query.bind(*n),
                    };
                }
                let n = query.execute(&mut *conn).await?.rows_affected();
                first.get_or_insert(n);
            }
            Ok(first.unwrap_or(0))
        }
        Write::Nonce {
            scope,
            nonce,
            expires_at,
            contact,
        } => {
            let new = sqlx::query(
                "INSERT INTO seen_nonces (scope, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (scope, nonce) DO NOTHING",
            )
            .bind(scope.as_str())
            .bind(nonce.as_str())
            .bind(*expires_at)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            // A replay changes nothing else.
            if let (true, Some(contact)) = (new > 0, contact) {
                record_contact(conn, contact).await?;
            }
            Ok(new)
        }
        Write::Contacts(rows) => {
            for row in rows {
                record_contact(conn, row).await?;
            }
            Ok(rows.len() as u64)
        }
        Write::Events {
            agent,
            received_at,
            rows,
        } => {
            // The whole upload as one JSON parameter: one statement, nothing to bind per row
            // (SQLite's binding cost grows with the parameter count, see
            // [`super::ROWS_PER_STATEMENT`]; its JSON functions read the rows in C).
            let rows = serde_json::to_string(rows)
                .map_err(|e| Error::Internal(format!("cannot encode events: {}", e)))?;
            let sql = match backend {
                Backend::Postgres => POSTGRES_EVENTS,
                Backend::Sqlite => SQLITE_EVENTS,
            };
            Ok(sqlx::query(sql)
                .bind(agent.as_str())
                .bind(*received_at)
                .bind(rows)
                .execute(&mut *conn)
                .await?
                .rows_affected())
        }
    }
}

const POSTGRES_EVENTS: &str = "INSERT INTO agent_events (agent, seq, at, received_at, level, runbook, phase, step, status, message) \
     SELECT $1, e.seq, e.at, $2, e.level, e.runbook, e.phase, e.step, e.status, e.message \
     FROM json_to_recordset(CAST($3 AS json)) AS e(seq BIGINT, at BIGINT, level TEXT, \
     runbook TEXT, phase TEXT, step TEXT, status TEXT, message TEXT) \
     ON CONFLICT (agent, seq) DO NOTHING";

// `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
const SQLITE_EVENTS: &str = "INSERT INTO agent_events (agent, seq, at, received_at, level, runbook, phase, step, status, message) \
     SELECT $1, json_extract(e.value, '$.seq'), json_extract(e.value, '$.at'), $2, \
     json_extract(e.value, '$.level'), json_extract(e.value, '$.runbook'), \
     json_extract(e.value, '$.phase'), json_extract(e.value, '$.step'), \
     json_extract(e.value, '$.status'), json_extract(e.value, '$.message') \
     FROM json_each($3) AS e WHERE true \
     ON CONFLICT (agent, seq) DO NOTHING";

async fn record_contact(conn: &mut AnyConnection, contact: &ContactRow) -> Result<()> {
    match &contact.facts {
        Some(facts) => {
            sqlx::query(
                "UPDATE agents SET last_contact = $1, agent_version = $2, join_state = $3, \
             computer_name = COALESCE($4, computer_name), os_version = COALESCE($5, os_version), \
             logged_on_user = $6 WHERE id = $7",
            )
            .bind(contact.at)
            .bind(facts.agent_version.as_str())
            .bind(facts.join_state.as_str())
            .bind(facts.computer_name.clone())
            .bind(facts.os_version.clone())
            .bind(facts.logged_on_user.clone())
            .bind(contact.agent.as_str())
            .execute(&mut *conn)
            .await?
        }
        None => {
            sqlx::query("UPDATE agents SET last_contact = $1 WHERE id = $2")
                .bind(contact.at)
                .bind(contact.agent.as_str())
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(())
}
