//! Readiness on the server: the checks each device sends for a runbook of its batch, the gate
//! that keeps a device with a blocking check from starting, waivers of one check for one device,
//! and the batch's readiness as the API, the console and CSV show it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::protocol::Blocked;
use model::readiness::{
    checks, first_blocking, held_back_message, CheckResult, ReadinessReport, Verdict, MAX_CHECKS,
};
use serde::Serialize;

use crate::store::readiness::{StoredCheck, Waiver};
use crate::{App, Error, Result};

/// The code of a check-in answer that holds a runbook back for readiness.
pub const NOT_READY: &str = "not_ready";
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
/// runbook, or someone asked again since it last sent them.
pub async fn due(app: &App, agent: AgentId, batch: BatchId, runbook: RunbookId) -> Result<bool> {
    Ok(!app.store.has_readiness(agent, batch, runbook).await?
        || app.store.readiness_requested(agent).await?)
}

/// Why `agent` may not start `runbook` of `batch`: its first blocking check that is not waived.
/// A device that never sent checks is not held back here (older agents send none); the final
/// check-in of a current agent always sends them first.
pub async fn gate(
    app: &App,
    agent: AgentId,
    batch: BatchId,
    runbook: RunbookId,
) -> Result<Option<Blocked>> {
    let stored: Vec<CheckResult> = app
        .store
        .readiness_of_agent(agent)
        .await?
        .into_iter()
        .filter(|c| c.runbook == runbook)
        .map(|c| c.result)
        .collect();
    let waived: BTreeSet<String> = app
        .store
        .waivers_of_agent(agent)
        .await?
        .remove(&runbook)
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.check)
        .collect();
    Ok(first_blocking(&stored, &waived).map(|check| Blocked {
        batch,
        runbook,
        code: NOT_READY.to_string(),
        message: held_back_message(check),
    }))
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

/// Which rows of a batch's readiness to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only checks with this verdict.
    pub verdict: Option<Verdict>,
    /// Only checks whose id starts with this (`profile:` for every profile).
    pub check: Option<String>,
    /// Only devices whose name contains this, case-insensitively.
    pub device: Option<String>,
}

impl Filter {
    /// The filter of query values; an unknown verdict names the field.
    pub fn parse(
        verdict: Option<&str>,
        check: Option<&str>,
        device: Option<&str>,
    ) -> Result<Filter> {
        fn blank(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        Ok(Filter {
            verdict: blank(verdict)
                .map(|v| v.parse::<Verdict>().map_err(|e| Error::field("verdict", e)))
                .transpose()?,
            check: blank(check).map(str::to_string),
            device: blank(device).map(str::to_lowercase),
        })
    }

    fn keeps(&self, device: &str, row: &CheckRow) -> bool {
        self.verdict.is_none_or(|v| row.verdict == v.as_str())
            && self
                .check
                .as_deref()
                .is_none_or(|c| row.check.starts_with(c))
            && self
                .device
                .as_deref()
                .is_none_or(|d| device.to_lowercase().contains(d))
    }
}

/// One check of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckRow {
    /// The check's id.
    pub check: String,
    /// `pass`, `warn`, `block` or `unknown`.
    pub verdict: String,
    /// Why, in words.
    pub reason: String,
    /// The value seen on the device.
    pub value: String,
    /// When the device took it.
    pub taken_at: DateTime<Utc>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Who waived it and why, when it was.
    pub waiver: Option<Waiver>,
}

/// One device's readiness for one runbook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceReadiness {
    /// The agent.
    #[schema(value_type = uuid::Uuid)]
    pub agent: AgentId,
    /// Its computer name.
    pub device: String,
    /// The runbook the checks were taken for.
    #[schema(value_type = uuid::Uuid)]
    pub runbook: RunbookId,
    /// The worst verdict of its checks, a waived block counting as a warning.
    pub verdict: String,
    /// Why its runbook does not start, in the words of the check; none when it may.
    pub held_back: Option<String>,
    /// Its checks (those the filter keeps).
    pub checks: Vec<CheckRow>,
}

/// How many devices, by their worst verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerdictCounts {
    /// Held back by a check.
    pub block: u64,
    /// With a warning (or a waived block).
    pub warn: u64,
    /// With a check the device could not answer.
    pub unknown: u64,
    /// Every check passed.
    pub pass: u64,
}

/// Devices held back by one check for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BlockingReason {
    /// The check's id (`profile:` checks are grouped as one).
    pub check: String,
    /// The reason.
    pub reason: String,
    /// How many devices.
    pub devices: u64,
}

/// A batch's readiness.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReadiness {
    /// The batch.
    #[schema(value_type = uuid::Uuid)]
    pub batch: BatchId,
    /// Its name.
    pub name: String,
    /// Devices that sent checks.
    pub reported: u64,
    /// Those devices by their worst verdict (over every check, not only the filtered ones).
    pub counts: VerdictCounts,
    /// The reasons devices are held back, most devices first.
    pub blocking: Vec<BlockingReason>,
    /// The devices with at least one check the filter keeps, by name.
    pub devices: Vec<DeviceReadiness>,
}

fn worst(rows: &[CheckRow]) -> Verdict {
    let effective = |r: &CheckRow| match r.verdict.parse::<Verdict>() {
        Ok(Verdict::Block) if r.waiver.is_some() => Verdict::Warn,
        Ok(v) => v,
        Err(_) => Verdict::Unknown,
    };
    Verdict::ALL
        .into_iter()
        .find(|v| rows.iter().any(|r| effective(r) == *v))
        .unwrap_or(Verdict::Pass)
}

/// The readiness of `batch`, its devices' checks kept by `filter`.
pub async fn of_batch(app: &App, batch: BatchId, filter: &Filter) -> Result<BatchReadiness> {
    let b = app
        .store
        .batch(batch)
        .await?
        .ok_or(Error::NotFound("batch"))?;
    let stored = app.store.readiness_of_batch(batch).await?;
    let waived = app.store.waivers_of_batch(batch).await?;
    let names: HashMap<AgentId, String> = app
        .store
        .agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.computer_name))
        .collect();
    // Waivers in full only for the devices that have one (few): who and why.
    let mut waivers: HashMap<AgentId, BTreeMap<RunbookId, Vec<Waiver>>> = HashMap::new();
    for (agent, _) in waived.keys() {
        if !waivers.contains_key(agent) {
            waivers.insert(*agent, app.store.waivers_of_agent(*agent).await?);
        }
    }
    let mut per_device: BTreeMap<(AgentId, RunbookId), Vec<StoredCheck>> = BTreeMap::new();
    for c in stored {
        per_device.entry((c.agent, c.runbook)).or_default().push(c);
    }
    let mut counts = VerdictCounts::default();
    let mut reasons: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut devices = Vec::new();
    for ((agent, runbook), rows) in per_device {
        let name = names
            .get(&agent)
            .cloned()
            .unwrap_or_else(|| agent.to_string());
        let device_waivers = waivers.get(&agent).and_then(|w| w.get(&runbook));
        let mut d = device(agent, name, runbook, rows, device_waivers);
        match d.verdict.parse::<Verdict>() {
            Ok(Verdict::Block) => counts.block += 1,
            Ok(Verdict::Warn) => counts.warn += 1,
            Ok(Verdict::Pass) => counts.pass += 1,
            _ => counts.unknown += 1,
        }
        let held = d
            .checks
            .iter()
            .find(|r| r.verdict == Verdict::Block.as_str() && r.waiver.is_none());
        if let Some(r) = held {
            let group = if r.check.starts_with("profile:") {
                "profile:*".to_string()
            } else {
                r.check.clone()
            };
            *reasons.entry((group, r.reason.clone())).or_default() += 1;
        }
        let device_name = d.device.clone();
        d.checks.retain(|r| filter.keeps(&device_name, r));
        if !d.checks.is_empty() {
            devices.push(d);
        }
    }
    devices.sort_by(|a, b| a.device.cmp(&b.device).then(a.runbook.cmp(&b.runbook)));
    let mut blocking: Vec<BlockingReason> = reasons
        .into_iter()
        .map(|((check, reason), devices)| BlockingReason {
            check,
            reason,
            devices,
        })
        .collect();
    blocking.sort_by(|a, b| b.devices.cmp(&a.devices).then(a.check.cmp(&b.check)));
    Ok(BatchReadiness {
        batch,
        name: b.name,
        reported: counts.block + counts.warn + counts.unknown + counts.pass,
        counts,
        blocking,
        devices,
    })
}

/// The rows of `readiness` as CSV: one line per check the filter kept.
pub fn csv(readiness: &BatchReadiness) -> Result<String> {
    crate::csv_export::write(
        [
            "device",
            "agent",
            "runbook",
            "check",
            "verdict",
            "reason",
            "value",
            "taken_at",
            "waived_by",
            "waiver_reason",
        ],
        readiness.devices.iter().flat_map(|d| {
            d.checks.iter().map(move |c| {
                [
                    d.device.clone(),
                    d.agent.to_string(),
                    d.runbook.to_string(),
                    c.check.clone(),
                    c.verdict.clone(),
                    c.reason.clone(),
                    c.value.clone(),
                    c.taken_at.to_rfc3339(),
                    c.waiver
                        .as_ref()
                        .map(|w| w.waived_by.clone())
                        .unwrap_or_default(),
                    c.waiver
                        .as_ref()
                        .map(|w| w.reason.clone())
                        .unwrap_or_default(),
                ]
            })
        }),
    )
}

/// The readiness of one device for one runbook from its stored checks and waivers.
fn device(
    agent: AgentId,
    name: String,
    runbook: RunbookId,
    rows: Vec<StoredCheck>,
    waivers: Option<&Vec<Waiver>>,
) -> DeviceReadiness {
    let rows: Vec<CheckRow> = rows
        .into_iter()
        .map(|c| CheckRow {
            waiver: waivers
                .and_then(|w| w.iter().find(|w| w.check == c.result.check))
                .cloned(),
            check: c.result.check,
            verdict: c.result.verdict.as_str().to_string(),
            reason: c.result.reason,
            value: c.result.value,
            taken_at: c.result.taken_at,
            received_at: c.received_at,
        })
        .collect();
    let held_back = rows
        .iter()
        .find(|r| r.verdict == Verdict::Block.as_str() && r.waiver.is_none())
        .map(|r| {
            held_back_message(&CheckResult::new(
                r.check.clone(),
                Verdict::Block,
                r.reason.clone(),
                r.value.clone(),
                r.taken_at,
            ))
        });
    DeviceReadiness {
        agent,
        device: name,
        runbook,
        verdict: worst(&rows).as_str().to_string(),
        held_back,
        checks: rows,
    }
}

/// One device's readiness for every runbook it sent checks for, for Agent Details.
pub async fn of_agent(app: &App, agent: AgentId) -> Result<Vec<DeviceReadiness>> {
    let a = app
        .store
        .agent(agent)
        .await?
        .ok_or(Error::NotFound("agent"))?;
    let waivers = app.store.waivers_of_agent(agent).await?;
    let mut per_runbook: BTreeMap<RunbookId, Vec<StoredCheck>> = BTreeMap::new();
    for c in app.store.readiness_of_agent(agent).await? {
        per_runbook.entry(c.runbook).or_default().push(c);
    }
    Ok(per_runbook
        .into_iter()
        .map(|(runbook, rows)| {
            device(
                agent,
                a.computer_name.clone(),
                runbook,
                rows,
                waivers.get(&runbook),
            )
        })
        .collect())
}
