//! Readiness on the server: the checks each device sends for a runbook of its batch, the gate
//! that keeps a device with a blocking check from starting, waivers of one check for one device,
//! and the batch's readiness as the API, the console and CSV show it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::protocol::Blocked;
use model::readiness::{
    checks, first_blocking, held_back_message, CheckResult, ReadinessReport, Verdict, MAX_CHECKS,
};
use model::runbook::Runbook;

use crate::store::readiness::Waiver;
use crate::{App, Error, Result};

mod view;
pub use view::{
    csv, of_agent, of_batch, BatchReadiness, BlockingReason, CheckRow, DeviceReadiness, Filter,
    VerdictCounts, NOT_REPORTED as NOT_REPORTED_VERDICT, PER_PAGE,
};

/// The code of a check-in answer that holds a runbook back for a blocking check.
pub const NOT_READY: &str = "not_ready";
/// The code of a check-in answer that holds a runbook back until the device's checks arrive.
pub const NOT_REPORTED: &str = "readiness_not_reported";
/// The code of a check-in answer that holds a runbook back because its checks are too old.
pub const STALE: &str = "readiness_stale";
/// Longest check id, reason and value a device may send.
const MAX_ID: usize = 200;
const MAX_TEXT: usize = 2_000;

/// Stores the checks `agent` sent, after the server's own: that the device reached it. A report
/// for a batch or runbook the device is not in is refused.
pub async fn receive(app: &App, agent: AgentId, report: ReadinessReport) -> Result<u64> {
    if report.checks.len() > MAX_CHECKS {
        return Err(Error::field(
            "checks",
            format!("at most {} checks", MAX_CHECKS),
        ));
    }
    let mut seen = BTreeSet::new();
    for c in &report.checks {
        if c.check.is_empty() || c.check.len() > MAX_ID || c.check == checks::SERVER_REACHABLE {
            return Err(Error::field(
                "checks.check",
                "a check id of 1 to 200 characters",
            ));
        }
        if c.reason.len() > MAX_TEXT || c.value.len() > MAX_TEXT {
            return Err(Error::field("checks.reason", "at most 2000 characters"));
        }
        if !seen.insert(c.check.as_str()) {
            return Err(Error::field(
                "checks.check",
                format!("{} is sent twice", c.check),
            ));
        }
    }
    let batch = app
        .store
        .batch(report.batch)
        .await?
        .ok_or(Error::NotFound("batch"))?;
    if !batch
        .assignments
        .iter()
        .any(|a| a.runbook == report.runbook)
    {
        return Err(Error::field(
            "runbook",
            "the batch does not assign this runbook",
        ));
    }
    let now = app.clock.now();
    let mut stored = report.checks;
    stored.push(CheckResult::new(
        checks::SERVER_REACHABLE,
        Verdict::Pass,
        "the device's checks reached the rehome server",
        format!("received {}", now.format("%Y-%m-%d %H:%M UTC")),
        now,
    ));
    app.store
        .replace_readiness(agent, report.batch, report.runbook, &stored, now)
        .await?;
    Ok(stored.len() as u64)
}

/// Whether the check-in answer asks `agent` for its checks: none stored yet for this batch and
/// runbook, or someone asked again since it last sent them. The first ask for a batch is recorded,
/// so the batch's page lists the device as not reported, with when it was asked.
pub async fn due(app: &App, agent: AgentId, batch: BatchId, runbook: RunbookId) -> Result<bool> {
    // Read through the store's memory of the agent: a steady check-in reads nothing.
    let view = app.store.device_view(agent, app.clock.now()).await?;
    match view.readiness_of(runbook) {
        Some(state) if state.batch == batch => Ok(state.reported_at.is_none() || state.requested),
        _ => {
            app.store
                .record_readiness_asked(agent, batch, runbook, app.clock.now())
                .await?;
            Ok(true)
        }
    }
}

/// The words of a device's status while its checks have not arrived.
pub fn not_reported_message(asked_at: DateTime<Utc>) -> String {
    format!(
        "not ready: the device has not sent its readiness checks (asked {}); the runbook starts \
         once they arrive and none of them blocks",
        asked_at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// Why `agent` may not start `runbook` of `batch`: its checks have not arrived, or are older than
/// the runbook allows, or its first blocking check that is not waived says why.
pub async fn gate(
    app: &App,
    agent: AgentId,
    batch: BatchId,
    runbook: &Runbook,
) -> Result<Option<Blocked>> {
    let now = app.clock.now();
    let held = |code: &str, message: String| {
        Some(Blocked {
            batch,
            runbook: runbook.id,
            code: code.to_string(),
            message,
        })
    };
    let state = match app.store.readiness_state(agent, runbook.id).await? {
        Some(state) if state.batch == batch => state,
        _ => {
            app.store
                .record_readiness_asked(agent, batch, runbook.id, now)
                .await?;
            return Ok(held(NOT_REPORTED, not_reported_message(now)));
        }
    };
    let Some(reported_at) = state.reported_at else {
        return Ok(held(NOT_REPORTED, not_reported_message(state.asked_at)));
    };
    let max_age = runbook.startup.readiness_max_age_hours();
    let age = now.signed_duration_since(reported_at);
    if age > chrono::Duration::hours(i64::from(max_age)) {
        return Ok(held(
            STALE,
            format!(
                "not ready: the readiness checks are {} hours old and the runbook accepts at most \
                 {}; the device takes them again before its next final check-in",
                age.num_hours(),
                max_age
            ),
        ));
    }
    let stored: Vec<CheckResult> = app
        .store
        .readiness_of_agent(agent)
        .await?
        .into_iter()
        .filter(|c| c.runbook == runbook.id)
        .map(|c| c.result)
        .collect();
    let waived: BTreeSet<String> = app
        .store
        .waivers_of_agent(agent)
        .await?
        .remove(&runbook.id)
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.check)
        .collect();
    Ok(
        first_blocking(&stored, &waived)
            .and_then(|check| held(NOT_READY, held_back_message(check))),
    )
}

/// Lets the blocking check `check` of `agent` for `runbook` pass, recorded with who and why.
pub async fn waive(
    app: &App,
    agent: AgentId,
    runbook: RunbookId,
    check: &str,
    reason: &str,
    actor: &str,
) -> Result<Waiver> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::field("reason", "say why the check may be waived"));
    }
    if reason.len() > MAX_TEXT {
        return Err(Error::field("reason", "at most 2000 characters"));
    }
    app.store
        .agent(agent)
        .await?
        .ok_or(Error::NotFound("agent"))?;
    let stored = app
        .store
        .readiness_of_agent(agent)
        .await?
        .into_iter()
        .find(|c| c.runbook == runbook && c.result.check == check)
        .ok_or(Error::NotFound("check of this runbook on this agent"))?;
    if stored.result.verdict != Verdict::Block {
        return Err(Error::Conflict(format!(
            "only a blocking check is waived; {} is {}",
            check, stored.result.verdict
        )));
    }
    let waiver = Waiver {
        check: check.to_string(),
        waived_by: actor.to_string(),
        reason: reason.to_string(),
        waived_at: app.clock.now(),
    };
    app.store.insert_waiver(agent, runbook, &waiver).await?;
    tracing::info!(agent = %agent, runbook = %runbook, check, actor, "readiness check waived");
    Ok(waiver)
}

/// Asks `agent` to take its checks again at its next check-in.
pub async fn request(app: &App, agent: AgentId) -> Result<()> {
    app.store
        .agent(agent)
        .await?
        .ok_or(Error::NotFound("agent"))?;
    app.store.request_readiness(agent, app.clock.now()).await
}
